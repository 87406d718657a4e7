// The executor's quantized-output ops against an independent TypeScript reference (./reference.ts): random
// weights of awkward shapes (partial edge blocks), bf16 and f32 sources, file-backed, TP-split into two pieces and
// transposed, tiny unit budgets so block rows are split across units and threads. Bytes must be identical.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { executePlan } from '../../lib/plan/execute.js';
import type { CopyPlan } from '../../lib/plan/plan.js';
import { planQuantized } from '../../lib/quantize/plan.js';
import { resolveQuantize, type QuantScheme } from '../../lib/quantize/scheme.js';
import type { Tensor } from '../../lib/tensor/tensor.js';
import type { View } from '../../lib/tensor/view.js';
import { referenceQuantize, type ScaleDtype } from './reference.js';

const dir = mkdtempSync(join(tmpdir(), 'mcore-quant-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic pseudo-random floats with outliers, exact zeros and ties for rounding. */
function weights(n: number, seed: number): Float32Array {
  let x = seed >>> 0 || 1;
  const next = () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0), x / 2 ** 32);
  return Float32Array.from({ length: n }, (_, i) => {
    const u = next();
    if (i % 97 === 0) return 0;
    if (i % 89 === 0) return (u - 0.5) * 40; // outliers set the block's amax
    return (u - 0.5) * 0.2;
  });
}

function toBf16(w: Float32Array): { bytes: Uint8Array; values: Float32Array } {
  const u = new Uint32Array(w.buffer.slice(0));
  const out = new Uint16Array(w.length);
  const values = new Float32Array(w.length);
  const vu = new Uint32Array(values.buffer);
  for (let i = 0; i < w.length; i++) {
    out[i] = u[i]! >>> 16; // truncation: any bf16 pattern is a valid input
    vu[i] = out[i]! << 16;
  }
  return { bytes: new Uint8Array(out.buffer), values };
}

interface Case {
  scheme: QuantScheme;
  groupSize?: number;
  rows: number;
  cols: number;
  src: 'bfloat16' | 'float32';
  layout: 'file' | 'split' | 'transposed';
  scaleDtype: ScaleDtype;
}

const CASES: Case[] = [
  { scheme: 'int8-weight-only', rows: 67, cols: 96, src: 'bfloat16', layout: 'file', scaleDtype: 'bfloat16' },
  { scheme: 'int8-weight-only', rows: 40, cols: 64, src: 'float32', layout: 'transposed', scaleDtype: 'float16' },
  { scheme: 'int4-weight-only', groupSize: 32, rows: 50, cols: 128, src: 'bfloat16', layout: 'split', scaleDtype: 'bfloat16' },
  { scheme: 'int4-weight-only', groupSize: 16, rows: 33, cols: 48, src: 'float32', layout: 'file', scaleDtype: 'float32' },
  { scheme: 'fp8-per-channel', rows: 45, cols: 200, src: 'bfloat16', layout: 'file', scaleDtype: 'float32' },
  { scheme: 'fp8-block', rows: 300, cols: 260, src: 'bfloat16', layout: 'split', scaleDtype: 'float32' },
  { scheme: 'fp8-block', rows: 130, cols: 129, src: 'float32', layout: 'transposed', scaleDtype: 'float32' },
];

function sourceTensor(c: Case, tag: string): { tensor: Tensor; values: Float32Array } {
  const w = weights(c.rows * c.cols, c.rows * 131 + c.cols);
  const { bytes, values } = c.src === 'bfloat16' ? toBf16(w) : { bytes: new Uint8Array(w.buffer), values: w };
  const size = c.src === 'bfloat16' ? 2 : 4;
  if (c.layout === 'transposed') {
    // stored [cols, rows], read as its transpose
    const t = new Uint8Array(bytes.length);
    for (let r = 0; r < c.rows; r++) for (let col = 0; col < c.cols; col++) t.set(bytes.subarray((r * c.cols + col) * size, (r * c.cols + col + 1) * size), (col * c.rows + r) * size);
    const path = join(dir, `${tag}.bin`);
    writeFileSync(path, t);
    const view: View = { storage: { kind: 'file', path, byteOffset: 0, byteLength: t.length }, dtype: c.src, shape: [c.rows, c.cols], strides: [1, c.rows], offset: 0 };
    return { tensor: { dtype: c.src, shape: [c.rows, c.cols], blocks: [{ at: [0, 0], view }] }, values };
  }
  const path = join(dir, `${tag}.bin`);
  writeFileSync(path, bytes);
  const storage = { kind: 'file' as const, path, byteOffset: 0, byteLength: bytes.length };
  if (c.layout === 'file') {
    const view: View = { storage, dtype: c.src, shape: [c.rows, c.cols], strides: [c.cols, 1], offset: 0 };
    return { tensor: { dtype: c.src, shape: [c.rows, c.cols], blocks: [{ at: [0, 0], view }] }, values };
  }
  const half = Math.floor(c.rows / 2) + 1; // two TP shards of unequal size, neither a whole block row
  const top: View = { storage, dtype: c.src, shape: [half, c.cols], strides: [c.cols, 1], offset: 0 };
  const bottom: View = { storage, dtype: c.src, shape: [c.rows - half, c.cols], strides: [c.cols, 1], offset: half * c.cols };
  return { tensor: { dtype: c.src, shape: [c.rows, c.cols], blocks: [{ at: [half, 0], view: bottom }, { at: [0, 0], view: top }] }, values };
}

function tensorBytes(path: string, name: string): Uint8Array {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
  const dataStart = 8 + n;
  const [b, e] = header[name]!.data_offsets;
  return new Uint8Array(buf.subarray(dataStart + b, dataStart + e));
}

describe('quantized outputs in the copy plan (CPU) equal the TypeScript reference', () => {
  for (const [i, c] of CASES.entries()) {
    it(`${c.scheme}${c.groupSize ? ` g${c.groupSize}` : ''} ${c.rows}×${c.cols} ${c.src} ${c.layout} → scales ${c.scaleDtype}`, async () => {
      const { tensor, values } = sourceTensor(c, `case${i}`);
      const q = resolveQuantize({ scheme: c.scheme, ...(c.groupSize ? { groupSize: c.groupSize } : {}) });
      const w = planQuantized('w', tensor, q, { values: 'w.q', scales: 'w.s', valuesDtype: q.kind === 'fp8' ? 'float8_e4m3fn' : 'uint8', scaleDtype: c.scaleDtype });
      const want = referenceQuantize(values, c.rows, c.cols, q.kind, [q.block[0], q.block[1] || c.cols], c.scaleDtype);
      // scales before values in one file, values alone in another: both orders, both split over many units
      const out = mkdtempSync(join(dir, 'out-'));
      const plan: CopyPlan = {
        files: [
          { path: join(out, 'a.safetensors'), tensors: [w.scales, w.values] },
          { path: join(out, 'b.safetensors'), tensors: [w.values] },
        ],
      };
      for (const threads of [1, 3]) {
        await executePlan(plan, { threads, maxBufferBytes: 4096 * 3 });
        expect(Buffer.from(tensorBytes(join(out, 'a.safetensors'), 'w.s')).equals(Buffer.from(want.scales))).toBe(true);
        const got = tensorBytes(join(out, 'a.safetensors'), 'w.q');
        const mismatch = got.findIndex((b, k) => b !== want.values[k]);
        expect(mismatch, `first differing byte ${mismatch}: got ${got[mismatch]}, want ${want.values[mismatch]}`).toBe(-1);
        expect(got.length).toBe(want.values.length);
        expect(Buffer.from(tensorBytes(join(out, 'b.safetensors'), 'w.q')).equals(Buffer.from(want.values))).toBe(true);
        rmSync(join(out, 'a.safetensors'));
        rmSync(join(out, 'b.safetensors'));
      }
    });
  }

  it('refuses shapes the scheme cannot hold, before planning', () => {
    const t: Tensor = { dtype: 'float32', shape: [4, 6], blocks: [] };
    const q = resolveQuantize({ scheme: 'int4-weight-only', groupSize: 8 });
    expect(() => planQuantized('w', t, q, { values: 'a', scales: 'b', valuesDtype: 'uint8', scaleDtype: 'float32' })).toThrow(/group size/);
    expect(() => resolveQuantize({ scheme: 'int8-weight-only', groupSize: 64 })).toThrow(/int4-weight-only only/);
    expect(() => resolveQuantize({ scheme: 'int4-weight-only', groupSize: 12 })).toThrow(/multiple of 8/);
  });
});
