import { fail } from '../errors.js';

/** Product of dims, refusing anything that would leave the exactly-representable integer range. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) fail('E_SHAPE', `invalid dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
    if (!Number.isSafeInteger(n)) fail('E_SHAPE', `shape [${shape.join(', ')}] has too many elements`);
  }
  return n;
}

/** Row-major strides (in elements) of a contiguous tensor of this shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function normDim(dim: number, rank: number): number {
  const d = dim < 0 ? dim + rank : dim;
  if (!Number.isInteger(d) || d < 0 || d >= rank) fail('E_SHAPE', `dimension ${dim} out of range for rank ${rank}`);
  return d;
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
