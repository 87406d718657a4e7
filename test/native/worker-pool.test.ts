// Concurrent exports in one process share the addon's one worker pool (native/src/worker_pool.cc): four exports
// at once start no threads of their own (counted in /proc/self/task), write the same bytes as one at a time, and
// take no longer in total than running them one after another.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { features } from '../../lib/native.js';
import { executePlan } from '../../lib/plan/execute.js';
import type { CopyPlan, PlanTensor } from '../../lib/plan/plan.js';
import type { View } from '../../lib/tensor/view.js';

// tmpfs when available: the test is about threads and CPU time, not disk latency
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'mcore-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// a 16 MiB f32 source read transposed and cast to f16 twice per export: CPU-bound, ~100 ms per export and thread
const ROWS = 2048;
const COLS = 2048;
const srcPath = join(dir, 'src.bin');
const src = new Float32Array(ROWS * COLS).map((_, i) => (i % 977) / 3);
writeFileSync(srcPath, new Uint8Array(src.buffer));
const view: View = { storage: { kind: 'file', path: srcPath, byteOffset: 0, byteLength: src.byteLength }, dtype: 'float32', shape: [ROWS, COLS], strides: [1, ROWS], offset: 0 };

let n = 0;
function plan(): CopyPlan {
  const out = mkdtempSync(join(dir, `out${n++}-`));
  const tensors: PlanTensor[] = [0, 1].map((i) => ({ name: `w${i}`, dtype: 'float16', shape: [ROWS, COLS], pieces: [{ dstOffset: 0, dstStrides: [COLS, 1], src: view }] }));
  return { files: [{ path: join(out, 'model.safetensors'), tensors }] };
}

const threadsNow = (): number => readdirSync('/proc/self/task').length;
const EXPORTS = 4;

describe.skipIf(!existsSync('/proc/self/task'))('concurrent exports share one worker pool', () => {
  it(`${EXPORTS} exports at once: no extra threads, same bytes, no slower in total than one after another`, async () => {
    const threads = features().threads; // each export asks for the whole machine
    const run = (): ReturnType<typeof executePlan> => executePlan(plan(), { threads, hash: true });
    await run(); // warm-up: the pool and libuv's threads exist from here on
    const base = threadsNow();

    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, threadsNow())), 2);
    const timeConcurrent = async (): Promise<{ ms: number; hashes: string[] }> => {
      const t0 = performance.now();
      const rs = await Promise.all(Array.from({ length: EXPORTS }, run));
      return { ms: performance.now() - t0, hashes: rs.map((r) => r.files[0]!.sha256!) };
    };
    const timeSequential = async (): Promise<{ ms: number; hashes: string[] }> => {
      const t0 = performance.now();
      const hashes: string[] = [];
      for (let i = 0; i < EXPORTS; i++) hashes.push((await run()).files[0]!.sha256!);
      return { ms: performance.now() - t0, hashes };
    };
    // alternate, best of two each, so slow drift of a shared machine hits both
    const c1 = await timeConcurrent();
    const s1 = await timeSequential();
    const c2 = await timeConcurrent();
    const s2 = await timeSequential();
    clearInterval(sampler);
    peak = Math.max(peak, threadsNow());

    const concurrentMs = Math.min(c1.ms, c2.ms);
    const sequentialMs = Math.min(s1.ms, s2.ms);
    console.log(JSON.stringify({ poolThreads: threads, exports: EXPORTS, threadsBefore: base, threadsPeak: peak, concurrentMs: Math.round(concurrentMs), sequentialMs: Math.round(sequentialMs), concurrentMsRuns: [c1.ms, c2.ms].map(Math.round), sequentialMsRuns: [s1.ms, s2.ms].map(Math.round) }));

    expect(peak - base, 'threads started during the concurrent exports').toBe(0);
    expect(new Set([...c1.hashes, ...s1.hashes, ...c2.hashes, ...s2.hashes]).size).toBe(1);
    expect(concurrentMs).toBeLessThanOrEqual(sequentialMs * 1.1); // 10 % for the noise of a shared machine
  });
});
