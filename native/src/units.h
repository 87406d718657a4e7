// The unit scheduler both executors share (executor.cc on the CPU, cuda/device_executor.cu on GPUs): how an
// output's data section is cut into units, which tensor elements and piece ranges a unit holds (and that the
// pieces cover each tensor exactly), which source elements a piece range reads, and when each output's units
// are all written (write-behind, then fsync). How a unit's bytes are computed stays with each executor.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gather.h"
#include "native_error.h"
#include "plan.h"
#include "window.h"

namespace mcore {

/** A unit: the file byte range [begin, end) of one output. */
struct UnitSpan {
  int output;
  uint64_t begin, end;
};

/** `end` (< the output's size) moved down to an element boundary of the tensor it falls in; for a quantized
 *  tensor to a block-row boundary when [at, end) holds at least one. Kept when moving it would leave nothing. */
uint64_t cutUnitEnd(const Plan& plan, const Output& out, uint64_t at, uint64_t end);

/** Each output's data section cut into units of about `unitBytes` (cutUnitEnd), in file order, output after output. */
std::vector<UnitSpan> cutUnits(const Plan& plan, uint64_t unitBytes);

/** Source element (relative to the piece's srcBase) that element k of a piece reads. */
int64_t sourceElement(const Piece& pc, int64_t k);

/** The source elements [minEl, maxEl] elements [lo, hi) (hi > lo) of a piece may read: exact for the dims before
 *  the first where lo and hi-1 differ, the whole extent after it (a superset of at most a few rows). */
void sourceElementRange(const Piece& pc, int64_t lo, int64_t hi, int64_t& minEl, int64_t& maxEl);

/**
 * For every tensor in the unit, calls onTensor(tensor, e0, e1) (the unit holds its elements [e0, e1)), then,
 * unless the tensor is quantized (it has no pieces), onPart(piece, lo, hi) for each of its pieces that may have
 * elements [lo, hi) there, in output order. Throws NativeError E_FORMAT when a tensor's parts do not add up to
 * its elements in the unit (pieces that overlap or leave gaps).
 */
template <typename OnTensor, typename OnPart>
void forEachPart(const Plan& plan, const UnitSpan& u, OnTensor&& onTensor, OnPart&& onPart) {
  const Output& out = plan.outputs[u.output];
  // first tensor ending after u.begin
  auto it = std::upper_bound(out.tensors.begin(), out.tensors.end(), u.begin, [&](uint64_t at, int ti) {
    return at < plan.tensors[ti].byteStart + plan.tensors[ti].byteLength;
  });
  for (; it != out.tensors.end(); ++it) {
    const Tensor& t = plan.tensors[*it];
    if (t.byteStart >= u.end) break;
    uint64_t size = static_cast<uint64_t>(itemsize(t.dtype));
    uint64_t b = std::max(u.begin, t.byteStart), e = std::min(u.end, t.byteStart + t.byteLength);
    int64_t e0 = static_cast<int64_t>((b - t.byteStart) / size), e1 = static_cast<int64_t>((e - t.byteStart) / size);
    onTensor(t, e0, e1);
    if (t.quant >= 0) continue;
    int64_t covered = 0;
    for (int pi : t.pieces) {
      const Piece& pc = plan.pieces[pi];
      if (pc.dmin >= e1) break;
      if (pc.dmax < e0) continue;
      int64_t lo = firstAtOrAfter(pc, e0), hi = firstAtOrAfter(pc, e1);
      onPart(pi, lo, hi);
      covered += hi - lo;
    }
    if (covered != e1 - e0) {
      throw NativeError("E_FORMAT", "tensor " + t.name + " in " + out.path + ": its pieces overlap or leave gaps near element " + std::to_string(e0));
    }
  }
}

/**
 * Completion of each output's units, which finish out of order on many threads: write-behind of the written
 * prefix (WriteBehind), and the fsync of an output once its last unit is written. Thread-safe.
 */
class OutputCompletion {
 public:
  /** `units` in file order, output after output (cutUnits); `fds[o]`: output o, with its header written. */
  OutputCompletion(const Plan& plan, std::vector<int> fds, const std::vector<UnitSpan>& units);
  /** Unit i is written; true when it was its output's last, and the caller then calls finish(output). */
  bool written(size_t i);
  /** Flushes a complete output to stable storage, then drops its clean pages from the page cache. */
  void finish(int output);
  /** Finishes the next output that has no units (header only); false once none is left. Threads may share it. */
  bool finishNextEmpty();

 private:
  const Plan& plan_;
  std::vector<int> fds_;
  std::vector<int> outputOf_;       // per unit
  std::vector<size_t> firstUnit_;   // per output: index of its first unit
  std::vector<int64_t> unitCount_;  // per output
  std::vector<std::unique_ptr<WriteBehind>> writeBehind_;
  std::unique_ptr<std::atomic<int64_t>[]> unitsLeft_;
  std::atomic<size_t> nextEmpty_{0};
};

}  // namespace mcore
