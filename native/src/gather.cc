#include "gather.h"

#include <algorithm>
#include <cstdlib>

namespace mcore {

namespace {
// Tile edge for transposed copies: 32×32 elements keep both the source lines and the output rows of a tile
// in L1 while the strided side is walked.
constexpr int64_t kTile = kTileEdge;
}  // namespace

int64_t outputPosition(const Piece& pc, int64_t k) {
  int64_t pos = pc.dstOffset;
  for (int d = pc.rank - 1; d >= 0 && k > 0; d--) {
    int64_t i = k % pc.shape[d];
    k /= pc.shape[d];
    pos += i * pc.dstStrides[d];
  }
  return pos;
}

int64_t firstAtOrAfter(const Piece& pc, int64_t e) {
  if (e <= pc.dmin) return 0;
  if (e > pc.dmax) return pc.numel;
  int64_t lo = 0, hi = pc.numel;  // answer in (lo, hi]
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (outputPosition(pc, mid) >= e) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

void gatherRange(const Piece& pc, int64_t lo, int64_t hi, uint8_t* window, int64_t e0) {
  if (lo >= hi) return;
  const int r = pc.rank;
  int64_t idx[kMaxRank];
  int64_t k = lo;
  for (int d = r - 1; d >= 0; d--) {
    idx[d] = k % pc.shape[d];
    k /= pc.shape[d];
  }
  const int64_t cols = pc.shape[r - 1];
  const int64_t ssC = pc.srcStrides[r - 1] * pc.srcSize;
  const int64_t dsC = pc.dstStrides[r - 1] * pc.dstSize;
  // a transposed source: the inner output dim walks the source with a long stride while the next dim is dense
  const bool tiled = r >= 2 && cols >= kTile && std::llabs(pc.srcStrides[r - 1]) > 1 &&
                     std::llabs(pc.srcStrides[r - 2]) < std::llabs(pc.srcStrides[r - 1]);
  k = lo;
  while (k < hi) {
    int64_t srcEl = 0, dstEl = pc.dstOffset - e0;
    for (int d = 0; d < r; d++) {
      srcEl += idx[d] * pc.srcStrides[d];
      dstEl += idx[d] * pc.dstStrides[d];
    }
    const uint8_t* src = pc.srcBase + srcEl * pc.srcSize;
    uint8_t* dst = window + dstEl * pc.dstSize;
    int64_t rows = 1, count;
    if (tiled && idx[r - 1] == 0 && (rows = std::min(pc.shape[r - 2] - idx[r - 2], (hi - k) / cols)) >= 2) {
      const int64_t ssR = pc.srcStrides[r - 2] * pc.srcSize;
      const int64_t dsR = pc.dstStrides[r - 2] * pc.dstSize;
      for (int64_t i0 = 0; i0 < rows; i0 += kTile) {
        int64_t ni = std::min(kTile, rows - i0);
        for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
          int64_t nj = std::min(kTile, cols - j0);
          if (dsC == pc.dstSize) {
            pc.tile(src + i0 * ssR + j0 * ssC, ssR, ssC, dst + i0 * dsR + j0 * dsC, dsR, ni, nj, pc.affine);
          } else {
            for (int64_t i = i0; i < i0 + ni; i++) pc.run(src + i * ssR + j0 * ssC, ssC, dst + i * dsR + j0 * dsC, dsC, nj, pc.affine);
          }
        }
      }
      count = rows * cols;
      idx[r - 2] += rows;
    } else {
      count = std::min(cols - idx[r - 1], hi - k);
      pc.run(src, ssC, dst, dsC, count, pc.affine);
      idx[r - 1] += count;
      if (idx[r - 1] < cols) break;  // only the last run of a range ends mid-row
      idx[r - 1] = 0;
      if (r >= 2) idx[r - 2] += 1;
    }
    k += count;
    for (int d = r - 2; d > 0 && idx[d] >= pc.shape[d]; d--) {  // carry
      idx[d] = 0;
      idx[d - 1] += 1;
    }
  }
}

}  // namespace mcore
