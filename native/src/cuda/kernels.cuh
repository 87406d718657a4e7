// Gather + cast kernels of the CUDA executor. Every element goes through cast_core.h's convertValue (the code the
// CPU executor runs), so both round identically. Addresses are `base + (byteOffset + element * size)` with the
// sum formed in 64-bit integers: the offsets of a piece's element 0 may lie outside the staged span, the
// elements actually read never do.
//   rowsKernel: rows that are contiguous on both sides (rank-1 runs, row slices): 16-byte vector loads and
//               stores, the unaligned head/tail of each row element by element
//   tileKernel: transposed views: 64×64 tiles through shared memory, reads coalesced along the source's dense
//               dim and writes along the output's
//   genericKernel: anything else (and heads/tails of partial rows), one element per thread
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../cast_core.h"

namespace mcore::cuda {

constexpr int kMaxDims = 16;

/** Row r (counted from the range's first full row) → element offsets of its column 0 on both sides. */
struct RowMap {
  int64_t first = 0;  // global index of the first row
  int rank = 0;       // outer dims (row-major), 0 for a single row
  int64_t shape[kMaxDims] = {};
  int64_t ss[kMaxDims] = {};
  int64_t ds[kMaxDims] = {};
};

__device__ __forceinline__ void rowOffsets(const RowMap& m, int64_t r, int64_t& so, int64_t& dso) {
  int64_t g = m.first + r;
  so = 0;
  dso = 0;
  for (int d = m.rank - 1; d >= 0; d--) {
    int64_t i = g % m.shape[d];
    g /= m.shape[d];
    so += i * m.ss[d];
    dso += i * m.ds[d];
  }
}

struct RowsArgs {
  const uint8_t* src;
  uint8_t* dst;
  int64_t srcOff, dstOff;  // bytes to element (row 0, column 0) of the map
  int64_t nrows, cols;
  int64_t head, nvec;      // per row: `head` scalar elements, then `nvec` vectors, then the rest scalar
  RowMap rows;
  Affine affine;
};

struct TileArgs {
  const uint8_t* src;
  uint8_t* dst;
  int64_t srcOff, dstOff;
  int64_t nrows, cols;
  int64_t ssCol, dsCol;  // element strides along a row
  RowMap rows;
  Affine affine;
};

struct GenericArgs {
  const uint8_t* src;
  uint8_t* dst;
  int64_t srcOff, dstOff;  // bytes to the piece's element 0
  int64_t lo, hi;          // row-major element range of the piece
  int rank;
  int64_t shape[kMaxDims], ss[kMaxDims], ds[kMaxDims];
  Affine affine;
};

template <DType S, DType D, bool Aff>
struct CastOp {
  using ST = typename Storage<S>::T;
  using DT = typename Storage<D>::T;
  static __device__ __forceinline__ DT apply(ST v, const Affine& a) { return convertValue<S, D, Aff>(v, a); }
};

template <typename U> struct CopyOp {
  using ST = U;
  using DT = U;
  static __device__ __forceinline__ U apply(U v, const Affine&) { return v; }
};

template <class Op>
struct Vec {
  using ST = typename Op::ST;
  using DT = typename Op::DT;
  static constexpr int kMin = sizeof(ST) < sizeof(DT) ? sizeof(ST) : sizeof(DT);
  static constexpr int V = 16 / kMin;  // elements per vector: 16 bytes on the narrower side
  static constexpr int kSrcWords = V * sizeof(ST) / 16;
  static constexpr int kDstWords = V * sizeof(DT) / 16;
};

// Scalar accesses: staged sources are element-aligned by construction, but a tensor's place in a safetensors
// file need not be a multiple of its element size, so both sides fall back to bytes when misaligned.
template <typename T>
__device__ __forceinline__ T loadElem(const uint8_t* p) {
  if constexpr (sizeof(T) == 1) {
    return *p;
  } else {
    if ((reinterpret_cast<uintptr_t>(p) & (sizeof(T) - 1)) == 0) return *reinterpret_cast<const T*>(p);
    T v = 0;  // byte by byte (memcpy may be lowered to one misaligned wide access)
#pragma unroll
    for (int i = 0; i < static_cast<int>(sizeof(T)); i++) v |= static_cast<T>(static_cast<T>(p[i]) << (8 * i));
    return v;
  }
}
template <typename T>
__device__ __forceinline__ void storeElem(uint8_t* p, T v) {
  if constexpr (sizeof(T) == 1) {
    *p = v;
  } else {
    if ((reinterpret_cast<uintptr_t>(p) & (sizeof(T) - 1)) == 0) {
      *reinterpret_cast<T*>(p) = v;
    } else {
#pragma unroll
      for (int i = 0; i < static_cast<int>(sizeof(T)); i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
    }
  }
}

template <class Op>
__global__ void __launch_bounds__(256) rowsKernel(RowsArgs a) {
  using ST = typename Op::ST;
  using DT = typename Op::DT;
  using W = Vec<Op>;
  const int64_t perRow = a.nvec + (a.cols - a.nvec * W::V);
  const int64_t total = a.nrows * perRow;
  for (int64_t w = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; w < total; w += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t r = w / perRow, i = w - r * perRow;
    int64_t so, dso;
    rowOffsets(a.rows, r, so, dso);
    const int64_t sRow = a.srcOff + so * static_cast<int64_t>(sizeof(ST));
    const int64_t dRow = a.dstOff + dso * static_cast<int64_t>(sizeof(DT));
    if (i < a.nvec) {
      const int64_t c = a.head + i * W::V;
      const uint4* sp = reinterpret_cast<const uint4*>(a.src + (sRow + c * static_cast<int64_t>(sizeof(ST))));
      uint4* dp = reinterpret_cast<uint4*>(a.dst + (dRow + c * static_cast<int64_t>(sizeof(DT))));
      uint4 in[W::kSrcWords];
#pragma unroll
      for (int k = 0; k < W::kSrcWords; k++) in[k] = __ldg(sp + k);
      const ST* sv = reinterpret_cast<const ST*>(in);
      uint4 out[W::kDstWords];
      DT* dv = reinterpret_cast<DT*>(out);
#pragma unroll
      for (int k = 0; k < W::V; k++) dv[k] = Op::apply(sv[k], a.affine);
#pragma unroll
      for (int k = 0; k < W::kDstWords; k++) dp[k] = out[k];
    } else {
      int64_t j = i - a.nvec;
      int64_t c = j < a.head ? j : a.nvec * W::V + j;
      ST v = loadElem<ST>(a.src + (sRow + c * static_cast<int64_t>(sizeof(ST))));
      storeElem<DT>(a.dst + (dRow + c * static_cast<int64_t>(sizeof(DT))), Op::apply(v, a.affine));
    }
  }
}

// 64×64 tiles for 256 threads: 16 elements per thread keep enough bytes in flight for 1- and 2-byte types.
constexpr int kTile = 64;
constexpr int kTileLanes = 32;
constexpr int kTileRowsPerPass = 8;

template <class Op>
__global__ void __launch_bounds__(kTileLanes * kTileRowsPerPass) tileKernel(TileArgs a) {
  using ST = typename Op::ST;
  using DT = typename Op::DT;
  __shared__ ST tile[kTile][kTile + 1];  // [column][row], padded against bank conflicts
  __shared__ int64_t rowSrc[kTile], rowDst[kTile];  // byte offsets of each tile row's column 0 (64-bit div/mod once)
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t ssB = a.ssCol * static_cast<int64_t>(sizeof(ST)), dsB = a.dsCol * static_cast<int64_t>(sizeof(DT));
  const int64_t rowTiles = (a.nrows + kTile - 1) / kTile, colTiles = (a.cols + kTile - 1) / kTile;
  for (int64_t tr = blockIdx.y; tr < rowTiles; tr += gridDim.y) {
    const int64_t r0 = tr * kTile;
    const int nr = static_cast<int>(a.nrows - r0 < kTile ? a.nrows - r0 : kTile);
    if (ty == 0) {
      for (int i = tx; i < nr; i += kTileLanes) {
        int64_t so, dso;
        rowOffsets(a.rows, r0 + i, so, dso);
        rowSrc[i] = a.srcOff + so * static_cast<int64_t>(sizeof(ST));
        rowDst[i] = a.dstOff + dso * static_cast<int64_t>(sizeof(DT));
      }
    }
    __syncthreads();
    for (int64_t tc = blockIdx.x; tc < colTiles; tc += gridDim.x) {
      const int64_t c0 = tc * kTile;
      const int nc = static_cast<int>(a.cols - c0 < kTile ? a.cols - c0 : kTile);
      // load: lanes walk rows, which are dense in the source
      const uint8_t* colBase = a.src + c0 * ssB;
      if (nr == kTile && nc == kTile) {
#pragma unroll
        for (int i = tx; i < kTile; i += kTileLanes) {
          const uint8_t* p = colBase + rowSrc[i];
#pragma unroll
          for (int j = ty; j < kTile; j += kTileRowsPerPass) tile[j][i] = loadElem<ST>(p + j * ssB);
        }
      } else {
        for (int i = tx; i < nr; i += kTileLanes)
          for (int j = ty; j < nc; j += kTileRowsPerPass) tile[j][i] = loadElem<ST>(colBase + rowSrc[i] + j * ssB);
      }
      __syncthreads();
      // store: lanes walk columns, which are dense in the output
      uint8_t* dstBase = a.dst + c0 * dsB;
      if (nr == kTile && nc == kTile) {
#pragma unroll
        for (int j = tx; j < kTile; j += kTileLanes) {
          uint8_t* q = dstBase + j * dsB;
#pragma unroll
          for (int i = ty; i < kTile; i += kTileRowsPerPass) storeElem<DT>(q + rowDst[i], Op::apply(tile[j][i], a.affine));
        }
      } else {
        for (int j = tx; j < nc; j += kTileLanes)
          for (int i = ty; i < nr; i += kTileRowsPerPass) storeElem<DT>(dstBase + j * dsB + rowDst[i], Op::apply(tile[j][i], a.affine));
      }
      __syncthreads();
    }
  }
}

template <class Op>
__global__ void __launch_bounds__(256) genericKernel(GenericArgs a) {
  using ST = typename Op::ST;
  using DT = typename Op::DT;
  for (int64_t k = a.lo + blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < a.hi; k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t rest = k, so = 0, dso = 0;
    for (int d = a.rank - 1; d >= 0; d--) {
      int64_t i = rest % a.shape[d];
      rest /= a.shape[d];
      so += i * a.ss[d];
      dso += i * a.ds[d];
    }
    ST v = loadElem<ST>(a.src + (a.srcOff + so * static_cast<int64_t>(sizeof(ST))));
    storeElem<DT>(a.dst + (a.dstOff + dso * static_cast<int64_t>(sizeof(DT))), Op::apply(v, a.affine));
  }
}

/** Host-side launchers for one (source dtype, output dtype, affine) combination. */
struct KernelSet {
  void (*rows)(const RowsArgs&, int blocks, cudaStream_t);
  void (*tile)(const TileArgs&, dim3 grid, cudaStream_t);
  void (*generic)(const GenericArgs&, int blocks, cudaStream_t);
  int vec;  // elements per vector of rowsKernel
};

/** nullptr when the combination is unsupported (as selectRun). */
const KernelSet* selectKernels(DType src, DType dst, bool affine);

}  // namespace mcore::cuda
