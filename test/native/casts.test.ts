// Cast exactness: the native kernels against the independent IEEE implementation in test/support/ieee.ts.
import { describe, expect, it } from 'vitest';
import { loadNative } from '../../lib/native.js';
import { DTYPES, type DType } from '../../lib/tensor/dtype.js';
import { convertBits } from '../support/ieee.js';
import { rng } from '../support/rng.js';

const native = loadNative();
const FLOATS: DType[] = ['float32', 'float16', 'bfloat16', 'float8_e4m3fn', 'float8_e5m2'];

function convert(src: DType, dst: DType, bits: ArrayLike<number>, affine?: { add?: number; mul?: number }): Uint32Array {
  const sSize = DTYPES[src].itemsize;
  const input = new Uint8Array(bits.length * sSize);
  const view = new DataView(input.buffer);
  for (let i = 0; i < bits.length; i++) {
    if (sSize === 4) view.setUint32(i * 4, bits[i]!, true);
    else if (sSize === 2) view.setUint16(i * 2, bits[i]!, true);
    else view.setUint8(i, bits[i]!);
  }
  const out = native.convertBuffer(input, DTYPES[src].code, DTYPES[dst].code, affine?.add, affine?.mul);
  const dSize = DTYPES[dst].itemsize;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const res = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) res[i] = dSize === 4 ? dv.getUint32(i * 4, true) : dSize === 2 ? dv.getUint16(i * 2, true) : dv.getUint8(i);
  return res;
}

/** Indices where native and reference differ, as readable strings (empty when equal). */
function mismatches(src: DType, dst: DType, bits: ArrayLike<number>, affine?: { add?: number; mul?: number }): string[] {
  const got = convert(src, dst, bits, affine);
  const bad: string[] = [];
  for (let i = 0; i < bits.length && bad.length < 10; i++) {
    const want = convertBits(src, dst, bits[i]!, affine);
    if (got[i] !== want) bad.push(`${src} 0x${bits[i]!.toString(16)} → ${dst}: native 0x${got[i]!.toString(16)}, reference 0x${want.toString(16)}`);
  }
  return bad;
}

const ALL16 = Uint32Array.from({ length: 65536 }, (_, i) => i);
const ALL8 = Uint32Array.from({ length: 256 }, (_, i) => i);

/** Seeded random words so failures reproduce. */
function randomBits(n: number, seed: number): Uint32Array {
  const r = rng(seed);
  return Uint32Array.from({ length: n }, r.u32);
}

const SPECIALS = Uint32Array.from([
  0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xff812345, 0x7fbfffff,
  0x00000001, 0x807fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbf800000,
  0x477fe000, 0x477fefff, 0x477ff000, 0x477ff001, 0x47800000, // around f16 max 65504 / rounding to Inf
  0x33000000, 0x33000001, 0x33800000, 0x387fc000, 0x387fe000, 0x38800000, // f16 subnormal edges
  0x43e00000, 0x43e80000, 0x43f00000, 0x43efffff, 0x3b000000, 0x3a800000, 0x3a800001, 0x3c7fffff, // e4m3fn edges
  0x47600000, 0x476fffff, 0x47700000, 0x37800000, 0x37000000, 0x37000001, // e5m2 edges
  0x7f7f8000, 0x7f7f7fff, 0x3f808000, 0x3f818000, 0x3f80ffff, // bf16 ties and overflow
]);

describe('cast exactness against an independent IEEE implementation', () => {
  it('every bf16 and fp16 bit pattern widens to f32 exactly and narrows back to itself', () => {
    for (const d of ['bfloat16', 'float16'] as DType[]) {
      expect(mismatches(d, 'float32', ALL16)).toEqual([]);
      const wide = convert(d, 'float32', ALL16);
      expect(mismatches('float32', d, wide)).toEqual([]);
      const back = convert('float32', d, wide);
      for (let i = 0; i < 65536; i++) {
        const isNan = d === 'float16' ? (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0 : (i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0;
        if (!isNan) expect(back[i]).toBe(i); // finite values and infinities round-trip bit for bit
      }
    }
  });

  it('every bf16 and fp16 pattern converts to every other float dtype as the reference says', () => {
    for (const s of ['bfloat16', 'float16'] as DType[]) for (const d of FLOATS) if (d !== s) expect(mismatches(s, d, ALL16)).toEqual([]);
  });

  it('every fp8 pattern converts to every float dtype as the reference says', () => {
    for (const s of ['float8_e4m3fn', 'float8_e5m2'] as DType[]) for (const d of FLOATS) if (d !== s) expect(mismatches(s, d, ALL8)).toEqual([]);
  });

  it('1M random f32 values and the edge cases narrow to every float dtype as the reference says', () => {
    const bits = new Uint32Array(1_000_000 + SPECIALS.length);
    bits.set(randomBits(1_000_000, 12345));
    bits.set(SPECIALS, 1_000_000);
    // random bit patterns are mostly huge or tiny; mix in values of ordinary magnitude
    const normal = new Float32Array(bits.buffer, 0, 400_000);
    for (let i = 0; i < 400_000; i++) normal[i] = (bits[i]! / 2 ** 32 - 0.5) * 2 ** ((bits[i]! % 40) - 20);
    for (const d of ['float16', 'bfloat16', 'float8_e4m3fn', 'float8_e5m2'] as DType[]) expect(mismatches('float32', d, bits)).toEqual([]);
  });

  it('affine arithmetic rounds in the source dtype, then scales in f32', () => {
    const bits = randomBits(40_000, 99);
    const v16 = bits.map((b) => b & 0xffff);
    for (const s of ['bfloat16', 'float16'] as DType[]) {
      for (const d of FLOATS) {
        expect(mismatches(s, d, v16, { add: 1 })).toEqual([]);
        expect(mismatches(s, d, v16, { mul: 0.37 })).toEqual([]);
        expect(mismatches(s, d, v16, { add: -0.5, mul: 3.5 })).toEqual([]);
      }
    }
    for (const d of FLOATS) expect(mismatches('float32', d, bits, { add: 1, mul: 1 / 3 })).toEqual([]);
  });

  it('same-dtype copies of integer types keep the bits; integer ↔ float casts are refused', () => {
    const bytes = Uint8Array.from(randomBits(64, 7).map((b) => b & 0xff));
    for (const d of ['int8', 'uint8', 'int32', 'int64', 'bool'] as DType[]) {
      expect(Buffer.from(native.convertBuffer(bytes, DTYPES[d].code, DTYPES[d].code))).toEqual(Buffer.from(bytes));
    }
    expect(() => native.convertBuffer(bytes, DTYPES.int32.code, DTYPES.float32.code)).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED' }));
  });
});
