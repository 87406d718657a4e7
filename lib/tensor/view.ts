import { fail } from '../errors.js';
import { type DType, itemsize } from './dtype.js';
import { contiguousStrides, fmtShape, normDim, numel, sameShape } from './shape.js';

/**
 * Where a view's bytes live. Views never own bytes: a file region is read by the executor (mmap), memory is
 * referenced, zeros are synthesised.
 */
export type Storage =
  /** `byteLength` bytes of `path` starting at `byteOffset` (a tensor record inside a zip, a safetensors data block, ...) */
  | { readonly kind: 'file'; readonly path: string; readonly byteOffset: number; readonly byteLength: number }
  | { readonly kind: 'memory'; readonly bytes: Uint8Array }
  | { readonly kind: 'zeros' };

/** A strided window onto a storage. Offsets and strides count elements of `dtype`; a stride of 0 broadcasts. */
export interface View {
  readonly storage: Storage;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

export function storageBytes(s: Storage): number {
  return s.kind === 'file' ? s.byteLength : s.kind === 'memory' ? s.bytes.byteLength : Infinity;
}

/** The element range [min, max] a view reaches; a view with no elements reaches nothing. */
export function reach(v: View): { min: number; max: number } | null {
  let min = v.offset;
  let max = v.offset;
  for (let i = 0; i < v.shape.length; i++) {
    const d = v.shape[i]!;
    if (d === 0) return null;
    const span = (d - 1) * v.strides[i]!;
    if (span < 0) min += span;
    else max += span;
  }
  return { min, max };
}

/** Throws E_FORMAT unless every element the view can address lies inside its storage. */
export function checkInBounds(v: View, where?: { file?: string; tensor?: string }): void {
  const r = reach(v);
  if (r === null) return;
  // whole elements only: a 23-byte storage holds 5 int32s, not 5.75
  const limit = Math.floor(storageBytes(v.storage) / itemsize(v.dtype));
  if (r.min < 0 || r.max >= limit || !Number.isSafeInteger(r.min) || !Number.isSafeInteger(r.max)) {
    fail('E_FORMAT', `view ${fmtShape(v.shape)} strides ${fmtShape(v.strides)} offset ${v.offset} reaches outside its ${storageBytes(v.storage)}-byte storage`, where);
  }
}

/** A contiguous row-major view over a storage, bounds-checked. */
export function contiguousView(storage: Storage, dtype: DType, shape: readonly number[], offset = 0, where?: { file?: string; tensor?: string }): View {
  numel(shape);
  const v: View = { storage, dtype, shape: [...shape], strides: contiguousStrides(shape), offset };
  checkInBounds(v, where);
  return v;
}

export function zerosView(dtype: DType, shape: readonly number[]): View {
  numel(shape);
  return { storage: { kind: 'zeros' }, dtype, shape: [...shape], strides: shape.map(() => 0), offset: 0 };
}

export function memoryView(bytes: Uint8Array, dtype: DType, shape: readonly number[]): View {
  return contiguousView({ kind: 'memory', bytes }, dtype, shape);
}

export function isContiguous(v: View): boolean {
  const c = contiguousStrides(v.shape);
  return v.shape.every((d, i) => d <= 1 || v.strides[i] === c[i]);
}

/** Elements [start, start + length) of dimension `dim`. */
export function narrow(v: View, dim: number, start: number, length: number): View {
  const d = normDim(dim, v.shape.length);
  const size = v.shape[d]!;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > size) {
    fail('E_SHAPE', `narrow(dim ${d}, ${start}, ${length}) out of range for shape ${fmtShape(v.shape)}`);
  }
  const shape = [...v.shape];
  shape[d] = length;
  return { ...v, shape, offset: length === 0 ? v.offset : v.offset + start * v.strides[d]! };
}

/** `n` equal parts along `dim` (the size must divide: Megatron's shards always do). */
export function chunk(v: View, n: number, dim: number): View[] {
  const d = normDim(dim, v.shape.length);
  const size = v.shape[d]!;
  if (!Number.isInteger(n) || n <= 0 || size % n !== 0) fail('E_SHAPE', `cannot split dimension ${d} of ${fmtShape(v.shape)} into ${n} equal parts`);
  const part = size / n;
  return Array.from({ length: n }, (_, i) => narrow(v, d, i * part, part));
}

/** Parts of the given sizes along `dim`. */
export function split(v: View, sizes: readonly number[], dim: number): View[] {
  const d = normDim(dim, v.shape.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== v.shape[d]) fail('E_SHAPE', `split sizes [${sizes.join(', ')}] do not add up to dimension ${d} of ${fmtShape(v.shape)}`);
  let start = 0;
  return sizes.map((s) => {
    const part = narrow(v, d, start, s);
    start += s;
    return part;
  });
}

export function permute(v: View, dims: readonly number[]): View {
  const r = v.shape.length;
  const seen = new Set(dims.map((x) => normDim(x, r)));
  if (dims.length !== r || seen.size !== r) fail('E_SHAPE', `permute([${dims.join(', ')}]) is not a permutation of ${r} dimensions`);
  const ds = dims.map((x) => normDim(x, r));
  return { ...v, shape: ds.map((x) => v.shape[x]!), strides: ds.map((x) => v.strides[x]!) };
}

export function transpose(v: View, a = 0, b = 1): View {
  const dims = v.shape.map((_, i) => i);
  const x = normDim(a, dims.length);
  const y = normDim(b, dims.length);
  dims[x] = y;
  dims[y] = x;
  return permute(v, dims);
}

/** Inserts a dimension of size 1 at `dim`. */
export function unsqueeze(v: View, dim: number): View {
  const d = normDim(dim, v.shape.length + 1);
  const shape = [...v.shape];
  const strides = [...v.strides];
  shape.splice(d, 0, 1);
  strides.splice(d, 0, 0);
  return { ...v, shape, strides };
}

/** Broadcasts dimensions of size 1 to `shape` (stride 0), as torch's `expand`; leading dims may be added. */
export function expand(v: View, shape: readonly number[]): View {
  if (shape.length < v.shape.length) fail('E_SHAPE', `cannot expand ${fmtShape(v.shape)} to ${fmtShape(shape)}`);
  const lead = shape.length - v.shape.length;
  const strides = shape.map((d, i) => {
    if (i < lead) return 0;
    const own = v.shape[i - lead]!;
    if (own === d) return v.strides[i - lead]!;
    if (own === 1) return 0;
    return fail('E_SHAPE', `cannot expand ${fmtShape(v.shape)} to ${fmtShape(shape)}`);
  });
  return { ...v, shape: [...shape], strides };
}

/**
 * Same elements, new shape, no copy: possible when each group of old dims that merges into new dims is itself
 * laid out contiguously (torch's `view` rule). Throws E_SHAPE where the strides do not allow it.
 */
export function reshape(v: View, shape: readonly number[]): View {
  const target = resolveShape(shape, numel(v.shape));
  if (sameShape(target, v.shape)) return v;
  const strides = reshapeStrides(v.shape, v.strides, target);
  if (!strides) fail('E_SHAPE', `cannot view ${fmtShape(v.shape)} with strides ${fmtShape(v.strides)} as ${fmtShape(target)} without a copy`);
  return { ...v, shape: target, strides };
}

/** Replaces a single -1 with the size that makes the element counts agree. */
export function resolveShape(shape: readonly number[], count: number): number[] {
  const free = shape.filter((d) => d === -1).length;
  if (free > 1) fail('E_SHAPE', `shape ${fmtShape(shape)} has more than one -1`);
  const known = numel(shape.filter((d) => d !== -1));
  // as torch: with a 0 among the known dims, -1 could be anything
  if (free === 1 && known === 0) fail('E_SHAPE', `shape ${fmtShape(shape)} is ambiguous: -1 next to a 0-sized dimension`);
  const out = shape.map((d) => (d === -1 ? count / known : d));
  if (!out.every(Number.isInteger) || numel(out) !== count) fail('E_SHAPE', `shape ${fmtShape(shape)} does not hold ${count} elements`);
  return out;
}

/** torch's computeStride: strides for `newShape` over the same memory, or null when a copy would be needed. */
function reshapeStrides(oldShape: readonly number[], oldStrides: readonly number[], newShape: readonly number[]): number[] | null {
  if (numel(oldShape) === 0) return contiguousStrides(newShape);
  // a scalar has no dims to walk: any all-ones shape views it
  if (oldShape.length === 0) return newShape.map(() => 1);
  const out = new Array<number>(newShape.length);
  let viewD = newShape.length - 1;
  let chunkBase = oldStrides[oldStrides.length - 1] ?? 1;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    tensorNumel *= oldShape[d]!;
    if (d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        out[viewD] = viewNumel * chunkBase;
        viewNumel *= newShape[viewD]!;
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = oldStrides[d - 1]!;
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) return null;
  return out;
}
