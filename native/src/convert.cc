#include "convert.h"

#include <cstring>

namespace mcore {

float kF16Table[65536];

float f16ToFloatSlow(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) return bitsFloat(sign | 0x7F800000u | (mant ? 0x400000u : 0u) | (mant << 13));
  if (exp != 0) return bitsFloat(sign | ((exp + 127 - 15) << 23) | (mant << 13));
  // zero or subnormal: mant × 2^-24, exact in f32
  float v = static_cast<float>(mant) * bitsFloat(0x33800000u);  // 2^-24
  return bitsFloat(sign | floatBits(v));
}

float f8e4m3fnToFloat(uint8_t b) {
  uint32_t sign = static_cast<uint32_t>(b & 0x80u) << 24;
  uint32_t exp = (b >> 3) & 0xFu;
  uint32_t mant = b & 0x7u;
  if (exp == 0xF && mant == 0x7) return bitsFloat(sign | 0x7FC00000u | (mant << 20));
  if (exp != 0) return bitsFloat(sign | ((exp + 127 - 7) << 23) | (mant << 20));
  float v = static_cast<float>(mant) * bitsFloat(0x3B000000u);  // 2^-9
  return bitsFloat(sign | floatBits(v));
}

float f8e5m2ToFloat(uint8_t b) { return f16ToFloatSlow(static_cast<uint16_t>(b) << 8); }

void initConvertTables() {
  static bool done = false;  // called from module init on the JS thread, before any worker exists
  if (done) return;
  for (uint32_t h = 0; h < 65536; h++) kF16Table[h] = f16ToFloatSlow(static_cast<uint16_t>(h));
  done = true;
}

namespace {

template <DType D> struct Storage;
template <> struct Storage<DType::F32> { using T = uint32_t; };
template <> struct Storage<DType::F16> { using T = uint16_t; };
template <> struct Storage<DType::BF16> { using T = uint16_t; };
template <> struct Storage<DType::F8E4M3FN> { using T = uint8_t; };
template <> struct Storage<DType::F8E5M2> { using T = uint8_t; };

template <DType S>
inline float decode(typename Storage<S>::T v) {
  if constexpr (S == DType::F32) return bitsFloat(v);
  else if constexpr (S == DType::BF16) return bf16ToFloat(v);
  else if constexpr (S == DType::F16) return f16ToFloat(v);
  else if constexpr (S == DType::F8E4M3FN) return f8e4m3fnToFloat(v);
  else return f8e5m2ToFloat(v);
}

// `From` is the dtype whose value is being rounded: it picks torch's bf16 NaN pattern.
template <DType D, DType From>
inline typename Storage<D>::T encode(float f) {
  if constexpr (D == DType::F32) return floatBits(f);
  // (From == BF16 only re-encodes a value already rounded to bf16, whose NaN is 0xFFFF: keep it)
  else if constexpr (D == DType::BF16) return floatToBf16<(From == DType::F32 || From == DType::BF16 ? 0xFFFF : 0x7FC0)>(f);
  else if constexpr (D == DType::F16) return floatToF16(f);
  else if constexpr (D == DType::F8E4M3FN) return floatToF8e4m3fn(f);
  else return floatToF8e5m2(f);
}

template <DType S, DType D, bool Aff>
inline typename Storage<D>::T convertValue(typename Storage<S>::T v, const Affine& a) {
  if constexpr (!Aff) {
    return encode<D, S>(decode<S>(v));
  } else {
    float x = decode<S>(v);
    if (a.hasAdd) {
      // torch computes `t + c` in f32 and rounds back to t's dtype; for that rounding the value is an f32 result
      x = x + a.add;
      if constexpr (S != DType::F32) x = decode<S>(encode<S, DType::F32>(x));
    }
    float y = a.hasMul ? x * a.mul : x;
    // after `* mul` the value is an f32 result; after `+ add` alone it is a value of S (already rounded)
    return a.hasMul ? encode<D, DType::F32>(y) : encode<D, S>(y);
  }
}

template <DType S, DType D, bool Aff>
void convertRun(const uint8_t* src, int64_t ss, uint8_t* dst, int64_t ds, int64_t n, const Affine& a) {
  using ST = typename Storage<S>::T;
  using DT = typename Storage<D>::T;
  if (ss == static_cast<int64_t>(sizeof(ST)) && ds == static_cast<int64_t>(sizeof(DT))) {
    // contiguous: fixed strides let the compiler vectorise
    const ST* s = reinterpret_cast<const ST*>(src);
    DT* d = reinterpret_cast<DT*>(dst);
    if (reinterpret_cast<uintptr_t>(src) % alignof(ST) == 0 && reinterpret_cast<uintptr_t>(dst) % alignof(DT) == 0) {
      for (int64_t i = 0; i < n; i++) d[i] = convertValue<S, D, Aff>(s[i], a);
      return;
    }
  }
  for (int64_t i = 0; i < n; i++) {
    ST v;
    std::memcpy(&v, src + i * ss, sizeof(ST));
    DT r = convertValue<S, D, Aff>(v, a);
    std::memcpy(dst + i * ds, &r, sizeof(DT));
  }
}

template <int Size>
void copyRun(const uint8_t* src, int64_t ss, uint8_t* dst, int64_t ds, int64_t n, const Affine&) {
  if (ss == Size && ds == Size) {
    std::memcpy(dst, src, static_cast<size_t>(n) * Size);
    return;
  }
  if (ss == 0) {  // broadcast one element
    for (int64_t i = 0; i < n; i++) std::memcpy(dst + i * ds, src, Size);
    return;
  }
  for (int64_t i = 0; i < n; i++) std::memcpy(dst + i * ds, src + i * ss, Size);
}

constexpr int kFloatCount = 5;  // F32, F16, BF16, F8E4M3FN, F8E5M2 are codes 0..4

template <DType S, bool Aff>
RunFn pickDst(DType d) {
  switch (d) {
    case DType::F32: return &convertRun<S, DType::F32, Aff>;
    case DType::F16: return &convertRun<S, DType::F16, Aff>;
    case DType::BF16: return &convertRun<S, DType::BF16, Aff>;
    case DType::F8E4M3FN: return &convertRun<S, DType::F8E4M3FN, Aff>;
    case DType::F8E5M2: return &convertRun<S, DType::F8E5M2, Aff>;
    default: return nullptr;
  }
}

template <bool Aff>
RunFn pickSrc(DType s, DType d) {
  switch (s) {
    case DType::F32: return pickDst<DType::F32, Aff>(d);
    case DType::F16: return pickDst<DType::F16, Aff>(d);
    case DType::BF16: return pickDst<DType::BF16, Aff>(d);
    case DType::F8E4M3FN: return pickDst<DType::F8E4M3FN, Aff>(d);
    case DType::F8E5M2: return pickDst<DType::F8E5M2, Aff>(d);
    default: return nullptr;
  }
}

}  // namespace

RunFn selectRun(DType src, DType dst, bool affine) {
  if (src == dst && !affine) {
    switch (itemsize(src)) {
      case 1: return &copyRun<1>;
      case 2: return &copyRun<2>;
      case 4: return &copyRun<4>;
      case 8: return &copyRun<8>;
    }
    return nullptr;
  }
  if (static_cast<int>(src) >= kFloatCount || static_cast<int>(dst) >= kFloatCount) return nullptr;
  return affine ? pickSrc<true>(src, dst) : pickSrc<false>(src, dst);
}

void convertOne(DType src, DType dst, const Affine& affine, const uint8_t* in, uint8_t* out) {
  RunFn fn = selectRun(src, dst, affine.any());
  if (fn) fn(in, itemsize(src), out, itemsize(dst), 1, affine);
}

const char* dtypeName(DType d) {
  static const char* names[] = {"float32", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2",
                                "int8", "uint8", "int32", "int64", "bool"};
  int i = static_cast<int>(d);
  return i >= 0 && i < kDTypeCount ? names[i] : "unknown";
}

}  // namespace mcore
