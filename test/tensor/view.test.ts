// lib/tensor/view.ts against the index-arithmetic model (reference.ts): random strided views, random op chains,
// each step's elements read back through test/support/materialize.ts and compared with the model.
import { describe, expect, it } from 'vitest';
import { sameShape } from '../../lib/tensor/shape.js';
import * as V from '../../lib/tensor/view.js';
import type { View } from '../../lib/tensor/view.js';
import {
  count, eachIndex, errorCode, expectCode, flatIndex, int32Bytes, randomShape, randomSizes, readView, type Ref, refExpand,
  randomReshapeTarget, refFrom, refNarrow, refPermute, refReshape, refUnsqueeze, rng, type Rng,
} from './reference.js';

/**
 * A view of shape S whose memory is a padded, dimension-permuted box inside a larger int32 storage, so offsets
 * and strides are all non-trivial. The storage holds each element's own address, so the model is the address.
 */
function randomView(r: Rng, shape = randomShape(r)): { view: View; ref: Ref } {
  const rank = shape.length;
  const p = r.shuffle(shape.map((_, i) => i)); // memory dim k holds view dim p[k]
  const padded = p.map((d) => shape[d]! + r.int(0, 2));
  const starts = p.map((d, k) => r.int(0, padded[k]! - shape[d]!));
  const lead = r.int(0, 3);
  const storage = { kind: 'memory' as const, bytes: int32Bytes(Array.from({ length: lead + count(padded) + r.int(0, 2) }, (_, i) => i)) };
  let view = V.contiguousView(storage, 'int32', padded, lead);
  p.forEach((d, k) => (view = V.narrow(view, k, starts[k]!, shape[d]!)));
  const inverse = new Array<number>(rank);
  p.forEach((d, k) => (inverse[d] = k));
  view = V.permute(view, inverse);
  const ref = refFrom([...shape], (idx) => lead + flatIndex(padded, p.map((d, k) => idx[d]! + starts[k]!)));
  return { view, ref };
}

/** Independent oracle for a copy-free reshape: the addresses must be an affine function of the new index. */
function viewableAs(ref: Ref, shape: number[]): number[] | null {
  if (count(shape) === 0) return shape.map(() => 0);
  const base = ref.data[0]!;
  const strides = shape.map((d, j) => (d > 1 ? ref.data[flatIndex(shape, shape.map((_, i) => (i === j ? 1 : 0)))]! - base : null));
  let ok = true;
  eachIndex(shape, (idx) => {
    const addr = idx.reduce((a, x, j) => a + (x === 0 ? 0 : x * strides[j]!), base);
    if (addr !== ref.data[flatIndex(shape, idx)]) ok = false;
  });
  return ok ? strides.map((s) => s ?? 0) : null;
}

type Step = (r: Rng, view: View, ref: Ref) => { view: View; ref: Ref; op: string } | null;

const steps: Record<string, Step> = {
  narrow(r, view, ref) {
    if (ref.shape.length === 0) return null;
    const d = r.int(0, ref.shape.length - 1);
    const size = ref.shape[d]!;
    const start = r.int(0, size);
    const length = r.int(0, size - start);
    const dimArg = r.chance(0.3) ? d - ref.shape.length : d; // negative dims count from the end
    return { view: V.narrow(view, dimArg, start, length), ref: refNarrow(ref, d, start, length), op: `narrow(${dimArg}, ${start}, ${length})` };
  },
  chunk(r, view, ref) {
    if (ref.shape.length === 0) return null;
    const d = r.int(0, ref.shape.length - 1);
    const size = ref.shape[d]!;
    const divisors = Array.from({ length: Math.max(size, 1) }, (_, i) => i + 1).filter((n) => size % n === 0);
    const n = r.pick(divisors);
    const parts = V.chunk(view, n, d);
    expect(parts.length).toBe(n);
    parts.forEach((p, i) => expect(readView(p)).toEqual(refNarrow(ref, d, (i * size) / n, size / n).data));
    const i = r.int(0, n - 1);
    return { view: parts[i]!, ref: refNarrow(ref, d, (i * size) / n, size / n), op: `chunk(${n}, ${d})[${i}]` };
  },
  split(r, view, ref) {
    if (ref.shape.length === 0) return null;
    const d = r.int(0, ref.shape.length - 1);
    const sizes = randomSizes(r, ref.shape[d]!, r.int(1, 3));
    const parts = V.split(view, sizes, d);
    let start = 0;
    const refs = sizes.map((s) => refNarrow(ref, d, (start += s) - s, s));
    parts.forEach((p, i) => expect(readView(p)).toEqual(refs[i]!.data));
    const i = r.int(0, sizes.length - 1);
    return { view: parts[i]!, ref: refs[i]!, op: `split([${sizes}], ${d})[${i}]` };
  },
  permute(r, view, ref) {
    const dims = r.shuffle(ref.shape.map((_, i) => i));
    const arg = dims.map((d) => (r.chance(0.2) ? d - dims.length : d));
    return { view: V.permute(view, arg), ref: refPermute(ref, dims), op: `permute([${arg}])` };
  },
  transpose(r, view, ref) {
    if (ref.shape.length === 0) return null;
    const a = r.int(0, ref.shape.length - 1);
    const b = r.int(0, ref.shape.length - 1);
    const dims = ref.shape.map((_, i) => (i === a ? b : i === b ? a : i));
    return { view: V.transpose(view, a, b), ref: refPermute(ref, dims), op: `transpose(${a}, ${b})` };
  },
  unsqueeze(r, view, ref) {
    if (ref.shape.length >= 5) return null;
    const d = r.int(0, ref.shape.length);
    return { view: V.unsqueeze(view, d), ref: refUnsqueeze(ref, d), op: `unsqueeze(${d})` };
  },
  expand(r, view, ref) {
    if (count(ref.shape) > 200) return null;
    const lead = ref.shape.length < 4 ? r.int(0, 1) : 0;
    const shape = [...Array.from({ length: lead }, () => r.int(1, 3)), ...ref.shape.map((d) => (d === 1 ? r.int(0, 3) : d))];
    return { view: V.expand(view, shape), ref: refExpand(ref, shape), op: `expand([${shape}])` };
  },
  reshape(r, view, ref) {
    const target = randomReshapeTarget(r, count(ref.shape));
    const arg = count(target) > 0 && target.length && r.chance(0.3) ? target.map((d, i, a) => (i === a.indexOf(Math.max(...a)) && d > 0 ? -1 : d)) : target;
    const strides = viewableAs(ref, target);
    const code = errorCode(() => V.reshape(view, arg));
    if (strides === null) {
      // The oracle says no strides can do it: the view must refuse (unless the shape is unchanged).
      if (!sameShape(target, ref.shape)) expect(code, `reshape [${ref.shape}] strides [${view.strides}] → [${target}]`).toBe('E_SHAPE');
      return null;
    }
    expect(code, `reshape [${ref.shape}] strides [${view.strides}] → [${arg}] is possible with strides [${strides}]`).toBeNull();
    const out = V.reshape(view, arg);
    expect(out.shape).toEqual(target);
    return { view: out, ref: refReshape(ref, target), op: `reshape([${arg}])` };
  },
};

describe('view algebra vs the index model', () => {
  it('random base views read back their addresses', () => {
    const r = rng(1);
    for (let i = 0; i < 300; i++) {
      const { view, ref } = randomView(r);
      expect(readView(view)).toEqual(ref.data);
      V.checkInBounds(view);
    }
  });

  for (const name of Object.keys(steps)) {
    it(`${name}: 400 random cases on random strided views`, () => {
      const r = rng(name.length * 1000 + name.charCodeAt(0));
      let done = 0;
      for (let i = 0; i < 400; i++) {
        const { view, ref } = randomView(r);
        const out = steps[name]!(r, view, ref);
        if (!out) continue;
        done++;
        expect(out.view.shape, out.op).toEqual(out.ref.shape);
        expect(readView(out.view), `${out.op} of [${ref.shape}]`).toEqual(out.ref.data);
        V.checkInBounds(out.view);
      }
      expect(done).toBeGreaterThan(100);
    });
  }

  it('chains of up to 8 random ops stay equal to the model', () => {
    const r = rng(42);
    const names = Object.keys(steps);
    let applied = 0;
    for (let i = 0; i < 1500; i++) {
      let { view, ref } = randomView(r);
      const trail: string[] = [`[${ref.shape}]`];
      for (let k = r.int(1, 8); k > 0; k--) {
        const out = steps[r.pick(names)]!(r, view, ref);
        if (!out) continue;
        trail.push(out.op);
        ({ view, ref } = out);
        applied++;
        expect(view.shape, trail.join(' → ')).toEqual(ref.shape);
        expect(readView(view), trail.join(' → ')).toEqual(ref.data);
      }
    }
    expect(applied).toBeGreaterThan(5000);
  });

  it('reshape finds the torch strides for every viewable case, and refuses the rest', () => {
    const r = rng(7);
    let viewable = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      let { view, ref } = randomView(r, randomShape(r, 4, 4, 1));
      if (r.chance(0.3)) {
        const out = steps['expand']!(r, V.unsqueeze(view, 0), refUnsqueeze(ref, 0));
        if (out) ({ view, ref } = out);
      }
      const target = randomReshapeTarget(r, count(ref.shape));
      const strides = viewableAs(ref, target);
      if (strides === null) {
        if (!sameShape(target, ref.shape)) {
          expectCode(() => V.reshape(view, target), 'E_SHAPE');
          refused++;
        }
        continue;
      }
      const out = V.reshape(view, target);
      viewable++;
      // strides of dims of size > 1 are determined by the addresses; size-1 dims may have any stride
      if (count(target) > 0) out.strides.forEach((s, j) => target[j]! > 1 && expect(s, `[${ref.shape}] strides [${view.strides}] → [${target}]: [${out.strides}]`).toBe(strides[j]));
      expect(readView(out)).toEqual(ref.data);
    }
    expect(viewable).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(500);
  });
});

describe('view constructors and bounds', () => {
  it('contiguousView and memoryView refuse views reaching outside the storage', () => {
    const bytes = int32Bytes([0, 1, 2, 3, 4, 5]);
    expect(readView(V.memoryView(bytes, 'int32', [2, 3]))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(readView(V.contiguousView({ kind: 'memory', bytes }, 'int32', [2, 2], 2))).toEqual([2, 3, 4, 5]);
    expectCode(() => V.contiguousView({ kind: 'memory', bytes }, 'int32', [2, 2], 3), 'E_FORMAT');
    expectCode(() => V.memoryView(bytes, 'int32', [7]), 'E_FORMAT');
    expectCode(() => V.memoryView(bytes, 'int64', [4]), 'E_FORMAT');
    expectCode(() => V.contiguousView({ kind: 'memory', bytes }, 'int32', [1], -1), 'E_FORMAT');
    expectCode(() => V.contiguousView({ kind: 'file', path: '/x', byteOffset: 0, byteLength: 23 }, 'int32', [6]), 'E_FORMAT');
    expect(V.contiguousView({ kind: 'file', path: '/x', byteOffset: 0, byteLength: 24 }, 'int32', [6]).strides).toEqual([1]);
    // an empty view reaches nothing, wherever its offset points
    expect(V.reach(V.contiguousView({ kind: 'memory', bytes }, 'int32', [0, 3], 100))).toBeNull();
    expectCode(() => V.memoryView(bytes, 'int32', [2, -3]), 'E_SHAPE');
  });

  it('checkInBounds names the file and tensor it was given', () => {
    const v: View = { storage: { kind: 'memory', bytes: new Uint8Array(8) }, dtype: 'int32', shape: [3], strides: [1], offset: 0 };
    try {
      V.checkInBounds(v, { file: 'f.bin', tensor: 'w' });
      expect.unreachable();
    } catch (e) {
      expect((e as { file?: string; tensor?: string }).file).toBe('f.bin');
      expect((e as { tensor?: string }).tensor).toBe('w');
    }
    // strides that would walk backwards out of the storage
    expectCode(() => V.checkInBounds({ ...v, shape: [2], strides: [-1], offset: 0 }), 'E_FORMAT');
    V.checkInBounds({ ...v, shape: [2], strides: [-1], offset: 1 });
  });

  it('zeros and isContiguous', () => {
    const z = V.zerosView('bfloat16', [2, 3]);
    expect(z.strides).toEqual([0, 0]);
    expect(Array.from(new Uint16Array(readZeros(z)))).toEqual([0, 0, 0, 0, 0, 0]);
    const r = rng(3);
    for (let i = 0; i < 300; i++) {
      const { view, ref } = randomView(r);
      // contiguous ⇔ the addresses are consecutive (for views with at least one element)
      const consecutive = ref.data.every((a, k) => a === ref.data[0]! + k);
      if (ref.data.length > 0) expect(V.isContiguous(view), `[${ref.shape}] strides [${view.strides}]`).toBe(consecutive);
    }
  });
});

function readZeros(v: View): ArrayBuffer {
  const out = new Uint8Array(count(v.shape) * 2);
  expect(v.storage.kind).toBe('zeros');
  return out.buffer;
}

describe('view errors are E_SHAPE', () => {
  const v = V.memoryView(int32Bytes(Array.from({ length: 24 }, (_, i) => i)), 'int32', [2, 3, 4]);
  it('out-of-range narrow, chunk, split', () => {
    expectCode(() => V.narrow(v, 0, 1, 2), 'E_SHAPE');
    expectCode(() => V.narrow(v, 1, -1, 1), 'E_SHAPE');
    expectCode(() => V.narrow(v, 2, 0, -1), 'E_SHAPE');
    expectCode(() => V.narrow(v, 2, 0.5, 1), 'E_SHAPE');
    expectCode(() => V.narrow(v, 3, 0, 1), 'E_SHAPE');
    expectCode(() => V.narrow(v, -4, 0, 1), 'E_SHAPE');
    expect(V.narrow(v, -1, 4, 0).shape).toEqual([2, 3, 0]);
    expectCode(() => V.chunk(v, 3, 2), 'E_SHAPE');
    expectCode(() => V.chunk(v, 0, 0), 'E_SHAPE');
    expectCode(() => V.split(v, [1, 1], 2), 'E_SHAPE');
    expectCode(() => V.split(v, [5, -1], 2), 'E_SHAPE');
  });
  it('bad permutations', () => {
    expectCode(() => V.permute(v, [0, 1]), 'E_SHAPE');
    expectCode(() => V.permute(v, [0, 1, 1]), 'E_SHAPE');
    expectCode(() => V.permute(v, [0, 1, 2, 3]), 'E_SHAPE');
    expectCode(() => V.permute(v, [0, 1, 3]), 'E_SHAPE');
    expectCode(() => V.permute(v, [0, -1, 2]), 'E_SHAPE');
    expectCode(() => V.transpose(v, 0, 3), 'E_SHAPE');
    expectCode(() => V.unsqueeze(v, 4), 'E_SHAPE');
  });
  it('impossible expand and reshape', () => {
    expectCode(() => V.expand(v, [2, 3]), 'E_SHAPE');
    expectCode(() => V.expand(v, [2, 6, 4]), 'E_SHAPE');
    expectCode(() => V.reshape(v, [5, 5]), 'E_SHAPE');
    expectCode(() => V.reshape(v, [-1, -1]), 'E_SHAPE');
    expectCode(() => V.reshape(v, [-1, 5]), 'E_SHAPE');
    expectCode(() => V.reshape(v, [-2, -12]), 'E_SHAPE');
    expectCode(() => V.reshape(V.transpose(v, 1, 2), [2, 12]), 'E_SHAPE');
    expectCode(() => V.reshape(V.expand(V.narrow(v, 0, 0, 1), [2, 3, 4]), [24]), 'E_SHAPE');
    expect(V.reshape(v, [-1, 6]).shape).toEqual([4, 6]);
    // -1 next to a 0 could be anything (torch refuses too)
    expectCode(() => V.reshape(V.narrow(v, 1, 0, 0), [-1, 0]), 'E_SHAPE');
    expect(V.reshape(V.narrow(v, 1, 0, 0), [4, 0, 7]).shape).toEqual([4, 0, 7]);
    // a scalar views as any all-ones shape, and back
    const scalar = V.reshape(V.narrow(v, 0, 1, 1), [12]);
    const one = V.narrow(scalar, 0, 5, 1);
    expect(readView(V.reshape(V.reshape(one, []), [1, 1, -1]))).toEqual([17]);
  });
});
