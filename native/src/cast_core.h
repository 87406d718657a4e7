// The element casts as integer bit manipulation, compiled for both the CPU (convert.cc) and the GPU
// (cuda/kernels.cuh): one definition, so both executors round identically (RNE; NaN, Inf, subnormal and fp8
// saturation rules as documented in convert.h). Besides integer ops only IEEE f32 add and multiply are used (the
// subnormal-rounding adds, the affine), which round the same on both sides when denormals are kept and nothing is
// fused: the CUDA build uses -fmad=false and neither --use_fast_math nor -ftz=true.
#pragma once
#include <cstdint>
#include <cstring>

#include "dtype.h"

#if defined(__CUDACC__)
#define MCORE_HD __host__ __device__ __forceinline__
#else
#define MCORE_HD inline
#endif

namespace mcore {

MCORE_HD uint32_t floatBits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
MCORE_HD float bitsFloat(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// ---- decode: exact widening to f32 ----
MCORE_HD float bf16ToFloat(uint16_t h) { return bitsFloat(static_cast<uint32_t>(h) << 16); }

MCORE_HD float f16ToFloatBits(uint16_t h) {
  // all three candidates, then a select: no divergent branches in GPU warps (random bits mix the classes)
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t special = sign | 0x7F800000u | (mant ? 0x400000u : 0u) | (mant << 13);
  uint32_t normal = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  // zero or subnormal: mant × 2^-24 = (1 + mant/1024)·2^-14 − 2^-14, exact in f32 (a full-rate add where an
  // int→float conversion would be quarter rate on GPUs)
  uint32_t small = sign | floatBits(bitsFloat((113u << 23) | (mant << 13)) - bitsFloat(113u << 23));
  return bitsFloat(exp == 0x1F ? special : exp != 0 ? normal : small);
}

MCORE_HD float f8e4m3fnToFloatBits(uint8_t b) {
  uint32_t sign = static_cast<uint32_t>(b & 0x80u) << 24;
  uint32_t exp = (b >> 3) & 0xFu;
  uint32_t mant = b & 0x7u;
  if (exp == 0xF && mant == 0x7) return bitsFloat(sign | 0x7FC00000u | (mant << 20));
  if (exp != 0) return bitsFloat(sign | ((exp + 127 - 7) << 23) | (mant << 20));
  float v = bitsFloat((121u << 23) | (mant << 20)) - bitsFloat(121u << 23);  // mant × 2^-9, exact (as in f16)
  return bitsFloat(sign | floatBits(v));
}

MCORE_HD float f8e5m2ToFloatBits(uint8_t b) { return f16ToFloatBits(static_cast<uint16_t>(b) << 8); }

// ---- encode: f32 → narrower, round to nearest even ----
template <uint16_t NanBits>
MCORE_HD uint16_t floatToBf16(float f) {
  uint32_t u = floatBits(f);
  uint16_t r = static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
  return (u & 0x7FFFFFFFu) > 0x7F800000u ? NanBits : r;
}

MCORE_HD uint16_t floatToF16(float f) {
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

MCORE_HD uint8_t floatToF8e4m3fn(float f) {
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

MCORE_HD uint8_t floatToF8e5m2(float f) {
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

// f32 add and multiply with x86 SSE's NaN results, on both CPU and GPU: a NaN operand comes out quieted with
// its sign and payload (the tensor value first), a NaN made from numbers (Inf - Inf, 0 × Inf) is x86's default
// NaN 0xFFC00000. (GPUs return the canonical 0x7FFFFFFF for both, which would change NaN payloads and the sign
// that fp8 keeps.)
MCORE_HD bool isNanBits(uint32_t u) { return (u & 0x7FFFFFFFu) > 0x7F800000u; }
MCORE_HD float nanResult(float x, float c, float r) {
  uint32_t ux = floatBits(x), uc = floatBits(c);
  if (isNanBits(ux)) return bitsFloat(ux | 0x400000u);
  if (isNanBits(uc)) return bitsFloat(uc | 0x400000u);
  return isNanBits(floatBits(r)) ? bitsFloat(0xFFC00000u) : r;
}
MCORE_HD float addX86(float x, float c) { return nanResult(x, c, x + c); }
MCORE_HD float mulX86(float x, float c) { return nanResult(x, c, x * c); }

/** `r = round_to_src(x + add)`, then `y = r * mul` (both in f32, as torch's opmath does). */
struct Affine {
  bool hasAdd = false;
  bool hasMul = false;
  float add = 0.0f;
  float mul = 1.0f;
  MCORE_HD bool any() const { return hasAdd || hasMul; }
};

// ---- typed element conversion (the kernels of both executors are built on this) ----

template <DType D> struct Storage;
template <> struct Storage<DType::F32> { using T = uint32_t; };
template <> struct Storage<DType::F16> { using T = uint16_t; };
template <> struct Storage<DType::BF16> { using T = uint16_t; };
template <> struct Storage<DType::F8E4M3FN> { using T = uint8_t; };
template <> struct Storage<DType::F8E5M2> { using T = uint8_t; };

#if !defined(__CUDA_ARCH__)
extern float kF16Table[65536];  // host only: filled once by initConvertTables() (convert.cc) from f16ToFloatBits
#endif

template <DType S>
MCORE_HD float decodeAs(typename Storage<S>::T v) {
  if constexpr (S == DType::F32) return bitsFloat(v);
  else if constexpr (S == DType::BF16) return bf16ToFloat(v);
  else if constexpr (S == DType::F16) {
#if defined(__CUDA_ARCH__)
    return f16ToFloatBits(v);
#else
    return kF16Table[v];  // the same values, tabulated
#endif
  } else if constexpr (S == DType::F8E4M3FN) return f8e4m3fnToFloatBits(v);
  else return f8e5m2ToFloatBits(v);
}

// `From` is the dtype whose value is being rounded: it picks torch's bf16 NaN pattern.
template <DType D, DType From>
MCORE_HD typename Storage<D>::T encodeAs(float f) {
  if constexpr (D == DType::F32) return floatBits(f);
  // (From == BF16 only re-encodes a value already rounded to bf16, whose NaN is 0xFFFF: keep it)
  else if constexpr (D == DType::BF16) return floatToBf16<(From == DType::F32 || From == DType::BF16 ? 0xFFFF : 0x7FC0)>(f);
  else if constexpr (D == DType::F16) return floatToF16(f);
  else if constexpr (D == DType::F8E4M3FN) return floatToF8e4m3fn(f);
  else return floatToF8e5m2(f);
}

template <DType S, DType D, bool Aff>
MCORE_HD typename Storage<D>::T convertValue(typename Storage<S>::T v, const Affine& a) {
  if constexpr (!Aff) {
    return encodeAs<D, S>(decodeAs<S>(v));
  } else {
    float x = decodeAs<S>(v);
    if (a.hasAdd) {
      // torch computes `t + c` in f32 and rounds back to t's dtype; for that rounding the value is an f32 result
      x = addX86(x, a.add);
      if constexpr (S != DType::F32) x = decodeAs<S>(encodeAs<S, DType::F32>(x));
    }
    float y = a.hasMul ? mulX86(x, a.mul) : x;
    // after `* mul` the value is an f32 result; after `+ add` alone it is a value of S (already rounded)
    return a.hasMul ? encodeAs<D, DType::F32>(y) : encodeAs<D, S>(y);
  }
}

}  // namespace mcore
