import { fail } from '../errors.js';
import type { DType } from './dtype.js';
import { contiguousStrides, fmtShape, normDim, numel, sameShape } from './shape.js';
import * as V from './view.js';
import type { View } from './view.js';

/**
 * A logical tensor as a tiling of views: each block is a strided view placed at index `at` of the tensor.
 * This is how concatenation works without copying: a tensor merged from TP shards is one block per shard.
 * Blocks never overlap and together cover the tensor (`checkTiling` verifies).
 */
export interface Block {
  readonly at: readonly number[];
  readonly view: View;
}

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly blocks: readonly Block[];
}

export function fromView(view: View): Tensor {
  return { dtype: view.dtype, shape: view.shape, blocks: [{ at: view.shape.map(() => 0), view }] };
}

export function zeros(dtype: DType, shape: readonly number[]): Tensor {
  return fromView(V.zerosView(dtype, shape));
}

export function tensorNumel(t: Tensor): number {
  return numel(t.shape);
}

/** Joins tensors along `dim` (torch.cat) by shifting their blocks. */
export function cat(parts: readonly Tensor[], dim: number): Tensor {
  if (parts.length === 0) fail('E_SHAPE', 'cat of no tensors');
  const first = parts[0]!;
  const d = normDim(dim, first.shape.length);
  const blocks: Block[] = [];
  let offset = 0;
  for (const p of parts) {
    if (p.dtype !== first.dtype) fail('E_SHAPE', `cat of ${first.dtype} and ${p.dtype}`);
    if (p.shape.length !== first.shape.length || p.shape.some((x, i) => i !== d && x !== first.shape[i])) {
      fail('E_SHAPE', `cat along dim ${d}: shapes ${fmtShape(first.shape)} and ${fmtShape(p.shape)} disagree`);
    }
    for (const b of p.blocks) {
      const at = [...b.at];
      at[d] = at[d]! + offset;
      blocks.push({ at, view: b.view });
    }
    offset += p.shape[d]!;
  }
  const shape = [...first.shape];
  shape[d] = offset;
  return { dtype: first.dtype, shape, blocks };
}

/** Elements [start, start + length) along `dim`: blocks are clipped, blocks outside dropped. */
export function narrow(t: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim(dim, t.shape.length);
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > t.shape[d]!) {
    fail('E_SHAPE', `narrow(dim ${d}, ${start}, ${length}) out of range for shape ${fmtShape(t.shape)}`);
  }
  const end = start + length;
  const blocks: Block[] = [];
  for (const b of t.blocks) {
    const lo = b.at[d]!;
    const hi = lo + b.view.shape[d]!;
    const clipLo = Math.max(lo, start);
    const clipHi = Math.min(hi, end);
    if (clipHi <= clipLo) continue;
    const at = [...b.at];
    at[d] = clipLo - start;
    blocks.push({ at, view: V.narrow(b.view, d, clipLo - lo, clipHi - clipLo) });
  }
  const shape = [...t.shape];
  shape[d] = length;
  return { dtype: t.dtype, shape, blocks };
}

export function chunk(t: Tensor, n: number, dim: number): Tensor[] {
  const d = normDim(dim, t.shape.length);
  const size = t.shape[d]!;
  if (!Number.isInteger(n) || n <= 0 || size % n !== 0) fail('E_SHAPE', `cannot split dimension ${d} of ${fmtShape(t.shape)} into ${n} equal parts`);
  const part = size / n;
  return Array.from({ length: n }, (_, i) => narrow(t, d, i * part, part));
}

export function split(t: Tensor, sizes: readonly number[], dim: number): Tensor[] {
  const d = normDim(dim, t.shape.length);
  if (sizes.reduce((a, b) => a + b, 0) !== t.shape[d]) fail('E_SHAPE', `split sizes [${sizes.join(', ')}] do not add up to dimension ${d} of ${fmtShape(t.shape)}`);
  let start = 0;
  return sizes.map((s) => {
    const part = narrow(t, d, start, s);
    start += s;
    return part;
  });
}

export function permute(t: Tensor, dims: readonly number[]): Tensor {
  const r = t.shape.length;
  const ds = dims.map((x) => normDim(x, r));
  if (ds.length !== r || new Set(ds).size !== r) fail('E_SHAPE', `permute([${dims.join(', ')}]) is not a permutation of ${r} dimensions`);
  return {
    dtype: t.dtype,
    shape: ds.map((x) => t.shape[x]!),
    blocks: t.blocks.map((b) => ({ at: ds.map((x) => b.at[x]!), view: V.permute(b.view, ds) })),
  };
}

export function transpose(t: Tensor, a = 0, b = 1): Tensor {
  const dims = t.shape.map((_, i) => i);
  const x = normDim(a, dims.length);
  const y = normDim(b, dims.length);
  dims[x] = y;
  dims[y] = x;
  return permute(t, dims);
}

export function unsqueeze(t: Tensor, dim: number): Tensor {
  const d = normDim(dim, t.shape.length + 1);
  const shape = [...t.shape];
  shape.splice(d, 0, 1);
  return {
    dtype: t.dtype,
    shape,
    blocks: t.blocks.map((b) => {
      const at = [...b.at];
      at.splice(d, 0, 0);
      return { at, view: V.unsqueeze(b.view, d) };
    }),
  };
}

/** Broadcasts size-1 dimensions (stride 0), as torch's `expand`. */
export function expand(t: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < t.shape.length) fail('E_SHAPE', `cannot expand ${fmtShape(t.shape)} to ${fmtShape(shape)}`);
  const lead = shape.length - t.shape.length;
  t.shape.forEach((own, i) => {
    if (own !== 1 && own !== shape[i + lead]) fail('E_SHAPE', `cannot expand ${fmtShape(t.shape)} to ${fmtShape(shape)}`);
  });
  return {
    dtype: t.dtype,
    shape: [...shape],
    // empty blocks hold nothing to broadcast (and one of extent 0 in a size-1 dim cannot be stretched)
    blocks: t.blocks.filter((b) => numel(b.view.shape) > 0).map((b) => {
      const own = [...Array<number>(lead).fill(1), ...b.view.shape];
      const blockShape = shape.map((d, i) => (i < lead || t.shape[i - lead] === 1 ? d : own[i]!));
      const at = shape.map((_, i) => (i < lead ? 0 : t.shape[i - lead] === 1 ? 0 : b.at[i - lead]!));
      return { at, view: V.expand(b.view, blockShape) };
    }),
  };
}

/**
 * Same elements in a new shape (torch.reshape), without copying. The old and new dims are paired into groups of
 * equal element count (e.g. [12, 4] → [3, 4, 4] pairs 12 ↔ 3·4 and 4 ↔ 4). Within each group a block is cut into
 * runs that are contiguous in the group's row-major order (a block spanning whole rows is one run), and each run
 * is cut into boxes of the new shape where it straddles the new dims' boundaries: TP shards merged along any dim
 * stay zero-copy. Throws E_SHAPE where a block's own strides cannot be viewed in the new shape.
 */
export function reshape(t: Tensor, newShape: readonly number[]): Tensor {
  const target = V.resolveShape(newShape, numel(t.shape));
  if (sameShape(target, t.shape)) return t;
  if (t.blocks.length === 1 && t.blocks[0]!.view.shape.every((d, i) => d === t.shape[i])) return fromView(V.reshape(t.blocks[0]!.view, target));
  if (numel(target) === 0) return { dtype: t.dtype, shape: target, blocks: [] };
  // Size-1 dims carry no layout: drop them here and put them back on each output box.
  const oldKept = t.shape.flatMap((d, i) => (d === 1 ? [] : [i]));
  const newKept = target.flatMap((d, i) => (d === 1 ? [] : [i]));
  const size = oldKept.map((i) => t.shape[i]!);
  const groups = pairDims(size, newKept.map((i) => target[i]!));
  const blocks: Block[] = [];
  for (const b of t.blocks) {
    if (numel(b.view.shape) === 0) continue;
    const view = V.reshape(b.view, oldKept.map((i) => b.view.shape[i]!));
    const at = oldKept.map((i) => b.at[i]!);
    const ext = view.shape;
    // Per group: dims before `run` are walked one index at a time; dims from `run` on form one contiguous run.
    const plans = groups.map((g) => {
      let run = g.oldEnd - 1;
      while (run > g.oldStart && ext[run] === size[run]) run--;
      const strides = contiguousStrides(size.slice(g.oldStart, g.oldEnd));
      const stride = (i: number) => strides[i - g.oldStart]!;
      let base = 0;
      for (let i = g.oldStart; i < g.oldEnd; i++) base += at[i]! * stride(i);
      return { g, run, stride, base, length: numel(ext.slice(run, g.oldEnd)), shape: newKept.slice(g.newStart, g.newEnd).map((i) => target[i]!) };
    });
    const walked = plans.flatMap((p) => range(p.g.oldStart, p.run));
    forEachIndex(walked.map((i) => ext[i]!), (idx) => {
      let piece = view;
      walked.forEach((d, k) => (piece = V.narrow(piece, d, idx[k]!, 1)));
      piece = V.reshape(piece, plans.map((p) => p.length));
      const runs = plans.map((p) => {
        let lo = p.base;
        walked.forEach((d, k) => d >= p.g.oldStart && d < p.run && (lo += idx[k]! * p.stride(d)));
        return { lo, boxes: slabs(p.shape, lo, lo + p.length) };
      });
      forEachIndex(runs.map((r) => r.boxes.length), (choice) => {
        let box = piece;
        const boxAt: number[] = [];
        const boxShape: number[] = [];
        runs.forEach((r, g) => {
          const s = r.boxes[choice[g]!]!;
          box = V.narrow(box, g, s.lo - r.lo, s.length);
          boxAt.push(...s.at);
          boxShape.push(...s.shape);
        });
        let k = 0;
        const full = target.map((d) => (d === 1 ? 1 : boxShape[k++]!));
        k = 0;
        blocks.push({ at: target.map((d) => (d === 1 ? 0 : boxAt[k++]!)), view: V.reshape(box, full) });
      });
    });
  }
  return { dtype: t.dtype, shape: target, blocks };
}

/** Pairs consecutive dims of two shapes (all dims ≥ 2, equal products) into groups of equal element count. */
function pairDims(from: readonly number[], to: readonly number[]) {
  const groups: { oldStart: number; oldEnd: number; newStart: number; newEnd: number }[] = [];
  let i = 0;
  let j = 0;
  while (i < from.length) {
    const oldStart = i;
    const newStart = j;
    let a = from[i++]!;
    let b = to[j++]!;
    while (a !== b) {
      if (a < b) a *= from[i++]!;
      else b *= to[j++]!;
    }
    groups.push({ oldStart, oldEnd: i, newStart, newEnd: j });
  }
  return groups;
}

/** Cuts the flat range [lo, hi) of `shape` (row-major) into the fewest boxes, each a run along one dim. */
function slabs(shape: readonly number[], lo: number, hi: number): { lo: number; length: number; at: number[]; shape: number[] }[] {
  const out: { lo: number; length: number; at: number[]; shape: number[] }[] = [];
  while (lo < hi) {
    const s = largestSlab(shape, lo, hi);
    out.push({ lo, length: s.count * s.inner, at: s.at, shape: s.shape });
    lo += s.count * s.inner;
  }
  return out;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** Calls fn for every index of `shape` in row-major order (once for a rank-0 shape). */
function forEachIndex(shape: readonly number[], fn: (idx: readonly number[]) => void): void {
  if (shape.some((d) => d === 0)) return;
  const idx = shape.map(() => 0);
  for (;;) {
    fn(idx);
    let d = shape.length - 1;
    while (d >= 0 && ++idx[d]! === shape[d]!) idx[d--] = 0;
    if (d < 0) return;
  }
}

/** The largest box of `shape` that starts at flat index `lo`, stays below `hi`, and is a run along one dim. */
function largestSlab(shape: readonly number[], lo: number, hi: number) {
  if (shape.length === 0) return { at: [], shape: [], count: 1, inner: 1 }; // the one element of a scalar
  const strides = contiguousStrides(shape);
  for (let j = 0; j < shape.length; j++) {
    const inner = strides[j]!;
    if (lo % inner !== 0) continue;
    const startInDim = (lo / inner) % shape[j]!;
    const count = Math.min(Math.floor((hi - lo) / inner), shape[j]! - startInDim);
    if (count <= 0) continue;
    const at = shape.map((_, i) => (i < j ? Math.floor(lo / strides[i]!) % shape[i]! : i === j ? startInDim : 0));
    const boxShape = shape.map((d, i) => (i < j ? 1 : i === j ? count : d));
    return { at, shape: boxShape, count, inner };
  }
  return fail('E_SHAPE', `internal: no slab at ${lo} in ${fmtShape(shape)}`);
}

/** Verifies that blocks lie inside the tensor, match its dtype, and cover it exactly once. */
export function checkTiling(t: Tensor, name = 'tensor'): void {
  let covered = 0;
  for (const b of t.blocks) {
    if (b.view.dtype !== t.dtype) fail('E_SHAPE', `${name}: block dtype ${b.view.dtype} differs from ${t.dtype}`);
    if (b.at.length !== t.shape.length || b.view.shape.length !== t.shape.length) fail('E_SHAPE', `${name}: block rank differs from tensor rank`);
    b.at.forEach((a, i) => {
      if (a < 0 || a + b.view.shape[i]! > t.shape[i]!) fail('E_SHAPE', `${name}: block at [${b.at.join(', ')}] ${fmtShape(b.view.shape)} lies outside ${fmtShape(t.shape)}`);
    });
    covered += numel(b.view.shape);
  }
  if (covered !== numel(t.shape)) fail('E_SHAPE', `${name}: blocks cover ${covered} of ${numel(t.shape)} elements`);
  for (let i = 0; i < t.blocks.length; i++) {
    for (let j = i + 1; j < t.blocks.length; j++) {
      const a = t.blocks[i]!;
      const b = t.blocks[j]!;
      const overlap = a.at.every((x, k) => x < b.at[k]! + b.view.shape[k]! && b.at[k]! < x + a.view.shape[k]!);
      if (overlap && numel(a.view.shape) > 0 && numel(b.view.shape) > 0) fail('E_SHAPE', `${name}: blocks ${i} and ${j} overlap`);
    }
  }
}
