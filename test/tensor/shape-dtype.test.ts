// lib/tensor/shape.ts and dtype.ts: element counts, strides, dims, dtype tables and name parsing.
import { describe, expect, it } from 'vitest';
import { ALL_DTYPES, DTYPES, dtypeFromSafetensors, isDType, itemsize, parseDType } from '../../lib/tensor/dtype.js';
import { contiguousStrides, fmtShape, normDim, numel, sameShape } from '../../lib/tensor/shape.js';
import { count, eachIndex, expectCode, flatIndex, randomShape, rng } from './reference.js';

describe('shape helpers', () => {
  it('numel and contiguousStrides agree with enumerating every index', () => {
    const r = rng(17);
    for (let i = 0; i < 500; i++) {
      const shape = randomShape(r, 5, 5);
      expect(numel(shape)).toBe(count(shape));
      const strides = contiguousStrides(shape);
      let k = 0;
      eachIndex(shape, (idx) => {
        expect(idx.reduce((a, x, d) => a + x * strides[d]!, 0)).toBe(k);
        expect(flatIndex(shape, idx)).toBe(k++);
      });
      expect(k).toBe(count(shape));
    }
    expect(numel([])).toBe(1);
    expect(contiguousStrides([])).toEqual([]);
  });

  it('numel refuses negative, fractional, unsafe dims and overflowing products', () => {
    expectCode(() => numel([2, -1]), 'E_SHAPE');
    expectCode(() => numel([1.5]), 'E_SHAPE');
    expectCode(() => numel([Number.NaN]), 'E_SHAPE');
    expectCode(() => numel([2 ** 53]), 'E_SHAPE');
    expectCode(() => numel([2 ** 30, 2 ** 30, 2 ** 30]), 'E_SHAPE');
    expect(numel([2 ** 26, 2 ** 26])).toBe(2 ** 52);
    expect(numel([0, 2 ** 40])).toBe(0);
  });

  it('normDim maps negative dims and refuses the rest', () => {
    for (let rank = 0; rank < 5; rank++) {
      for (let d = -rank; d < rank; d++) expect(normDim(d, rank)).toBe(d < 0 ? d + rank : d);
      expectCode(() => normDim(rank, rank), 'E_SHAPE');
      expectCode(() => normDim(-rank - 1, rank), 'E_SHAPE');
    }
    expectCode(() => normDim(0.5, 2), 'E_SHAPE');
  });

  it('sameShape and fmtShape', () => {
    expect(sameShape([2, 3], [2, 3])).toBe(true);
    expect(sameShape([2, 3], [3, 2])).toBe(false);
    expect(sameShape([2], [2, 1])).toBe(false);
    expect(sameShape([], [])).toBe(true);
    expect(fmtShape([4, 0, 1])).toBe('[4, 0, 1]');
  });
});

describe('dtype tables', () => {
  it('every dtype has a unique safetensors name and code, and round-trips', () => {
    expect(new Set(ALL_DTYPES.map((d) => DTYPES[d].safetensors)).size).toBe(ALL_DTYPES.length);
    expect(new Set(ALL_DTYPES.map((d) => DTYPES[d].code)).size).toBe(ALL_DTYPES.length);
    for (const d of ALL_DTYPES) {
      expect(dtypeFromSafetensors(DTYPES[d].safetensors)).toBe(d);
      expect(isDType(d)).toBe(true);
      expect(parseDType(d)).toBe(d);
      expect(parseDType(`torch.${d}`)).toBe(d);
    }
    expect(dtypeFromSafetensors('F64')).toBeUndefined();
    expect(dtypeFromSafetensors('toString')).toBeUndefined();
    expect(isDType('toString')).toBe(false);
    expect(isDType('__proto__')).toBe(false);
  });

  it('itemsizes are the bit widths of the names (F32 = 4 bytes, BF16 = 2, F8_* = 1, ...)', () => {
    const bits: Record<string, number> = { F32: 32, F16: 16, BF16: 16, F8_E4M3: 8, F8_E5M2: 8, I8: 8, U8: 8, I32: 32, I64: 64, BOOL: 8 };
    for (const d of ALL_DTYPES) expect(itemsize(d) * 8, d).toBe(bits[DTYPES[d].safetensors]);
  });

  it('parseDType accepts the usual aliases and refuses the rest with E_USAGE', () => {
    expect(parseDType('bf16')).toBe('bfloat16');
    expect(parseDType('FP16')).toBe('float16');
    expect(parseDType('half')).toBe('float16');
    expect(parseDType('fp32')).toBe('float32');
    expect(parseDType('float')).toBe('float32');
    expect(parseDType('fp8')).toBe('float8_e4m3fn');
    expect(parseDType('torch.BFloat16')).toBe('bfloat16');
    expectCode(() => parseDType('float64'), 'E_USAGE');
    expectCode(() => parseDType(''), 'E_USAGE');
    expectCode(() => parseDType('toString'), 'E_USAGE');
    expectCode(() => parseDType('constructor'), 'E_USAGE');
    expectCode(() => parseDType('__proto__'), 'E_USAGE');
  });
});
