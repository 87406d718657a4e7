// Deterministic, cheap, never-zero, finite weights. An element's value depends only on (tensor seed, global
// row, global column), so any TP/PP slicing of the same model, in either format, holds the same global
// tensors: shards are generated straight from their global coordinates, nothing is materialised whole.
export type GenDType = 'bfloat16' | 'float16' | 'float32';
/** 'weight': |x| in [2^-8, 2^-4); 'norm': |x| in [0.5, 2) (random, not Megatron's constant init) */
export type ValueKind = 'weight' | 'norm';

export const GEN_ITEMSIZE: Record<GenDType, number> = { bfloat16: 2, float16: 2, float32: 4 };

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** 32-bit seed from a string (FNV-1a, then mixed). */
export function seedOf(text: string, base = 0): number {
  let h = (0x811c9dc5 ^ base) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return fmix(h >>> 0);
}

const rowSeed = (seed: number, row: number): number => fmix((seed ^ Math.imul(row + 1, 0x27d4eb2f)) >>> 0);

/** 16 random bits → bf16/fp16 bits of a small finite non-zero number. */
function half(s: number, dtype: GenDType, kind: ValueKind): number {
  if (dtype === 'bfloat16') return (s & 0x8000) | ((kind === 'norm' ? 126 + ((s >>> 7) & 1) : 119 + ((s >>> 7) & 3)) << 7) | (s & 0x7f);
  return (s & 0x8000) | ((kind === 'norm' ? 14 + ((s >>> 10) & 1) : 7 + ((s >>> 10) & 3)) << 10) | (s & 0x3ff);
}

/**
 * Writes rows [row0, row0+nrows) × columns [col0, col0+ncols) of a global 2-D tensor (1-D tensors: one row)
 * into `out`, row-major, little-endian.
 */
export function fillBlock(seed: number, dtype: GenDType, kind: ValueKind, row0: number, nrows: number, col0: number, ncols: number, out: Uint8Array): void {
  const es = GEN_ITEMSIZE[dtype];
  if (out.byteLength < nrows * ncols * es) throw new RangeError('fillBlock: output too small');
  if (dtype === 'float32') {
    const f = new Uint32Array(out.buffer, out.byteOffset, nrows * ncols);
    const expBase = kind === 'norm' ? 126 : 119;
    const expMask = kind === 'norm' ? 1 : 3;
    for (let r = 0; r < nrows; r++) {
      const rs = rowSeed(seed, row0 + r);
      const o = r * ncols;
      for (let c = 0; c < ncols; c++) {
        const h = fmix((rs ^ Math.imul(col0 + c, 0x9e3779b1)) >>> 0);
        f[o + c] = ((h & 0x80000000) | ((expBase + ((h >>> 23) & expMask)) << 23) | (h & 0x7fffff)) >>> 0;
      }
    }
    return;
  }
  // 16-bit types: one hash per column pair (2k, 2k+1): low half → even column, high half → odd column.
  if (col0 % 2 === 0 && ncols % 2 === 0 && out.byteOffset % 4 === 0) {
    const w = new Uint32Array(out.buffer, out.byteOffset, (nrows * ncols) / 2);
    const pairs = ncols / 2;
    const p0 = col0 / 2;
    for (let r = 0; r < nrows; r++) {
      const rs = rowSeed(seed, row0 + r);
      const o = r * pairs;
      for (let p = 0; p < pairs; p++) {
        const h = fmix((rs ^ Math.imul(p0 + p, 0x9e3779b1)) >>> 0);
        w[o + p] = (half(h & 0xffff, dtype, kind) | (half(h >>> 16, dtype, kind) << 16)) >>> 0;
      }
    }
    return;
  }
  const u = new Uint16Array(out.buffer, out.byteOffset, nrows * ncols);
  for (let r = 0; r < nrows; r++) {
    const rs = rowSeed(seed, row0 + r);
    for (let c = 0; c < ncols; c++) {
      const col = col0 + c;
      const h = fmix((rs ^ Math.imul(col >>> 1, 0x9e3779b1)) >>> 0);
      u[r * ncols + c] = half(col & 1 ? h >>> 16 : h & 0xffff, dtype, kind);
    }
  }
}
