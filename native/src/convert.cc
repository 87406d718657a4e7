#include "convert.h"

#include <cstring>

namespace mcore {

float kF16Table[65536];

float f16ToFloatSlow(uint16_t h) { return f16ToFloatBits(h); }
float f8e4m3fnToFloat(uint8_t b) { return f8e4m3fnToFloatBits(b); }
float f8e5m2ToFloat(uint8_t b) { return f8e5m2ToFloatBits(b); }

void initConvertTables() {
  static bool done = false;  // called from module init on the JS thread, before any worker exists
  if (done) return;
  for (uint32_t h = 0; h < 65536; h++) kF16Table[h] = f16ToFloatSlow(static_cast<uint16_t>(h));
  done = true;
}

namespace {

// Storage, decodeAs, encodeAs and convertValue: cast_core.h (the same code runs in the CUDA kernels)

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

template <DType S, DType D, bool Aff>
void convertTile(const uint8_t* src, int64_t sr, int64_t sc, uint8_t* dst, int64_t dr, int64_t rows, int64_t cols, const Affine& a) {
  using ST = typename Storage<S>::T;
  using DT = typename Storage<D>::T;
  // row by row: each output row is written sequentially; the tile's source lines stay in cache across rows
  for (int64_t i = 0; i < rows; i++) {
    const uint8_t* s = src + i * sr;
    DT out[kTileEdge];
    for (int64_t j = 0; j < cols; j++) {
      ST v;
      std::memcpy(&v, s + j * sc, sizeof(ST));
      out[j] = convertValue<S, D, Aff>(v, a);
    }
    std::memcpy(dst + i * dr, out, static_cast<size_t>(cols) * sizeof(DT));
  }
}

template <int Size>
void copyTile(const uint8_t* src, int64_t sr, int64_t sc, uint8_t* dst, int64_t dr, int64_t rows, int64_t cols, const Affine&) {
  uint8_t tile[kTileEdge][kTileEdge * Size];
  for (int64_t j = 0; j < cols; j++)
    for (int64_t i = 0; i < rows; i++) std::memcpy(&tile[i][j * Size], src + i * sr + j * sc, Size);
  for (int64_t i = 0; i < rows; i++) std::memcpy(dst + i * dr, tile[i], static_cast<size_t>(cols) * Size);
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

template <DType S, bool Aff>
TileFn pickTileDst(DType d) {
  switch (d) {
    case DType::F32: return &convertTile<S, DType::F32, Aff>;
    case DType::F16: return &convertTile<S, DType::F16, Aff>;
    case DType::BF16: return &convertTile<S, DType::BF16, Aff>;
    case DType::F8E4M3FN: return &convertTile<S, DType::F8E4M3FN, Aff>;
    case DType::F8E5M2: return &convertTile<S, DType::F8E5M2, Aff>;
    default: return nullptr;
  }
}

template <bool Aff>
TileFn pickTileSrc(DType s, DType d) {
  switch (s) {
    case DType::F32: return pickTileDst<DType::F32, Aff>(d);
    case DType::F16: return pickTileDst<DType::F16, Aff>(d);
    case DType::BF16: return pickTileDst<DType::BF16, Aff>(d);
    case DType::F8E4M3FN: return pickTileDst<DType::F8E4M3FN, Aff>(d);
    case DType::F8E5M2: return pickTileDst<DType::F8E5M2, Aff>(d);
    default: return nullptr;
  }
}

}  // namespace

TileFn selectTile(DType src, DType dst, bool affine) {
  if (src == dst && !affine) {
    switch (itemsize(src)) {
      case 1: return &copyTile<1>;
      case 2: return &copyTile<2>;
      case 4: return &copyTile<4>;
      case 8: return &copyTile<8>;
    }
    return nullptr;
  }
  if (static_cast<int>(src) >= kFloatCount || static_cast<int>(dst) >= kFloatCount) return nullptr;
  return affine ? pickTileSrc<true>(src, dst) : pickTileSrc<false>(src, dst);
}

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
