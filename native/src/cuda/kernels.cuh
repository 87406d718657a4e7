// Gather + cast kernels of the CUDA executor. Every element goes through cast_core.h's convertValue (the code the
// CPU executor runs), so both round identically. Addresses are `base + (byteOffset + element * size)` with the
// sum formed in 64-bit integers: the offsets of a piece's element 0 may lie outside the staged span, the
// elements actually read never do.
//   rowsKernel: rows that are contiguous on both sides (rank-1 runs, row slices): 16-byte vector loads and
//               stores, the unaligned head/tail of each row element by element
//   tileKernel: transposed views: 64×64 tiles through shared memory, reads coalesced along the source's dense
//               dim and writes along the output's; 2-byte outputs (and 2-byte sources) move as 32-bit pairs
//               where the tile's rows allow it
//   genericKernel: anything else (and heads/tails of partial rows), one element per thread
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

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
  for (int d = m.rank - 1; d > 0; d--) {
    int64_t i = g % m.shape[d];
    g /= m.shape[d];
    so += i * m.ss[d];
    dso += i * m.ds[d];
  }
  // the outermost index needs no modulo: rows never run past the piece (g < shape[0] here), so rank-1 maps
  // (every 2-D tensor) take no 64-bit division at all
  if (m.rank > 0) {
    so += g * m.ss[0];
    dso += g * m.ds[0];
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

// Device-only fast paths for the casts that were ALU-bound, each equal to convertValue on every input: the
// kernel bench compares them with the shared code on the device over all 2^32 input words, and
// test/gpu/run-gpu-checks.mjs compares every f16 pattern and f32's specials with the CPU. Building with
// -DMCORE_CUDA_HW_CASTS=0 leaves only the shared code. The instructions exist from sm_80 (cvt.rn.bf16x2.f32) and
// sm_89 (cvt...e4m3x2.f32): each function takes the shared code when compiled for an older architecture, so one
// build (CMakeLists.txt's architecture list) serves every GPU.
#ifndef MCORE_CUDA_HW_CASTS
#define MCORE_CUDA_HW_CASTS 1
#endif

/** Two f16 (element 0 in the low half) → two bf16, as convertValue<F16, BF16>. */
__device__ __forceinline__ uint32_t f16x2ToBf16x2(uint32_t w) {
  // cvt.f32.f16 is exact (subnormals too) and cvt.rn.bf16x2.f32 rounds to nearest even, as floatToBf16; only
  // NaN differs (the hardware writes 0x7FFF), so NaN halves get torch's 0x7FC0 for an f16 source
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ < 800
  return convertValue<DType::F16, DType::BF16, false>(static_cast<uint16_t>(w), Affine{}) |
         (static_cast<uint32_t>(convertValue<DType::F16, DType::BF16, false>(static_cast<uint16_t>(w >> 16), Affine{})) << 16);
#else
  float lo, hi;
  uint32_t r;
  asm("{\n .reg .b16 l, h;\n mov.b32 {l, h}, %2;\n cvt.f32.f16 %0, l;\n cvt.f32.f16 %1, h;\n}" : "=f"(lo), "=f"(hi) : "r"(w));
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  const uint32_t nan = ((w & 0x7FFF7FFFu) + 0x03FF03FFu) & 0x80008000u;  // bit 15 of a half: |h| > 0x7C00
  const uint32_t mask = nan | (nan - (nan >> 15));                      // 0xFFFF for each NaN half
  return (r & ~mask) | (0x7FC07FC0u & mask);
#endif
}

/** Fix-up of a hardware e4m3 byte for NaN (cast_core keeps the sign) and Inf (saturates to ±448). */
__device__ __forceinline__ uint32_t e4m3Special(uint32_t u, uint32_t hw) {
  const uint32_t a = u & 0x7FFFFFFFu;
  return a >= 0x7F800000u ? ((u >> 24) & 0x80u) | (a == 0x7F800000u ? 0x7Eu : 0x7Fu) : hw;
}

/** Two f32 → two fp8 e4m3fn (element 0 in the low byte), as convertValue<F32, F8E4M3FN>. */
__device__ __forceinline__ uint32_t f32x2ToE4m3x2(uint32_t u0, uint32_t u1) {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ < 890
  return convertValue<DType::F32, DType::F8E4M3FN, false>(u0, Affine{}) |
         (static_cast<uint32_t>(convertValue<DType::F32, DType::F8E4M3FN, false>(u1, Affine{})) << 8);
#else
  // round to nearest even with saturation of finite values to ±448, the rule of floatToF8e4m3fn
  uint16_t r;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(r) : "f"(__uint_as_float(u1)), "f"(__uint_as_float(u0)));
  return e4m3Special(u0, r & 0xFFu) | (e4m3Special(u1, static_cast<uint32_t>(r) >> 8) << 8);
#endif
}

/** One rowsKernel vector: V elements, through a fast path where there is one. */
template <class Op>
__device__ __forceinline__ void convertVector(const typename Op::ST* sv, typename Op::DT* dv, const Affine& a) {
  constexpr int V = Vec<Op>::V;
#if MCORE_CUDA_HW_CASTS
  if constexpr (std::is_same_v<Op, CastOp<DType::F16, DType::BF16, false>>) {
    const uint32_t* s = reinterpret_cast<const uint32_t*>(sv);
    uint32_t* d = reinterpret_cast<uint32_t*>(dv);
#pragma unroll
    for (int k = 0; k < V / 2; k++) d[k] = f16x2ToBf16x2(s[k]);
  } else if constexpr (std::is_same_v<Op, CastOp<DType::F32, DType::F8E4M3FN, false>>) {
    uint32_t* d = reinterpret_cast<uint32_t*>(dv);
#pragma unroll
    for (int k = 0; k < V / 4; k++) d[k] = f32x2ToE4m3x2(sv[4 * k], sv[4 * k + 1]) | (f32x2ToE4m3x2(sv[4 * k + 2], sv[4 * k + 3]) << 16);
  } else
#endif
  {
#pragma unroll
    for (int k = 0; k < V; k++) dv[k] = Op::apply(sv[k], a);
  }
}

/** Two 2-byte source elements (element 0 in the low half) → two 2-byte outputs, as Op::apply on each. */
template <class Op>
__device__ __forceinline__ uint32_t convertPair(uint32_t w, const Affine& a) {
#if MCORE_CUDA_HW_CASTS
  if constexpr (std::is_same_v<Op, CastOp<DType::F16, DType::BF16, false>>) return f16x2ToBf16x2(w);
  else
#endif
  {
    using ST = typename Op::ST;
    return static_cast<uint32_t>(Op::apply(static_cast<ST>(w & 0xFFFFu), a)) |
           (static_cast<uint32_t>(Op::apply(static_cast<ST>(w >> 16), a)) << 16);
  }
}

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
  // a single row (every rank-1 run) needs neither the 64-bit division nor the row map per vector
  int64_t so0 = 0, dso0 = 0;
  if (a.nrows == 1) rowOffsets(a.rows, 0, so0, dso0);
  for (int64_t w = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; w < total; w += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t i = w, so = so0, dso = dso0;
    if (a.nrows != 1) {
      const int64_t r = w / perRow;
      i = w - r * perRow;
      rowOffsets(a.rows, r, so, dso);
    }
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
      convertVector<Op>(sv, dv, a.affine);
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

// 2-byte outputs whose columns are dense and 4-byte aligned are stored as 32-bit pairs of columns (a warp then
// writes 128 bytes, not 64): `pairs[q][i]` holds output row i, columns 2q and 2q+1, already cast. 2-byte sources
// whose tile rows are adjacent and 4-byte aligned are loaded the same way, two rows per 32-bit word.
template <class Op>
__device__ __forceinline__ void tilePairs(const TileArgs& a, const uint8_t* colBase, uint8_t* dstBase, int64_t ssB, bool loadPairs,
                                          const int64_t* rowSrc, const int64_t* rowDst, uint32_t (*pairs)[kTile + 2]) {
  using ST = typename Op::ST;
  using DT = typename Op::DT;
  const int tx = threadIdx.x, ty = threadIdx.y;
  if constexpr (sizeof(ST) == 2) {
    if (loadPairs) {
      // lane tx: rows 2tx and 2tx+1 in one word; two columns give both output pairs of those rows
      const uint8_t* p = colBase + rowSrc[2 * tx];
      uint32_t l0[kTile / 2 / kTileRowsPerPass], l1[kTile / 2 / kTileRowsPerPass];
#pragma unroll
      for (int k = 0; k < kTile / 2 / kTileRowsPerPass; k++) {
        const int q = ty + kTileRowsPerPass * k;
        l0[k] = *reinterpret_cast<const uint32_t*>(p + (2 * q) * ssB);
        l1[k] = *reinterpret_cast<const uint32_t*>(p + (2 * q + 1) * ssB);
      }
#pragma unroll
      for (int k = 0; k < kTile / 2 / kTileRowsPerPass; k++) {
        const int q = ty + kTileRowsPerPass * k;
        const uint32_t c0 = convertPair<Op>(l0[k], a.affine), c1 = convertPair<Op>(l1[k], a.affine);
        *reinterpret_cast<uint2*>(&pairs[q][2 * tx]) = make_uint2(__byte_perm(c0, c1, 0x5410), __byte_perm(c0, c1, 0x7632));
      }
    }
  }
  if (!(sizeof(ST) == 2 && loadPairs)) {
    // lane tx: rows tx and tx+32, element by element; both columns of a pair in one thread
    const uint8_t* p0 = colBase + rowSrc[tx];
    const uint8_t* p1 = colBase + rowSrc[tx + kTileLanes];
    ST v[kTile / 2 / kTileRowsPerPass][4];
#pragma unroll
    for (int k = 0; k < kTile / 2 / kTileRowsPerPass; k++) {
      const int q = ty + kTileRowsPerPass * k;
      v[k][0] = loadElem<ST>(p0 + (2 * q) * ssB);
      v[k][1] = loadElem<ST>(p0 + (2 * q + 1) * ssB);
      v[k][2] = loadElem<ST>(p1 + (2 * q) * ssB);
      v[k][3] = loadElem<ST>(p1 + (2 * q + 1) * ssB);
    }
#pragma unroll
    for (int k = 0; k < kTile / 2 / kTileRowsPerPass; k++) {
      const int q = ty + kTileRowsPerPass * k;
      pairs[q][tx] = static_cast<uint32_t>(Op::apply(v[k][0], a.affine)) | (static_cast<uint32_t>(Op::apply(v[k][1], a.affine)) << 16);
      pairs[q][tx + kTileLanes] = static_cast<uint32_t>(Op::apply(v[k][2], a.affine)) | (static_cast<uint32_t>(Op::apply(v[k][3], a.affine)) << 16);
    }
  }
  __syncthreads();
  // store: lane tx writes column pair tx of rows 2p and 2p+1 (one 8-byte shared load, conflict-free with the padding)
  uint8_t* q = dstBase + tx * 4;
#pragma unroll
  for (int k = 0; k < kTile / 2 / kTileRowsPerPass; k++) {
    const int p = ty + kTileRowsPerPass * k;
    const uint2 w = *reinterpret_cast<const uint2*>(&pairs[tx][2 * p]);
    *reinterpret_cast<uint32_t*>(q + rowDst[2 * p]) = w.x;
    *reinterpret_cast<uint32_t*>(q + rowDst[2 * p + 1]) = w.y;
  }
  static_assert(sizeof(DT) == 2, "column pairs are two 2-byte outputs");
}

template <class Op>
__global__ void __launch_bounds__(kTileLanes * kTileRowsPerPass) tileKernel(TileArgs a) {
  using ST = typename Op::ST;
  using DT = typename Op::DT;
  constexpr bool kPairOut = sizeof(DT) == 2 && (sizeof(ST) == 2 || sizeof(ST) == 4);
  __shared__ ST tile[kTile][kTile + 1];  // [column][row], padded against bank conflicts
  __shared__ __align__(16) uint32_t pairs[kPairOut ? kTile / 2 : 1][kTile + 2];
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
    bool storePairs = false, loadPairs = false;
    if constexpr (kPairOut) {
      // whole-row tiles whose output rows are dense and 4-byte aligned (checked per row: the row map may be any)
      bool ok = nr == kTile && dsB == 2;
      bool ld = ok && sizeof(ST) == 2 && (ssB & 3) == 0;
      if (ok) {
        const uintptr_t d = reinterpret_cast<uintptr_t>(a.dst);
        ok = ((d + rowDst[2 * tx]) & 3) == 0 && ((d + rowDst[2 * tx + 1]) & 3) == 0;
        ld = ld && rowSrc[2 * tx + 1] == rowSrc[2 * tx] + 2 && ((reinterpret_cast<uintptr_t>(a.src) + rowSrc[2 * tx]) & 3) == 0;
      }
      storePairs = __syncthreads_and(ok);
      loadPairs = __syncthreads_and(ld);
    }
    for (int64_t tc = blockIdx.x; tc < colTiles; tc += gridDim.x) {
      const int64_t c0 = tc * kTile;
      const int nc = static_cast<int>(a.cols - c0 < kTile ? a.cols - c0 : kTile);
      const uint8_t* colBase = a.src + c0 * ssB;
      uint8_t* dstBase = a.dst + c0 * dsB;
      if constexpr (kPairOut) {
        if (storePairs && nc == kTile) {
          tilePairs<Op>(a, colBase, dstBase, ssB, loadPairs, rowSrc, rowDst, pairs);
          __syncthreads();
          continue;
        }
      }
      // load: lanes walk rows, which are dense in the source
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
