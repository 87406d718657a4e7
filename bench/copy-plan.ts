// Executor throughput on a 2 GiB f32 source: same-dtype contiguous copy (baseline) and a plain file copy
// (memcpy-class reference), then f32→bf16 casts of the contiguous and of the transposed view.
// Run: npx vite-node bench/copy-plan.ts [--gib 2] [--runs 3] [--threads N] [--dir /dev/shm] [--json FILE]
// Needs the addon (npm run build:native). Bandwidth = source bytes / seconds.
import { copyFileSync, existsSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { features } from '../lib/native.js';
import { executePlan } from '../lib/plan/execute.js';
import type { CopyPlan } from '../lib/plan/plan.js';
import type { DType } from '../lib/tensor/dtype.js';
import type { View } from '../lib/tensor/view.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const gib = Number(arg('gib', '2'));
const runs = Number(arg('runs', '3'));
const threadsArg = arg('threads', '');
const threads = threadsArg ? Number(threadsArg) : undefined;
const base = arg('dir', existsSync('/dev/shm') ? '/dev/shm' : tmpdir());

const COLS = 16384;
const ROWS = Math.round((gib * 2 ** 30) / 4 / COLS);
const srcBytes = ROWS * COLS * 4;
const dir = mkdtempSync(join(base, 'mcore-bench-'));
const src = join(dir, 'source.f32');

function writeSource(): void {
  const fd = openSync(src, 'w');
  const chunk = new Float32Array(16 << 20);
  let x = 1;
  for (let i = 0; i < chunk.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    chunk[i] = (x / 2 ** 32 - 0.5) * 8;
  }
  for (let done = 0; done < srcBytes; done += chunk.byteLength) writeSync(fd, new Uint8Array(chunk.buffer, 0, Math.min(chunk.byteLength, srcBytes - done)));
  closeSync(fd);
}

const storage = { kind: 'file' as const, path: src, byteOffset: 0, byteLength: srcBytes };
const contiguous: View = { storage, dtype: 'float32', shape: [ROWS, COLS], strides: [COLS, 1], offset: 0 };
const transposed: View = { storage, dtype: 'float32', shape: [COLS, ROWS], strides: [1, COLS], offset: 0 };

function plan(view: View, dtype: DType): CopyPlan {
  const shape = [...view.shape];
  return { files: [{ path: join(dir, 'out.safetensors'), tensors: [{ name: 'w', dtype, shape, pieces: [{ dstOffset: 0, dstStrides: [shape[1]!, 1], src: view }] }] }] };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function measure(label: string, once: () => Promise<void> | void): Promise<{ label: string; seconds: number; gbps: number }> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await once();
    times.push((performance.now() - t0) / 1000);
    rmSync(join(dir, 'out.safetensors'), { force: true });
    rmSync(join(dir, 'copy.bin'), { force: true });
  }
  const seconds = median(times);
  const r = { label, seconds, gbps: srcBytes / seconds / 1e9, runs: times };
  console.log(`${label.padEnd(40)} median ${seconds.toFixed(3)} s  ${r.gbps.toFixed(2)} GB/s  (runs: ${times.map((t) => t.toFixed(3)).join(', ')})`);
  return r;
}

async function main(): Promise<void> {
  const f = features();
  console.log(`source ${ROWS}x${COLS} f32 = ${(srcBytes / 2 ** 30).toFixed(2)} GiB in ${dir}; ${cpus().length} CPUs (${cpus()[0]?.model}); threads ${threads ?? f.threads}; addon ${f.version} cuda=${f.cuda}`);
  writeSource();
  const opts = threads ? { threads } : {};
  try {
    const file = await measure('file copy (copyFileSync)', () => copyFileSync(src, join(dir, 'copy.bin')));
    const copy = await measure('executor f32→f32 contiguous (baseline)', async () => void (await executePlan(plan(contiguous, 'float32'), opts)));
    const cast = await measure('executor f32→bf16 contiguous', async () => void (await executePlan(plan(contiguous, 'bfloat16'), opts)));
    const trans = await measure('executor f32→bf16 transposed', async () => void (await executePlan(plan(transposed, 'bfloat16'), opts)));
    console.log(`contiguous cast: ${((100 * cast.gbps) / copy.gbps).toFixed(0)}% of the baseline (target ≥ 70%)`);
    console.log(`transposed cast: ${((100 * trans.gbps) / copy.gbps).toFixed(0)}% of the baseline (target ≥ 40%)`);
    console.log(`baseline vs plain file copy: ${((100 * copy.gbps) / file.gbps).toFixed(0)}%`);
    const json = arg('json', '');
    if (json) {
      const host = { cpus: cpus().length, cpu: cpus()[0]?.model, loadavg: loadavg(), node: process.version, addon: f };
      writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), host, sourceBytes: srcBytes, threads: threads ?? f.threads, results: [file, copy, cast, trans] }, null, 2) + '\n');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
