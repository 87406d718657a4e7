// What the plan executor and the quantized-output path both need to launch the gather kernels for one piece:
// the generic kernel's arguments for an element range of a piece, and the grid size for a number of items.
#pragma once

#include <algorithm>
#include <cstdint>

#include "../plan.h"
#include "kernels.cuh"

namespace mcore::cuda {

/** GenericArgs for elements [lo, hi) of `pc` (src and dst are the caller's device buffers; offsets in bytes). */
inline GenericArgs genericArgsFor(const Piece& pc, int64_t lo, int64_t hi, int64_t srcOff, int64_t dstOff) {
  GenericArgs g{};
  g.srcOff = srcOff;
  g.dstOff = dstOff;
  g.lo = lo;
  g.hi = hi;
  g.rank = pc.rank;
  for (int d = 0; d < pc.rank; d++) {
    g.shape[d] = pc.shape[d];
    g.ss[d] = pc.srcStrides[d];
    g.ds[d] = pc.dstStrides[d];
  }
  g.affine = pc.affine;
  return g;
}

/** One block per `threads` items, at most 32 resident blocks' worth per SM (grid-stride loops cover the rest). */
inline int blocksFor(int64_t items, int threads, int sms) {
  int64_t b = (items + threads - 1) / threads;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(b, static_cast<int64_t>(std::max(1, sms)) * 32)));
}

}  // namespace mcore::cuda
