// Calibration-free weight quantization, one definition for the CPU (quant.cc) and the GPU (cuda/quant_device.cu)
// so both produce the same bytes. Only IEEE f32 division, fminf/fmaxf, rintf and cast_core.h's integer encoders
// are used: each is correctly rounded (or exact) on both sides when the CUDA build keeps -prec-div=true and
// -ftz=false (CMakeLists.txt), so the results are bit-identical.
//
// A logical weight W [rows, cols] (rows = output channels, cols = input features) is cut into blocks of
// blockRows × blockCols (per channel: 1 × cols; per group: 1 × G; DeepSeek-V3 style: 128 × 128; edge blocks
// may be smaller). For each block:
//   amax  = max |w| over the block (NaN ignored: fmaxf returns the other operand)
//   s     = stored(amax / qmax)          qmax = 127 (int8), 7 (int4), 448 (fp8 e4m3)
//           stored(): rounded to the scale tensor's dtype (RNE); a block whose stored scale is 0 (all zeros, or
//           an amax below the scale dtype's range) gets s = 1 so that it dequantizes to exact zeros
//   q     = int:  rne(clamp(w / s, qmin, qmax))    (round half to even; NaN → qmin)
//           fp8:  e4m3fn(w / s)                   (RNE, saturating at ±448, cast_core.h)
// Dequantization is w ≈ q · s, with s the value written in the scale tensor.
// Sources of the formula: TensorRT-LLM's symmetric weight-only per-channel quantization (scale = amax / qmax,
// `tensorrt_llm/quantization/functional.py` / `symmetric_quantize_last_axis_of_batched_matrix`), DeepSeek-V3's
// fp8 block quantization (`weight_scale_inv` = amax / 448 per 128 × 128 block, the multiplier of dequantization),
// compressed-tensors' symmetric int quantization (`quantize`: round(x / scale) clamped to [qmin, qmax]). Unlike
// compressed-tensors' default observer (scale = amax / ((qmax − qmin) / 2), e.g. amax / 7.5 for int4, which clips
// the largest value) we divide by qmax, so no value is clipped; any scale loads the same way.
//
// Stored bytes (compressed-tensors `pack_to_int32`, `compressors/quantized_compressors/pack_quantized.py`): ints
// are offset to unsigned (q + 2^(bits−1)) and packed little-endian into int32 words, element 0 in the lowest bits;
// in bytes that is one byte per int8 element, and for int4 the even column in the low nibble, the odd column in
// the high nibble. fp8 is one e4m3fn byte per element.
#pragma once
#include <math.h>

#include <cstdint>

#include "cast_core.h"
#include "dtype.h"

namespace mcore {

enum class QuantKind : int { Int8 = 0, Int4 = 1, Fp8E4M3 = 2 };
constexpr int kQuantKindCount = 3;

struct QuantSpec {
  QuantKind kind = QuantKind::Int8;
  int64_t rows = 0, cols = 0;
  int64_t blockRows = 1, blockCols = 1;
  DType scaleDtype = DType::F32;

  MCORE_HD int64_t blocksPerRow() const { return (cols + blockCols - 1) / blockCols; }
  MCORE_HD int64_t blockRowCount() const { return (rows + blockRows - 1) / blockRows; }
  /** bytes of one logical row in the values tensor */
  MCORE_HD int64_t valueRowBytes() const { return kind == QuantKind::Int4 ? cols / 2 : cols; }
};

MCORE_HD float quantQmax(QuantKind k) { return k == QuantKind::Int8 ? 127.0f : k == QuantKind::Int4 ? 7.0f : 448.0f; }

MCORE_HD float quantDiv(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

/** The value written to the scale tensor, as f32 (exactly representable in `scaleDtype`). */
MCORE_HD float quantScale(float amax, QuantKind k, DType scaleDtype) {
  float s = quantDiv(amax, quantQmax(k));
  if (scaleDtype == DType::BF16) s = bf16ToFloat(floatToBf16<0x7FC0>(s));
  else if (scaleDtype == DType::F16) s = f16ToFloatBits(floatToF16(s));
  return s == 0.0f ? 1.0f : s;
}

/** The scale's bytes in its dtype (F32, BF16 or F16), little-endian, into out[0..itemsize). */
MCORE_HD void storeScale(float s, DType scaleDtype, uint8_t* out) {
  uint32_t bits = scaleDtype == DType::F32 ? floatBits(s) : scaleDtype == DType::BF16 ? floatToBf16<0x7FC0>(s) : floatToF16(s);
  int n = scaleDtype == DType::F32 ? 4 : 2;
  for (int i = 0; i < n; i++) out[i] = static_cast<uint8_t>(bits >> (8 * i));
}

/** Round half to even for |v| ≤ 2^22: adding and subtracting 1.5 · 2^23 leaves no fraction bits, and IEEE
 *  round-to-nearest-even does the rest (the same as rintf, which without SSE4.1 is a libm call per element). */
MCORE_HD float quantRne(float v) {
  const float magic = 12582912.0f;
  return (v + magic) - magic;
}

/** Offset-binary code of one element: q + 128 (int8), q + 8 (int4, 4 bits), or the e4m3fn byte. */
template <QuantKind K>
MCORE_HD uint8_t quantCodeOf(float w, float s) {
  // NaN quotients as x86 makes them on both CPU and GPU (cast_core.h nanResult): fp8 keeps the NaN's sign, and a
  // GPU's division would return the canonical 0x7FFFFFFF for a negative NaN weight or for ∞/∞ (an ∞ amax)
  float v = nanResult(w, s, quantDiv(w, s));
  if constexpr (K == QuantKind::Fp8E4M3) {
    return floatToF8e4m3fn(v);
  } else {
    constexpr float qmax = K == QuantKind::Int8 ? 127.0f : 7.0f;
    v = v >= -qmax - 1.0f ? v : -qmax - 1.0f;  // NaN too
    v = v > qmax ? qmax : v;
    return static_cast<uint8_t>(static_cast<int>(quantRne(v)) + static_cast<int>(qmax) + 1);
  }
}

MCORE_HD uint8_t quantCode(float w, float s, QuantKind k) {
  return k == QuantKind::Int8 ? quantCodeOf<QuantKind::Int8>(w, s) : k == QuantKind::Int4 ? quantCodeOf<QuantKind::Int4>(w, s) : quantCodeOf<QuantKind::Fp8E4M3>(w, s);
}

/** max(m, |w|), NaN ignored (as fmaxf, inline). */
MCORE_HD float quantAbsMax(float m, float w) {
  float a = fabsf(w);
  return a > m ? a : m;
}

}  // namespace mcore
