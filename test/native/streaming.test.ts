// Bounded-memory streaming: however small the buffer budget (maxBufferBytes), the executor writes the same
// bytes as the plain-TS reference executor, keeps threads × unit within the budget, and drops the mapped
// source pages it has consumed. Sources are laid out like a TP2 checkpoint being merged and re-split: two
// shard files, row-parallel (dim-1) and column-parallel (dim-0) merges, a transposed read, a cast, a source
// region read by two pieces, zeros and a memory buffer. No timing or RSS here (see BENCHMARKS.md).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNative } from '../../lib/native.js';
import { executePlan, tempPathFor } from '../../lib/plan/execute.js';
import { lowerPlan } from '../../lib/plan/lower.js';
import type { CopyPlan, PlanTensor } from '../../lib/plan/plan.js';
import type { View } from '../../lib/tensor/view.js';
import { referenceFile } from '../support/reference-executor.js';

const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'mcore-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROWS = 96;
const COLS = 160; // per shard
const HEADER = 40; // bytes before the tensors in each shard file, like a zip entry header

/** A shard file holding two bf16 [ROWS, COLS] tensors (a, b) and one f32 [COLS, ROWS] tensor (t) after a header. */
function writeShard(seed: number): string {
  const path = join(dir, `shard${seed}.bin`);
  const bytes = new Uint8Array(HEADER + 2 * ROWS * COLS * 2 + ROWS * COLS * 4);
  let s = seed * 7919 + 1;
  for (let i = 0; i < bytes.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    bytes[i] = s >>> 24;
  }
  // keep the f32 part finite so the cast is about rounding, not NaN payloads
  const f32 = new Float32Array(bytes.buffer, HEADER + 2 * ROWS * COLS * 2, ROWS * COLS);
  for (let i = 0; i < f32.length; i++) f32[i] = ((i * 37 + seed) % 4099) / 61 - 30;
  writeFileSync(path, bytes);
  return path;
}

const shards = [writeShard(1), writeShard(2)];
const bf16At = (shard: number, which: 0 | 1): View => ({
  storage: { kind: 'file', path: shards[shard]!, byteOffset: HEADER + which * ROWS * COLS * 2, byteLength: ROWS * COLS * 2 },
  dtype: 'bfloat16',
  shape: [ROWS, COLS],
  strides: [COLS, 1],
  offset: 0,
});
const f32Transposed = (shard: number): View => ({
  storage: { kind: 'file', path: shards[shard]!, byteOffset: HEADER + 2 * ROWS * COLS * 2, byteLength: ROWS * COLS * 4 },
  dtype: 'float32',
  shape: [ROWS, COLS], // stored [COLS, ROWS], read transposed
  strides: [1, ROWS],
  offset: 0,
});

function plan(out: string): CopyPlan {
  const rowParallel: PlanTensor = {
    // [ROWS, 2·COLS]: each output row takes one row of each shard (the interleaved dim-1 merge)
    name: 'dense.weight',
    dtype: 'bfloat16',
    shape: [ROWS, 2 * COLS],
    pieces: [0, 1].map((s) => ({ dstOffset: s * COLS, dstStrides: [2 * COLS, 1], src: bf16At(s, 0) })),
  };
  const columnParallel: PlanTensor = {
    // [2·ROWS, COLS]: the shards one after the other (the dim-0 merge)
    name: 'fc1.weight',
    dtype: 'bfloat16',
    shape: [2 * ROWS, COLS],
    pieces: [0, 1].map((s) => ({ dstOffset: s * ROWS * COLS, dstStrides: [COLS, 1], src: bf16At(s, 1) })),
  };
  const transposedCast: PlanTensor = {
    name: 'proj.weight',
    dtype: 'bfloat16',
    shape: [ROWS, COLS],
    pieces: [{ dstOffset: 0, dstStrides: [COLS, 1], src: f32Transposed(0) }],
  };
  const reread: PlanTensor = {
    // the same region as dense.weight of shard 1, read again later (tied weights), plus one
    name: 'lm_head.weight',
    dtype: 'float32',
    shape: [ROWS, COLS],
    pieces: [{ dstOffset: 0, dstStrides: [COLS, 1], src: bf16At(1, 0), affine: { add: 1 } }],
  };
  const zerosAndMemory: PlanTensor = {
    name: 'bias',
    dtype: 'float32',
    shape: [2, COLS],
    pieces: [
      { dstOffset: 0, dstStrides: [COLS, 1], src: { storage: { kind: 'zeros' }, dtype: 'float32', shape: [1, COLS], strides: [0, 0], offset: 0 } },
      {
        dstOffset: COLS,
        dstStrides: [COLS, 1],
        src: { storage: { kind: 'memory', bytes: new Uint8Array(new Float32Array(COLS).map((_, i) => i / 3).buffer) }, dtype: 'float32', shape: [1, COLS], strides: [COLS, 1], offset: 0 },
      },
    ],
  };
  // TP2-like output: two rank files, each with half of the column-parallel tensor, as an export would write
  const half = (t: PlanTensor, r: number): PlanTensor => ({
    name: t.name,
    dtype: t.dtype,
    shape: [ROWS, COLS],
    pieces: [{ dstOffset: 0, dstStrides: [COLS, 1], src: bf16At(r, 1) }],
  });
  return {
    files: [
      { path: join(out, 'rank0.safetensors'), tensors: [rowParallel, columnParallel, transposedCast, reread, zerosAndMemory] },
      { path: join(out, 'rank1.safetensors'), tensors: [half(columnParallel, 1), transposedCast, half(columnParallel, 0)].map((t, i) => ({ ...t, name: `${t.name}.${i}` })) },
    ],
  };
}

function expectReference(p: CopyPlan): void {
  for (const f of p.files) {
    const got = readFileSync(f.path);
    const want = Buffer.from(referenceFile(f));
    if (!got.equals(want)) throw new Error(`${f.path}: differs from the reference at byte ${got.findIndex((b, i) => b !== want[i])} of ${want.byteLength}`);
  }
}

let outCounter = 0;
const freshOut = (): string => mkdtempSync(join(dir, `out${outCounter++}-`));

describe('streaming executor', () => {
  it.each([
    [4096, 1],
    [4096, 4],
    [12288, 2],
    [65536, 3],
    [undefined, 2],
  ])('maxBufferBytes %s with %s threads writes the reference bytes', async (maxBufferBytes, threads) => {
    const p = plan(freshOut());
    await executePlan(p, { threads, ...(maxBufferBytes !== undefined ? { maxBufferBytes } : {}) });
    expectReference(p);
  });

  it('keeps threads × unit × (1 + source bytes per output byte) within the budget, in whole pages, and releases the consumed source pages', async () => {
    const native = loadNative();
    for (const [maxBufferBytes, threads] of [
      [4096, 8],
      [3 * 4096 + 100, 2],
      [1 << 20, 16],
      [1 << 30, 4],
    ] as const) {
      const p = plan(freshOut());
      const { lowered, layouts } = lowerPlan(p, p.files.map((f) => tempPathFor(f.path)));
      const r = await native.execute(lowered, { threads, maxBufferBytes }).promise;
      expect(r.unitBytes! % 4096).toBe(0);
      // the plan casts f32 → bf16: each unit byte maps up to 2 source bytes besides its buffer byte; one page
      // on one thread is the floor
      expect(r.threads * r.unitBytes! * 3).toBeLessThanOrEqual(Math.max(maxBufferBytes, 3 * 4096));
      expect(r.threads).toBeGreaterThanOrEqual(1);
      // every file-backed byte was read by some unit and dropped afterwards (page rounding makes it a bit more)
      const fileBytes = 2 * (ROWS * COLS * 2) + 2 * (ROWS * COLS * 2) + ROWS * COLS * 2 + 2 * ROWS * COLS * 4;
      expect(r.releasedBytes!).toBeGreaterThanOrEqual(fileBytes);
      for (let i = 0; i < p.files.length; i++) {
        const got = readFileSync(lowered.outputs[i]!.path);
        expect(got.byteLength).toBe(layouts[i]!.size);
        expect(got.equals(Buffer.from(referenceFile(p.files[i]!)))).toBe(true);
      }
    }
  });

  it('refuses a budget below one page with E_USAGE, before creating anything', async () => {
    const out = freshOut();
    const e = await executePlan(plan(out), { maxBufferBytes: 4095 }).then(
      () => undefined,
      (err: unknown) => err as { code?: string; message: string },
    );
    expect(e?.code).toBe('E_USAGE');
    expect(e?.message).toMatch(/maxBufferBytes/);
    expect(existsSync(join(out, 'rank0.safetensors'))).toBe(false);
  });
});
