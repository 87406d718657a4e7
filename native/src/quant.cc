#include "quant.h"

#include <algorithm>
#include <cstring>
#include <string>


namespace mcore {

void gatherLogical(const Plan& plan, const Tensor& src, int64_t e0, int64_t e1, float* out, const OnSourceRead& onRead) {
  forEachSourcePart(plan, src, e0, e1, [&](int pi, int64_t lo, int64_t hi) {
    gatherRange(plan.pieces[pi], lo, hi, reinterpret_cast<uint8_t*>(out), e0);
    if (onRead) onRead(pi, lo, hi);
  });
}

uint64_t blockRowBytes(const Quant& q, int64_t br) {
  if (q.scales) return q.granule;
  int64_t rows = std::min(q.spec.blockRows, q.spec.rows - br * q.spec.blockRows);
  return static_cast<uint64_t>(rows * q.spec.valueRowBytes());
}

namespace {

// one kind per loop, so that the compiler can keep it branch-free (and vectorise the integer kinds)
template <QuantKind K>
void codeRun(const float* w, int64_t c0, int64_t c1, float s, uint8_t* row) {
  if constexpr (K == QuantKind::Int4) {
    // blockCols and cols are even: a byte's two columns share a block
    for (int64_t c = c0; c < c1; c += 2) row[c / 2] = static_cast<uint8_t>(quantCodeOf<K>(w[c], s) | (quantCodeOf<K>(w[c + 1], s) << 4));
  } else {
    for (int64_t c = c0; c < c1; c++) row[c] = quantCodeOf<K>(w[c], s);
  }
}

}  // namespace

void quantizeBlockRow(const Quant& q, int64_t br, const float* rows, uint8_t* out) {
  const QuantSpec& sp = q.spec;
  const int64_t r0 = br * sp.blockRows, nr = std::min(sp.blockRows, sp.rows - r0);
  const int64_t nb = sp.blocksPerRow(), rowBytes = sp.valueRowBytes();
  const int scaleSize = itemsize(sp.scaleDtype);
  for (int64_t b = 0; b < nb; b++) {
    const int64_t c0 = b * sp.blockCols, c1 = std::min(sp.cols, c0 + sp.blockCols);
    float amax = 0.0f;
    for (int64_t r = 0; r < nr; r++)
      for (int64_t c = c0; c < c1; c++) amax = quantAbsMax(amax, rows[r * sp.cols + c]);
    const float s = quantScale(amax, sp.kind, sp.scaleDtype);
    if (q.scales) {
      storeScale(s, sp.scaleDtype, out + b * scaleSize);
      continue;
    }
    for (int64_t r = 0; r < nr; r++) {
      const float* w = rows + r * sp.cols;
      uint8_t* o = out + r * rowBytes;
      switch (sp.kind) {
        case QuantKind::Int8: codeRun<QuantKind::Int8>(w, c0, c1, s, o); break;
        case QuantKind::Int4: codeRun<QuantKind::Int4>(w, c0, c1, s, o); break;
        case QuantKind::Fp8E4M3: codeRun<QuantKind::Fp8E4M3>(w, c0, c1, s, o); break;
      }
    }
  }
}

void quantizeRange(const Plan& plan, const Quant& q, uint64_t b0, uint64_t b1, uint8_t* out, const OnSourceRead& onRead) {
  const QuantSpec& sp = q.spec;
  const Tensor& src = plan.tensors[q.source];
  // block rows are gathered kChunkFloats at a time (at least one block row): one gather and one page release per
  // chunk instead of per row, which for per-channel rows of a few KiB would mean a system call and re-faulted
  // shared pages per row
  constexpr int64_t kChunkFloats = 1 << 20;
  const int64_t perChunk = std::max<int64_t>(1, kChunkFloats / (sp.blockRows * sp.cols));
  thread_local std::vector<float> rows;
  thread_local std::vector<uint8_t> bytes;
  rows.resize(static_cast<size_t>(perChunk * sp.blockRows * sp.cols));
  bytes.resize(q.granule);
  const int64_t first = static_cast<int64_t>(b0 / q.granule);
  const int64_t last = std::min(sp.blockRowCount() - 1, static_cast<int64_t>((b1 - 1) / q.granule));
  for (int64_t c0 = first; c0 <= last; c0 += perChunk) {
    const int64_t c1 = std::min(last + 1, c0 + perChunk);
    const int64_t r0 = c0 * sp.blockRows, r1 = std::min(sp.rows, c1 * sp.blockRows);
    gatherLogical(plan, src, r0 * sp.cols, r1 * sp.cols, rows.data(), onRead);
    for (int64_t br = c0; br < c1; br++) {
      const uint64_t at = static_cast<uint64_t>(br) * q.granule;
      const uint64_t n = blockRowBytes(q, br);
      const bool whole = at >= b0 && at + n <= b1;
      uint8_t* dst = whole ? out + (at - b0) : bytes.data();
      quantizeBlockRow(q, br, rows.data() + (br - c0) * sp.blockRows * sp.cols, dst);
      if (!whole) {
        uint64_t from = std::max(at, b0), to = std::min(at + n, b1);
        std::memcpy(out + (from - b0), bytes.data() + (from - at), to - from);
      }
    }
  }
}

}  // namespace mcore
