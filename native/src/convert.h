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

#include "dtype.h"

namespace mcore {

inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ---- decode: exact widening to f32 ----
inline float bf16ToFloat(uint16_t h) { return bitsFloat(static_cast<uint32_t>(h) << 16); }
float f16ToFloatSlow(uint16_t h);
extern float kF16Table[65536];  // filled once by initConvertTables()
inline float f16ToFloat(uint16_t h) { return kF16Table[h]; }
float f8e4m3fnToFloat(uint8_t b);
float f8e5m2ToFloat(uint8_t b);
void initConvertTables();

// ---- encode: f32 → narrower, round to nearest even ----
template <uint16_t NanBits>
inline uint16_t floatToBf16(float f) {
  uint32_t u = floatBits(f);
  uint16_t r = static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
  return (u & 0x7FFFFFFFu) > 0x7F800000u ? NanBits : r;
}

inline uint16_t floatToF16(float f) {
  uint32_t u = floatBits(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7E00u | static_cast<uint16_t>((a >> 13) & 0x3FFu);
  if (a >= 0x477FF000u) return sign | 0x7C00u;  // ≥ 65520 (halfway past 65504) rounds to Inf
  if (a < 0x38800000u) {
    // below 2^-14: subnormal. Adding 0.5f (whose ulp is 2^-24, the f16 subnormal step) rounds to even for us.
    float t = bitsFloat(a) + 0.5f;
    return sign | static_cast<uint16_t>(floatBits(t) - 0x3F000000u);
  }
  a += (static_cast<uint32_t>(15 - 127) << 23) + 0xFFFu + ((a >> 13) & 1u);
  return sign | static_cast<uint16_t>(a >> 13);
}

inline uint8_t floatToF8e4m3fn(float f) {
  uint32_t u = floatBits(f);
  uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7Fu;
  if (a >= 0x43E00000u) return sign | 0x7Eu;  // ≥ 448 (and Inf) saturates to 448
  if (a < 0x3C800000u) {
    // below 2^-6: subnormal, step 2^-9 = ulp of 16384.0f
    float t = bitsFloat(a) + 16384.0f;
    return sign | static_cast<uint8_t>(floatBits(t) - 0x46800000u);
  }
  a += (static_cast<uint32_t>(7 - 127) << 23) + 0x7FFFFu + ((a >> 20) & 1u);
  uint32_t r = a >> 20;
  return sign | static_cast<uint8_t>(r > 0x7Eu ? 0x7Eu : r);  // defensive: a < 448 rounds to at most 448
}

inline uint8_t floatToF8e5m2(float f) {
  uint32_t u = floatBits(f);
  uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7Fu;
  if (a >= 0x47700000u) return sign | 0x7Cu;  // ≥ 61440 (halfway past 57344) rounds to Inf
  if (a < 0x38800000u) {
    // below 2^-14: subnormal, step 2^-16 = ulp of 128.0f
    float t = bitsFloat(a) + 128.0f;
    return sign | static_cast<uint8_t>(floatBits(t) - 0x43000000u);
  }
  a += (static_cast<uint32_t>(15 - 127) << 23) + 0xFFFFFu + ((a >> 21) & 1u);
  return sign | static_cast<uint8_t>(a >> 21);
}

/** `r = round_to_src(x + add)`, then `y = r * mul` (both in f32, as torch's opmath does). */
struct Affine {
  bool hasAdd = false;
  bool hasMul = false;
  float add = 0.0f;
  float mul = 1.0f;
  bool any() const { return hasAdd || hasMul; }
};

/** Converts `n` elements: src every `srcStride` bytes, dst every `dstStride` bytes. */
using RunFn = void (*)(const uint8_t* src, int64_t srcStride, uint8_t* dst, int64_t dstStride, int64_t n, const Affine& affine);

/** The kernel for src → dst (same-dtype copy when equal and no affine); nullptr when unsupported. */
RunFn selectRun(DType src, DType dst, bool affine);

/** One element through the same path as the kernels (for tests and for scalar callers). */
void convertOne(DType src, DType dst, const Affine& affine, const uint8_t* in, uint8_t* out);

}  // namespace mcore
