// Test-only: float conversions written from the IEEE 754 definitions with plain double arithmetic (values
// are decoded to exact numbers and rounded to nearest-even by value, not by bit tricks), so they check the
// native kernels independently. NaN bit patterns follow what torch 2.x produces on x86 CPUs (see
// native/src/convert.h); those are the only rules taken from observation rather than from the standard.
import type { DType } from '../../lib/tensor/dtype.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bitsToF32(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0]!;
}
export function f32ToBits(v: number): number {
  f32[0] = v;
  return u32[0]!;
}
const isNaNBits = (b: number) => (b & 0x7fffffff) >>> 0 > 0x7f800000;

interface Format {
  exp: number;
  mant: number;
  bias: number;
  /** e4m3fn: no Inf, the all-ones pattern is NaN, overflow saturates (torch) */
  fn: boolean;
}
const FORMATS: Partial<Record<DType, Format>> = {
  float16: { exp: 5, mant: 10, bias: 15, fn: false },
  bfloat16: { exp: 8, mant: 7, bias: 127, fn: false },
  float8_e4m3fn: { exp: 4, mant: 3, bias: 7, fn: true },
  float8_e5m2: { exp: 5, mant: 2, bias: 15, fn: false },
};

/** Bits of a narrow float → the f32 bits of the same value (exact). */
export function widen(dtype: DType, bits: number): number {
  if (dtype === 'float32') return bits >>> 0;
  if (dtype === 'bfloat16') return (bits << 16) >>> 0;
  const f = FORMATS[dtype]!;
  const width = 1 + f.exp + f.mant;
  const sign = (bits >> (width - 1)) & 1;
  const e = (bits >> f.mant) & ((1 << f.exp) - 1);
  const m = bits & ((1 << f.mant) - 1);
  const top = (1 << f.exp) - 1;
  const signBit = sign ? 0x80000000 : 0;
  if (f.fn ? e === top && m === (1 << f.mant) - 1 : e === top) {
    if (!f.fn && m === 0) return (signBit | 0x7f800000) >>> 0;
    return (signBit | 0x7fc00000 | (m << (23 - f.mant))) >>> 0;
  }
  const value = e === 0 ? m * 2 ** (1 - f.bias - f.mant) : (1 + m / 2 ** f.mant) * 2 ** (e - f.bias);
  return f32ToBits(sign ? -value : value);
}

function roundHalfEven(v: number): number {
  const fl = Math.floor(v);
  const d = v - fl;
  if (d > 0.5) return fl + 1;
  if (d < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

/** f32 bits → bits of `dtype`, rounding to nearest even. `nanFrom` is the dtype the value came from (torch's bf16 NaN depends on it). */
export function narrow(dtype: DType, bits: number, nanFrom: DType = 'float32'): number {
  if (dtype === 'float32') return bits >>> 0;
  const f = FORMATS[dtype]!;
  const width = 1 + f.exp + f.mant;
  const signBit = bits >>> 31 ? 1 << (width - 1) : 0;
  if (isNaNBits(bits)) {
    if (dtype === 'bfloat16') return nanFrom === 'float32' ? 0xffff : 0x7fc0;
    if (dtype === 'float16') return signBit | 0x7e00 | ((bits >>> 13) & 0x3ff);
    return signBit | 0x7f;
  }
  const x = Math.abs(bitsToF32(bits));
  const top = (1 << f.exp) - 1;
  const maxExp = f.fn ? top - f.bias : top - 1 - f.bias;
  const maxMant = f.fn ? (1 << f.mant) - 2 : (1 << f.mant) - 1;
  const maxFinite = (1 + maxMant / 2 ** f.mant) * 2 ** maxExp;
  const overflow = () => (f.fn ? signBit | (top << f.mant) | maxMant : signBit | (top << f.mant));
  if (x === Infinity) return overflow();
  const minNormal = 2 ** (1 - f.bias);
  if (x < minNormal) return signBit | roundHalfEven(x / 2 ** (1 - f.bias - f.mant));
  let e = Math.floor(Math.log2(x));
  if (2 ** e > x) e--;
  if (2 ** (e + 1) <= x) e++;
  let m = roundHalfEven(x / 2 ** (e - f.mant));
  if (m === 2 ** (f.mant + 1)) {
    m /= 2;
    e++;
  }
  const value = (m / 2 ** f.mant) * 2 ** e;
  if (value > maxFinite) return overflow();
  return signBit | ((e + f.bias) << f.mant) | (m - 2 ** f.mant);
}

/** One element src → dst with the plan's affine (r = round_to_src(x + add); y = r * mul), in f32 as torch does. */
export function convertBits(src: DType, dst: DType, bits: number, affine?: { add?: number; mul?: number }): number {
  if (!affine || (affine.add === undefined && affine.mul === undefined)) {
    if (src === dst) return bits;
    return narrow(dst, widen(src, bits), src);
  }
  let x = widen(src, bits);
  // x86 arithmetic passes a NaN operand through, quieted, payload kept; JS numbers would lose the payload
  const f32op = (a: number, op: (v: number) => number) => (isNaNBits(a) ? (a | 0x400000) >>> 0 : f32ToBits(Math.fround(op(bitsToF32(a)))));
  if (affine.add !== undefined) {
    const add = Math.fround(affine.add);
    const sum = f32op(x, (v) => v + add);
    x = src === 'float32' ? sum : widen(src, narrow(src, sum, 'float32'));
  }
  if (affine.mul !== undefined) {
    const mul = Math.fround(affine.mul);
    const prod = f32op(x, (v) => v * mul);
    return narrow(dst, prod, 'float32');
  }
  return dst === src ? narrow(dst, x, 'float32') : narrow(dst, x, src);
}
