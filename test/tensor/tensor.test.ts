// lib/tensor/tensor.ts (block-tiled logical tensors) against the index-arithmetic model: random tilings with
// random strided blocks, random op chains, cat of independently tiled parts, reshape of row-tiled tensors
// (runs straddling the new shape's boundaries), and checkTiling against a painting oracle.
import { describe, expect, it } from 'vitest';
import * as T from '../../lib/tensor/tensor.js';
import type { Block, Tensor } from '../../lib/tensor/tensor.js';
import * as V from '../../lib/tensor/view.js';
import type { View } from '../../lib/tensor/view.js';
import {
  count, eachIndex, errorCode, expectCode, flatIndex, int32Bytes, randomReshapeTarget, randomShape, randomSizes, readTensor, type Ref, refCat,
  refExpand, refFrom, refGet, refIota, refNarrow, refPermute, refReshape, refUnsqueeze, rng, type Rng,
} from './reference.js';

/** A view holding `ref`'s values, its memory a padded, dimension-permuted box at an offset in a larger storage. */
function stridedView(r: Rng, ref: Ref): View {
  const shape = ref.shape;
  const p = r.shuffle(shape.map((_, i) => i));
  const padded = p.map((d) => shape[d]! + r.int(0, 2));
  const starts = p.map((d, k) => r.int(0, padded[k]! - shape[d]!));
  const lead = r.int(0, 3);
  const values = new Array<number>(lead + count(padded)).fill(-1);
  eachIndex(shape, (idx) => (values[lead + flatIndex(padded, p.map((d, k) => idx[d]! + starts[k]!))] = refGet(ref, idx)));
  let view = V.contiguousView({ kind: 'memory', bytes: int32Bytes(values) }, 'int32', padded, lead);
  p.forEach((d, k) => (view = V.narrow(view, k, starts[k]!, shape[d]!)));
  const inverse = new Array<number>(shape.length);
  p.forEach((d, k) => (inverse[d] = k));
  return V.permute(view, inverse);
}

/** Cuts `ref` into boxes (guillotine cuts, sometimes empty pieces), each a block over its own strided storage. */
function randomTiling(r: Rng, ref: Ref, contiguousBlocks = false): Tensor {
  const blocks: Block[] = [];
  const cut = (box: Ref, at: number[], depth: number) => {
    const dims = box.shape.map((_, i) => i).filter((i) => box.shape[i]! >= 2);
    if (depth >= 3 || dims.length === 0 || r.chance(0.25)) {
      const view = contiguousBlocks ? V.memoryView(int32Bytes(box.data), 'int32', box.shape) : stridedView(r, box);
      blocks.push({ at, view });
      return;
    }
    const d = r.pick(dims);
    let start = 0;
    for (const s of randomSizes(r, box.shape[d]!, r.int(2, 3), r.chance(0.15))) {
      cut(refNarrow(box, d, start, s), at.map((a, i) => (i === d ? a + start : a)), depth + 1);
      start += s;
    }
  };
  cut(ref, ref.shape.map(() => 0), 0);
  return { dtype: 'int32', shape: [...ref.shape], blocks: r.shuffle(blocks) };
}

/** Only dim 0 is cut: every block is a run of whole rows, contiguous in memory. */
function rowTiling(r: Rng, ref: Ref): Tensor {
  const parts: Tensor[] = [];
  let start = 0;
  for (const s of randomSizes(r, ref.shape[0]!, r.int(1, 4), r.chance(0.2))) {
    const part = refNarrow(ref, 0, start, s);
    parts.push(T.fromView(V.contiguousView({ kind: 'memory', bytes: int32Bytes([-7, ...part.data]) }, 'int32', part.shape, 1)));
    start += s;
  }
  return T.cat(parts, 0);
}

function expectSame(t: Tensor, ref: Ref, what: string): void {
  T.checkTiling(t, what);
  expect(t.shape, what).toEqual(ref.shape);
  expect(readTensor(t), what).toEqual(ref.data);
}

type Step = (r: Rng, t: Tensor, ref: Ref) => { t: Tensor; ref: Ref; op: string } | null;

const steps: Record<string, Step> = {
  narrow(r, t, ref) {
    if (ref.shape.length === 0) return null;
    const d = r.int(0, ref.shape.length - 1);
    const start = r.int(0, ref.shape[d]!);
    const length = r.int(0, ref.shape[d]! - start);
    return { t: T.narrow(t, d, start, length), ref: refNarrow(ref, d, start, length), op: `narrow(${d}, ${start}, ${length})` };
  },
  chunk(r, t, ref) {
    if (ref.shape.length === 0) return null;
    const d = r.int(0, ref.shape.length - 1);
    const size = ref.shape[d]!;
    const n = r.pick(Array.from({ length: Math.max(size, 1) }, (_, i) => i + 1).filter((k) => size % k === 0));
    const parts = T.chunk(t, n, d);
    parts.forEach((p, i) => expectSame(p, refNarrow(ref, d, (i * size) / n, size / n), `chunk ${i}/${n}`));
    const i = r.int(0, n - 1);
    return { t: parts[i]!, ref: refNarrow(ref, d, (i * size) / n, size / n), op: `chunk(${n}, ${d})[${i}]` };
  },
  split(r, t, ref) {
    if (ref.shape.length === 0) return null;
    const d = r.int(0, ref.shape.length - 1);
    const sizes = randomSizes(r, ref.shape[d]!, r.int(1, 4));
    const parts = T.split(t, sizes, d);
    let start = 0;
    const refs = sizes.map((s) => refNarrow(ref, d, (start += s) - s, s));
    parts.forEach((p, i) => expectSame(p, refs[i]!, `split part ${i}`));
    const i = r.int(0, sizes.length - 1);
    return { t: parts[i]!, ref: refs[i]!, op: `split([${sizes}], ${d})[${i}]` };
  },
  permute(r, t, ref) {
    const dims = r.shuffle(ref.shape.map((_, i) => i));
    return { t: T.permute(t, dims.map((d) => (r.chance(0.2) ? d - dims.length : d))), ref: refPermute(ref, dims), op: `permute([${dims}])` };
  },
  transpose(r, t, ref) {
    if (ref.shape.length === 0) return null;
    const a = r.int(0, ref.shape.length - 1);
    const b = r.int(0, ref.shape.length - 1);
    return { t: T.transpose(t, a, b), ref: refPermute(ref, ref.shape.map((_, i) => (i === a ? b : i === b ? a : i))), op: `transpose(${a}, ${b})` };
  },
  unsqueeze(r, t, ref) {
    if (ref.shape.length >= 5) return null;
    const d = r.int(0, ref.shape.length);
    return { t: T.unsqueeze(t, d), ref: refUnsqueeze(ref, d), op: `unsqueeze(${d})` };
  },
  expand(r, t, ref) {
    if (count(ref.shape) > 200) return null;
    const lead = ref.shape.length < 4 ? r.int(0, 1) : 0;
    const shape = [...Array.from({ length: lead }, () => r.int(1, 3)), ...ref.shape.map((d) => (d === 1 ? r.int(0, 3) : d))];
    return { t: T.expand(t, shape), ref: refExpand(ref, shape), op: `expand([${shape}])` };
  },
  cat(r, t, ref) {
    if (ref.shape.length === 0) return null;
    const d = r.int(0, ref.shape.length - 1);
    const others = Array.from({ length: r.int(1, 2) }, (_, k) => {
      const shape = ref.shape.map((x, i) => (i === d ? r.int(0, 3) : x));
      return refIota(shape, 10_000 * (k + 1));
    });
    const order = r.shuffle([ref, ...others]);
    const tensors = order.map((x) => (x === ref ? t : randomTiling(r, x)));
    return { t: T.cat(tensors, d - (r.chance(0.3) ? ref.shape.length : 0)), ref: refCat(order, d), op: `cat(${order.length} parts, ${d})` };
  },
};

describe('tiled tensors vs the index model', () => {
  it('random tilings read back, and checkTiling accepts them', () => {
    const r = rng(11);
    let multi = 0;
    for (let i = 0; i < 400; i++) {
      const ref = refIota(randomShape(r, 4, 5));
      const t = randomTiling(r, ref);
      if (t.blocks.length > 1) multi++;
      expectSame(t, ref, `tiling of [${ref.shape}]`);
    }
    expect(multi).toBeGreaterThan(200);
  });

  for (const name of Object.keys(steps)) {
    it(`${name}: 300 random cases on random tilings`, () => {
      const r = rng(name.length * 7919 + name.charCodeAt(1));
      let done = 0;
      for (let i = 0; i < 300; i++) {
        const ref = refIota(randomShape(r, 4, 5));
        const out = steps[name]!(r, randomTiling(r, ref), ref);
        if (!out) continue;
        done++;
        expectSame(out.t, out.ref, `${out.op} of [${ref.shape}]`);
      }
      expect(done).toBeGreaterThan(100);
    });
  }

  it('chains of up to 8 random ops (reshape included where the tiling allows it)', () => {
    const r = rng(99);
    const names = [...Object.keys(steps), 'reshape'];
    let applied = 0;
    let reshaped = 0;
    for (let i = 0; i < 800; i++) {
      let ref = refIota(randomShape(r, 4, 4));
      let t = r.chance(0.3) && ref.shape.length > 0 ? rowTiling(r, ref) : randomTiling(r, ref);
      const trail = [`[${ref.shape}] in ${t.blocks.length} blocks`];
      for (let k = r.int(1, 8); k > 0; k--) {
        const name = r.pick(names);
        if (name === 'reshape') {
          const target = randomReshapeTarget(r, count(ref.shape));
          const code = errorCode(() => T.reshape(t, target));
          // refusals are for blocks whose own strides cannot take the new shape (E_SHAPE), never wrong data
          if (code !== null) {
            expect(code, trail.join(' → ')).toBe('E_SHAPE');
            continue;
          }
          t = T.reshape(t, target);
          ref = refReshape(ref, target);
          trail.push(`reshape([${target}])`);
          reshaped++;
        } else {
          const out = steps[name]!(r, t, ref);
          if (!out) continue;
          ({ t, ref } = out);
          trail.push(out.op);
        }
        applied++;
        expectSame(t, ref, trail.join(' → '));
      }
    }
    expect(applied).toBeGreaterThan(2500);
    expect(reshaped).toBeGreaterThan(50);
  });
});

describe('reshape of row-tiled tensors', () => {
  it('always succeeds, cutting row runs that straddle the new shape into boxes', () => {
    const r = rng(5);
    let straddled = 0;
    for (let i = 0; i < 1500; i++) {
      const ref = refIota([r.int(0, 9), ...randomShape(r, 2, 4, 1)]);
      const t = rowTiling(r, ref);
      const target = randomReshapeTarget(r, count(ref.shape));
      const out = T.reshape(t, target);
      expectSame(out, refReshape(ref, target), `[${ref.shape}] in ${t.blocks.length} row runs → [${target}]`);
      if (out.blocks.length > t.blocks.length) straddled++;
    }
    expect(straddled).toBeGreaterThan(150);
  });

  it('a Megatron-like case: fused QKV rows from two TP shards regrouped per head', () => {
    // [2 shards × 6 rows, 4] → [heads 3, 4 rows, 4]: shard boundaries fall inside head 1
    const ref = refIota([12, 4]);
    const t = T.cat([0, 1].map((s) => T.fromView(V.memoryView(int32Bytes(refNarrow(ref, 0, s * 6, 6).data), 'int32', [6, 4]))), 0);
    const out = T.reshape(t, [3, 4, 4]);
    expectSame(out, refReshape(ref, [3, 4, 4]), 'qkv');
    // shard 0 = head 0 + half of head 1, shard 1 = the other half + head 2
    expect(out.blocks.map((b) => [b.at, b.view.shape])).toEqual(
      expect.arrayContaining([[[0, 0, 0], [1, 4, 4]], [[1, 0, 0], [1, 2, 4]], [[1, 2, 0], [1, 2, 4]], [[2, 0, 0], [1, 4, 4]]]),
    );
    expect(out.blocks.length).toBe(4);
    expectSame(T.narrow(out, 0, 1, 1), refNarrow(refReshape(ref, [3, 4, 4]), 0, 1, 1), 'head 1');
  });

  it('a single full block reshapes as a view; tilings along inner dims are cut into contiguous runs', () => {
    const ref = refIota([4, 6]);
    const single = T.fromView(V.memoryView(int32Bytes(ref.data), 'int32', [4, 6]));
    expectSame(T.reshape(single, [2, 2, 6]), refReshape(ref, [2, 2, 6]), 'single');
    expectSame(T.reshape(single, [-1]), refReshape(ref, [24]), 'flat');
    // row-parallel weight merged along dim 1 ([h, heads·kv] from 2 shards) split per head: one box per shard
    const inner = T.cat([T.narrow(single, 1, 0, 3), T.narrow(single, 1, 3, 3)], 1);
    const perHead = T.reshape(inner, [4, 2, 3]);
    expectSame(perHead, refReshape(ref, [4, 2, 3]), 'per head');
    expect(perHead.blocks.length).toBe(2);
    // flattening it needs one run per row and shard
    const flat = T.reshape(inner, [24]);
    expectSame(flat, refReshape(ref, [24]), 'flat of inner tiling');
    expect(flat.blocks.length).toBe(8);
    expectCode(() => T.reshape(single, [5, 5]), 'E_SHAPE');
    expectCode(() => T.reshape(T.transpose(single), [24]), 'E_SHAPE');
  });

  it('any tiling of contiguous blocks reshapes to any shape of the same size', () => {
    const r = rng(8);
    let multi = 0;
    for (let i = 0; i < 1500; i++) {
      const ref = refIota(randomShape(r, 4, 5));
      const t = randomTiling(r, ref, true);
      const target = randomReshapeTarget(r, count(ref.shape));
      const out = T.reshape(t, target);
      expectSame(out, refReshape(ref, target), `[${ref.shape}] in ${t.blocks.length} blocks → [${target}]`);
      if (t.blocks.length > 1) multi++;
    }
    expect(multi).toBeGreaterThan(700);
  });
});

describe('checkTiling vs a painting oracle', () => {
  /** Paints every block's box; valid iff dtypes and ranks agree and every element is painted exactly once. */
  function paintOk(t: Tensor): boolean {
    const paint = new Array<number>(count(t.shape)).fill(0);
    for (const b of t.blocks) {
      if (b.view.dtype !== t.dtype || b.at.length !== t.shape.length || b.view.shape.length !== t.shape.length) return false;
      let inside = true;
      eachIndex(b.view.shape, (idx) => {
        const g = idx.map((x, i) => x + b.at[i]!);
        if (g.some((x, i) => x < 0 || x >= t.shape[i]!)) inside = false;
        else paint[flatIndex(t.shape, g)]!++;
      });
      if (!inside) return false;
      if (b.at.some((a, i) => a < 0 || a + b.view.shape[i]! > t.shape[i]!)) return false;
    }
    return paint.every((c) => c === 1);
  }

  it('agrees on 3000 randomly damaged tilings', () => {
    const r = rng(2024);
    let broken = 0;
    for (let i = 0; i < 3000; i++) {
      const ref = refIota(randomShape(r, 3, 4, 1));
      const t = randomTiling(r, ref);
      const blocks = [...t.blocks];
      const k = r.int(0, blocks.length - 1);
      const b = blocks[k]!;
      switch (r.int(0, 5)) {
        case 0: // move a block
          if (b.at.length) {
            const d = r.int(0, b.at.length - 1);
            blocks[k] = { at: b.at.map((a, j) => (j === d ? a + r.pick([-2, -1, 1, 2]) : a)), view: b.view };
          }
          break;
        case 1: // drop a block
          blocks.splice(k, 1);
          break;
        case 2: // duplicate a block
          blocks.push(b);
          break;
        case 3: // a block of another dtype
          blocks[k] = { at: b.at, view: { ...b.view, dtype: 'float32' } };
          break;
        case 4: // swap two blocks' positions
          if (blocks.length > 1) {
            const j = (k + 1) % blocks.length;
            blocks[k] = { at: blocks[j]!.at, view: b.view };
            blocks[j] = { at: b.at, view: blocks[j]!.view };
          }
          break;
        default: // a block of the wrong rank
          blocks[k] = { at: [...b.at, 0], view: V.unsqueeze(b.view, b.view.shape.length) };
      }
      const damaged = { ...t, blocks };
      const ok = paintOk(damaged);
      if (!ok) broken++;
      expect(errorCode(() => T.checkTiling(damaged)), `case ${i}`).toBe(ok ? null : 'E_SHAPE');
    }
    expect(broken).toBeGreaterThan(1500);
  });
});

describe('tensor errors are E_SHAPE', () => {
  const t = randomTiling(rng(1), refIota([2, 3, 4]));
  it('out-of-range narrow, bad chunk/split, bad permutation, mismatched cat, impossible expand', () => {
    expectCode(() => T.narrow(t, 0, 1, 2), 'E_SHAPE');
    expectCode(() => T.narrow(t, 3, 0, 1), 'E_SHAPE');
    expectCode(() => T.narrow(t, 1, -1, 2), 'E_SHAPE');
    expectCode(() => T.chunk(t, 5, 2), 'E_SHAPE');
    expectCode(() => T.split(t, [2, 1], 2), 'E_SHAPE');
    expectCode(() => T.permute(t, [0, 0, 1]), 'E_SHAPE');
    expectCode(() => T.permute(t, [0, 1]), 'E_SHAPE');
    expectCode(() => T.transpose(t, 0, 5), 'E_SHAPE');
    expectCode(() => T.cat([], 0), 'E_SHAPE');
    expectCode(() => T.cat([t, T.zeros('int32', [2, 4, 4])], 0), 'E_SHAPE');
    expectCode(() => T.cat([t, T.zeros('int32', [2, 3])], 0), 'E_SHAPE');
    expectCode(() => T.cat([t, T.zeros('float32', [2, 3, 4])], 0), 'E_SHAPE');
    expectCode(() => T.expand(t, [3, 3, 4]), 'E_SHAPE');
    expectCode(() => T.expand(t, [3, 4]), 'E_SHAPE');
    expectCode(() => T.reshape(t, [7]), 'E_SHAPE');
  });
  it('zeros and cat with zeros', () => {
    const z = T.zeros('int32', [1, 3, 4]);
    expectSame(z, refFrom([1, 3, 4], () => 0), 'zeros');
    const both = T.cat([t, z], 0);
    expectSame(both, refCat([refIota([2, 3, 4]), refFrom([1, 3, 4], () => 0)], 0), 'cat with zeros');
    expect(T.tensorNumel(both)).toBe(36);
  });
});
