// An independent TypeScript reference of the quantization formulas (native/src/quant_core.h): float64 arithmetic
// rounded to f32 with Math.fround (exact for one division: 53 ≥ 2·24 + 2 bits), fp8 by nearest-value search over
// the 127 finite positive e4m3fn values, bf16/f16 scale rounding by nearest representable value. Used only by tests.
export type Kind = 'int8' | 'int4' | 'fp8';
export type ScaleDtype = 'float32' | 'bfloat16' | 'float16';

const QMAX: Record<Kind, number> = { int8: 127, int4: 7, fp8: 448 };

/** Round half to even. */
export function rne(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// all finite e4m3fn magnitudes, code 0..126 (127 is NaN)
const E4M3: number[] = Array.from({ length: 127 }, (_, c) => {
  const e = c >> 3;
  const m = c & 7;
  return e === 0 ? m * 2 ** -9 : (1 + m / 8) * 2 ** (e - 7);
});

export function e4m3Code(v: number): number {
  if (Number.isNaN(v)) return 0x7f;
  const sign = v < 0 || Object.is(v, -0) ? 0x80 : 0;
  const a = Math.abs(v);
  if (a >= 448) return sign | 126;
  let best = 0;
  for (let c = 1; c < 127; c++) {
    const dBest = Math.abs(E4M3[best]! - a);
    const d = Math.abs(E4M3[c]! - a);
    if (d < dBest || (d === dBest && c % 2 === 0)) best = c;
  }
  return sign | best;
}

function nearestIn(values: readonly number[], a: number, evenCode: (i: number) => boolean): number {
  let lo = 0;
  let hi = values.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const dl = a - values[lo]!;
  const dh = values[hi]! - a;
  return dl < dh || (dl === dh && evenCode(lo)) ? values[lo]! : values[hi]!;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f32 value rounded to the scale dtype (positive finite inputs). */
export function roundScale(s: number, d: ScaleDtype): number {
  if (d === 'float32') return Math.fround(s);
  if (d === 'bfloat16') {
    f32[0] = s;
    const lo = u32[0]! & 0xffff0000;
    f32[0] = 0;
    u32[0] = lo;
    const down = f32[0]!;
    u32[0] = lo + 0x10000;
    const up = f32[0]!;
    return nearestIn([down, up], s, () => (lo & 0x10000) === 0);
  }
  // float16: 2^-24 steps below 2^-14, 11 significant bits above; beyond 65504 → Inf at ≥ 65520
  if (s >= 65520) return Infinity;
  const e = Math.max(-14, Math.floor(Math.log2(s)));
  const step = 2 ** (e - 10);
  const k = s / step;
  return rne(k) * step;
}

function scaleBytes(s: number, d: ScaleDtype): number[] {
  f32[0] = s;
  const bits = u32[0]!;
  if (d === 'float32') return [bits & 255, (bits >>> 8) & 255, (bits >>> 16) & 255, bits >>> 24];
  if (d === 'bfloat16') return [(bits >>> 16) & 255, bits >>> 24];
  // f16 from an exactly representable value
  if (s === Infinity) return [0x00, 0x7c];
  const e = Math.floor(Math.log2(s));
  const h = e < -14 ? Math.round(s / 2 ** -24) : ((e + 15) << 10) | Math.round((s / 2 ** e - 1) * 1024);
  return [h & 255, h >> 8];
}

/** Values bytes (row-major; int4 two per byte, even column low) and scale bytes of W [rows, cols] (f32 values). */
export function referenceQuantize(w: Float32Array, rows: number, cols: number, kind: Kind, block: [number, number], scaleDtype: ScaleDtype): { values: Uint8Array; scales: Uint8Array } {
  const [br, bc] = block;
  const nbr = Math.ceil(rows / br);
  const nbc = Math.ceil(cols / bc);
  const scale = new Float64Array(nbr * nbc);
  const scales: number[] = [];
  for (let i = 0; i < nbr; i++) {
    for (let j = 0; j < nbc; j++) {
      let amax = 0;
      for (let r = i * br; r < Math.min(rows, (i + 1) * br); r++) for (let c = j * bc; c < Math.min(cols, (j + 1) * bc); c++) amax = Math.max(amax, Math.abs(w[r * cols + c]!));
      let s = roundScale(Math.fround(amax / QMAX[kind]), scaleDtype);
      if (s === 0) s = 1;
      scale[i * nbc + j] = s;
      scales.push(...scaleBytes(s, scaleDtype));
    }
  }
  const codes = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const s = scale[Math.floor(r / br) * nbc + Math.floor(c / bc)]!;
      const v = Math.fround(w[r * cols + c]! / s);
      if (kind === 'fp8') codes[r * cols + c] = e4m3Code(v);
      else codes[r * cols + c] = rne(Math.min(Math.max(v, -QMAX[kind] - 1), QMAX[kind])) + QMAX[kind] + 1;
    }
  }
  if (kind !== 'int4') return { values: codes, scales: Uint8Array.from(scales) };
  const packed = new Uint8Array((rows * cols) / 2);
  for (let i = 0; i < packed.length; i++) packed[i] = codes[2 * i]! | (codes[2 * i + 1]! << 4);
  return { values: packed, scales: Uint8Array.from(scales) };
}
