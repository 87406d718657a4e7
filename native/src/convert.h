// Element conversions between the float dtypes, bit-exact with PyTorch 2.x on x86 CPUs
// (round-to-nearest-even everywhere; NaN and overflow rules below), and the strided run kernels built on them.
//
// NaN rules, measured with torch 2.13 (CPU, tensors of thousands of elements, i.e. its vectorised kernels):
//   to f32:  sign and payload kept, quiet bit set (bf16 widens by a plain shift, as torch does)
//   to f16:  sign | 0x7E00 | top payload bits (what x86 F16C produces)
//   to bf16: 0xFFFF from f32 values (also results of arithmetic), 0x7FC0 from f16 and fp8 values
//   to fp8:  sign | 0x7F (both formats)
// Overflow: f16/bf16/e5m2 round to ±Inf; e4m3fn (no Inf) saturates to ±448, Inf included.
#pragma once
#include <cstdint>
#include <cstring>

#include "cast_core.h"
#include "dtype.h"

namespace mcore {

// floatBits/bitsFloat, bf16ToFloat, floatToBf16/F16/F8e4m3fn/F8e5m2 and Affine come from cast_core.h,
// shared with the CUDA kernels.
float f16ToFloatSlow(uint16_t h);
extern float kF16Table[65536];  // filled once by initConvertTables()
inline float f16ToFloat(uint16_t h) { return kF16Table[h]; }
float f8e4m3fnToFloat(uint8_t b);
float f8e5m2ToFloat(uint8_t b);
void initConvertTables();

/** Converts `n` elements: src every `srcStride` bytes, dst every `dstStride` bytes. */
using RunFn = void (*)(const uint8_t* src, int64_t srcStride, uint8_t* dst, int64_t dstStride, int64_t n, const Affine& affine);

/** The kernel for src → dst (same-dtype copy when equal and no affine); nullptr when unsupported. */
RunFn selectRun(DType src, DType dst, bool affine);

/**
 * A transposed tile of at most kTileEdge × kTileEdge elements: dst row i, column j (dst rows contiguous, every
 * `dstRowStride` bytes) takes src element i·srcRowStride + j·srcColStride (bytes). Converted through a small
 * L1-resident buffer so that both the reads (along i) and the writes (along j) are sequential.
 */
constexpr int64_t kTileEdge = 32;
using TileFn = void (*)(const uint8_t* src, int64_t srcRowStride, int64_t srcColStride, uint8_t* dst, int64_t dstRowStride,
                        int64_t rows, int64_t cols, const Affine& affine);
TileFn selectTile(DType src, DType dst, bool affine);

/** One element through the same path as the kernels (for tests and for scalar callers). */
void convertOne(DType src, DType dst, const Affine& affine, const uint8_t* in, uint8_t* out);

}  // namespace mcore
