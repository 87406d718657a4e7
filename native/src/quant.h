// Quantized output tensors on the CPU: a unit holding bytes of a quantized tensor gathers the block rows they
// come from (the logical source's pieces, cast to f32) and runs quant_core.h over them. Memory stays bounded by
// one block row (blockRows × cols floats and its output bytes) per thread, whatever the tensor's size.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include <string>

#include "gather.h"
#include "native_error.h"
#include "plan.h"

namespace mcore {

/** Called for each piece part read from a quantized tensor's source (piece, lo, hi): lets the caller drop pages. */
using OnSourceRead = std::function<void(int piece, int64_t lo, int64_t hi)>;

/** Calls fn(piece, lo, hi) for each part of the pieces of logical tensor `src` that writes elements [e0, e1);
 *  throws E_FORMAT unless the parts cover the range exactly once. */
template <typename Fn>
void forEachSourcePart(const Plan& plan, const Tensor& src, int64_t e0, int64_t e1, Fn&& fn) {
  int64_t covered = 0;
  for (int pi : src.pieces) {
    const Piece& pc = plan.pieces[pi];
    if (pc.dmin >= e1) break;
    if (pc.dmax < e0) continue;
    int64_t lo = firstAtOrAfter(pc, e0), hi = firstAtOrAfter(pc, e1);
    if (hi <= lo) continue;
    fn(pi, lo, hi);
    covered += hi - lo;
  }
  if (covered != e1 - e0) throw NativeError("E_FORMAT", "quantization source of " + src.name + ": its pieces overlap or leave gaps near element " + std::to_string(e0));
}

/** Elements [e0, e1) of a logical tensor (output -1, f32) into `out`. Throws E_FORMAT when its pieces leave gaps. */
void gatherLogical(const Plan& plan, const Tensor& src, int64_t e0, int64_t e1, float* out, const OnSourceRead& onRead);

/** The output bytes of block row `br` (q.granule bytes, fewer for a last partial block row) from its rows. */
void quantizeBlockRow(const Quant& q, int64_t br, const float* rows, uint8_t* out);

/** Bytes [b0, b1) of the quantized tensor of `q` (offsets inside the tensor) into `out`. */
void quantizeRange(const Plan& plan, const Quant& q, uint64_t b0, uint64_t b1, uint8_t* out, const OnSourceRead& onRead);

/** Bytes of block row `br` of a quantized tensor (its last one may be shorter than q.granule). */
uint64_t blockRowBytes(const Quant& q, int64_t br);

}  // namespace mcore
