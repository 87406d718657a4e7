// Test support: an independent model of tensor ops by plain index arithmetic, to check lib/tensor against.
// A Ref holds element ids row-major; every op is written as "output index → input index", nothing is shared with lib.
import { expect } from 'vitest';
import { ExportError, type ErrorCode } from '../../lib/errors.js';
import type { Tensor } from '../../lib/tensor/tensor.js';
import { fromView } from '../../lib/tensor/tensor.js';
import type { View } from '../../lib/tensor/view.js';
import { materialize } from '../support/materialize.js';
import { rng, type Rng } from '../support/rng.js';

export interface Ref {
  readonly shape: number[];
  readonly data: number[];
}

export function count(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Calls fn for every index of shape, in row-major order. */
export function eachIndex(shape: readonly number[], fn: (idx: number[]) => void): void {
  if (shape.some((d) => d === 0)) return;
  const idx = shape.map(() => 0);
  for (;;) {
    fn(idx);
    let d = shape.length - 1;
    while (d >= 0 && ++idx[d]! === shape[d]!) idx[d--] = 0;
    if (d < 0) return;
  }
}

export function flatIndex(shape: readonly number[], idx: readonly number[]): number {
  let f = 0;
  for (let i = 0; i < shape.length; i++) f = f * shape[i]! + idx[i]!;
  return f;
}

export function refGet(r: Ref, idx: readonly number[]): number {
  return r.data[flatIndex(r.shape, idx)]!;
}

export function refFrom(shape: number[], at: (idx: number[]) => number): Ref {
  const data: number[] = [];
  eachIndex(shape, (idx) => data.push(at(idx)));
  return { shape, data };
}

export function refIota(shape: number[], first = 0): Ref {
  return { shape, data: Array.from({ length: count(shape) }, (_, i) => first + i) };
}

export function refNarrow(r: Ref, dim: number, start: number, length: number): Ref {
  const shape = r.shape.map((d, i) => (i === dim ? length : d));
  return refFrom(shape, (idx) => refGet(r, idx.map((x, i) => (i === dim ? x + start : x))));
}

export function refPermute(r: Ref, dims: readonly number[]): Ref {
  return refFrom(
    dims.map((d) => r.shape[d]!),
    (idx) => {
      const src = new Array<number>(r.shape.length);
      dims.forEach((d, i) => (src[d] = idx[i]!));
      return refGet(r, src);
    },
  );
}

export function refReshape(r: Ref, shape: number[]): Ref {
  return { shape, data: r.data };
}

export function refUnsqueeze(r: Ref, dim: number): Ref {
  const shape = [...r.shape];
  shape.splice(dim, 0, 1);
  return { shape, data: r.data };
}

export function refExpand(r: Ref, shape: number[]): Ref {
  const lead = shape.length - r.shape.length;
  return refFrom(shape, (idx) => refGet(r, r.shape.map((own, i) => (own === 1 ? 0 : idx[i + lead]!))));
}

export function refCat(parts: readonly Ref[], dim: number): Ref {
  const shape = [...parts[0]!.shape];
  shape[dim] = parts.reduce((a, p) => a + p.shape[dim]!, 0);
  return refFrom(shape, (idx) => {
    let x = idx[dim]!;
    for (const p of parts) {
      if (x < p.shape[dim]!) return refGet(p, idx.map((v, i) => (i === dim ? x : v)));
      x -= p.shape[dim]!;
    }
    throw new Error('unreachable');
  });
}

/** Element ids stored in int32 memory, so a materialised view reads back which ids it reaches. */
export function int32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Int32Array.from(values).buffer);
}

export function readView(v: View): number[] {
  return readTensor(fromView(v));
}

export function readTensor(t: Tensor): number[] {
  const bytes = materialize(t);
  return Array.from(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
}

export { rng, type Rng };

export function randomShape(r: Rng, maxRank = 4, maxDim = 4, minDim = 0): number[] {
  return Array.from({ length: r.int(0, maxRank) }, () => r.int(minDim, maxDim));
}

/** A shape with the same element count: the prime factors regrouped, with some 1s sprinkled in. */
export function randomReshapeTarget(r: Rng, n: number): number[] {
  if (n === 0) return r.shuffle([0, ...randomShape(r, 2, 3, 1)]);
  const factors: number[] = [];
  for (let x = n, f = 2; x > 1; ) {
    if (x % f === 0) {
      factors.push(f);
      x /= f;
    } else f++;
  }
  const out: number[] = [];
  for (const f of r.shuffle(factors)) {
    if (out.length && r.chance(0.4)) out[out.length - 1]! *= f;
    else out.push(f);
  }
  for (let k = r.int(0, 2); k > 0; k--) out.splice(r.int(0, out.length), 0, 1);
  return out;
}

/** Splits n into parts (some possibly empty when allowEmpty) that add up to n. */
export function randomSizes(r: Rng, n: number, parts: number, allowEmpty = true): number[] {
  // without empties, cuts fall strictly inside (0, n) where there is room; a tiny n still yields empty parts
  const lo = allowEmpty || n < 2 ? 0 : 1;
  const hi = allowEmpty || n < 2 ? n : n - 1;
  const cuts = Array.from({ length: parts - 1 }, () => r.int(lo, hi)).sort((a, b) => a - b);
  const sizes: number[] = [];
  let prev = 0;
  for (const c of [...cuts, n]) {
    sizes.push(c - prev);
    prev = c;
  }
  return sizes;
}

/** Runs fn and returns the ExportError code it throws, or null if it returns. Any other throw fails the test. */
export function errorCode(fn: () => unknown): ErrorCode | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!(e instanceof ExportError)) throw e;
    return e.code;
  }
}

export function expectCode(fn: () => unknown, code: ErrorCode): void {
  expect(errorCode(fn)).toBe(code);
}
