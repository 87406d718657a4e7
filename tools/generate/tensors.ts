// Turns pieces of generated global tensors into streamable TensorData, and keeps the digest record.
import { createHash } from 'node:crypto';
import type { Block, GlobalTensor, ModelSpec } from './model.js';
import { view2d } from './model.js';
import type { TensorData } from './torch-save.js';
import { fillBlock, GEN_ITEMSIZE, seedOf, type GenDType } from './values.js';

export interface GenContext {
  spec: ModelSpec;
  seed: number;
  /** bytes generated per fill call (bounds memory) */
  chunkBytes: number;
  /** reused fill buffer */
  scratch: Uint8Array;
}

export function makeContext(spec: ModelSpec, seed: number, chunkBytes = 8 << 20): GenContext {
  return { spec, seed, chunkBytes, scratch: new Uint8Array(chunkBytes) };
}

/** Streams the given blocks of `tensor`'s global values, in order, through `write`. */
export function produceBlocks(ctx: GenContext, tensor: GlobalTensor, blocks: readonly Block[], write: (chunk: Uint8Array) => void): void {
  const dtype: GenDType = tensor.dtype ?? ctx.spec.dtype;
  const es = GEN_ITEMSIZE[dtype];
  const seed = seedOf(tensor.valuesOf, ctx.seed);
  for (const b of blocks) {
    const rowBytes = b.ncols * es;
    if (rowBytes > ctx.scratch.length) ctx.scratch = new Uint8Array(rowBytes);
    const step = Math.max(1, Math.floor(ctx.scratch.length / rowBytes));
    for (let r = 0; r < b.nrows; r += step) {
      const n = Math.min(step, b.nrows - r);
      const out = ctx.scratch.subarray(0, n * rowBytes);
      fillBlock(seed, dtype, tensor.kind, b.row0 + r, n, b.col0, b.ncols, out);
      write(out);
    }
  }
}

/** A TensorData of `shape` whose bytes are the given blocks of `tensor`. */
export function generated(ctx: GenContext, tensor: GlobalTensor, blocks: readonly Block[], shape: number[], location: string, onDigest?: (sha: string) => void): TensorData {
  const t: TensorData = { dtype: tensor.dtype ?? ctx.spec.dtype, shape, location, produce: (w) => produceBlocks(ctx, tensor, blocks, w) };
  if (onDigest) t.onDigest = onDigest;
  return t;
}

/** sha256 of a whole global tensor in its TP1 row-major layout (re-generates it; for small test models). */
export function globalDigest(ctx: GenContext, tensor: GlobalTensor): string {
  const [rows, cols] = view2d(tensor.shape);
  const h = createHash('sha256');
  produceBlocks(ctx, tensor, [{ row0: 0, nrows: rows, col0: 0, ncols: cols }], (c) => h.update(c));
  return h.digest('hex');
}
