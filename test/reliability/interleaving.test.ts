// Kill / cancel / --force interleavings: 200 random schedules (MCORE_INTERLEAVE_RUNS; seed MCORE_INTERLEAVE_SEED,
// printed so a failure can be replayed). Each schedule exports (trtllm or hf, with or without --force) a small
// generated checkpoint into an absent, empty, previous-export or foreign-content directory, and at a random
// moment sends SIGKILL or SIGTERM to the CLI process, or aborts an in-process export through its AbortSignal.
// Afterwards the directory is exactly one of: the complete previous export, the complete new export, or (first
// export) absent / empty of our files — and foreign files are always intact, byte for byte.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportHf } from '../../lib/hf/export.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import type { Checkpoint } from '../../lib/megatron/types.js';
import { exportTrtllm } from '../../lib/trtllm/export.js';
import { Rng } from '../fuzz/rng.js';
import { makeSmallCheckpoint, stagingDirs } from './support/big-checkpoint.js';
import { BIN, BUILT, cli, listTree, sha256File } from './support/cli.js';

const RUNS = Number(process.env.MCORE_INTERLEAVE_RUNS ?? 200);
const SEED = Number(process.env.MCORE_INTERLEAVE_SEED ?? 20261204);
const PARALLEL = 2;

type Cmd = 'trtllm' | 'hf';
type Tree = Record<string, string>;
const work = mkdtempSync(join(tmpdir(), 'mcore-interleave-'));
let ckptPath = '';
let ckpt: Checkpoint;
const previous: Partial<Record<Cmd, string>> = {};
const expectedNew: Partial<Record<Cmd, Tree>> = {};
const expectedPrevious: Partial<Record<Cmd, Tree>> = {};
const fullMs: Partial<Record<Cmd, number>> = {};

const tree = (dir: string): Tree => Object.fromEntries(listTree(dir).map((p) => [p, p.endsWith('/') ? 'dir' : sha256File(join(dir, p))]));
const NEW_ARGS = ['--dtype', 'bfloat16'];
const PREVIOUS_ARGS = ['--dtype', 'float16']; // a different export, so previous and new are told apart

beforeAll(() => {
  if (!BUILT) return;
  ckptPath = makeSmallCheckpoint(work);
  ckpt = openCheckpoint(ckptPath);
  for (const cmd of ['trtllm', 'hf'] as const) {
    const prev = join(work, `previous-${cmd}`);
    expect(cli([cmd, ckptPath, '--out', prev, ...PREVIOUS_ARGS]).status).toBe(0);
    previous[cmd] = prev;
    expectedPrevious[cmd] = tree(prev);
    const t0 = performance.now();
    const ref = join(work, `new-${cmd}`);
    expect(cli([cmd, ckptPath, '--out', ref, ...NEW_ARGS]).status).toBe(0);
    fullMs[cmd] = performance.now() - t0;
    expectedNew[cmd] = tree(ref);
  }
}, 120_000);
afterAll(() => {
  ckpt?.close();
  rmSync(work, { recursive: true, force: true });
});

interface Schedule {
  i: number;
  cmd: Cmd;
  action: 'SIGKILL' | 'SIGTERM' | 'abort';
  force: boolean;
  dir: 'absent' | 'empty' | 'previous' | 'foreign';
  /** when the kill or abort comes, as a fraction of an uninterrupted run */
  at: number;
}

function schedules(): Schedule[] {
  const rng = new Rng(SEED);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;
  return Array.from({ length: RUNS }, (_, i) => ({
    i,
    cmd: pick(['trtllm', 'hf'] as const),
    action: pick(['SIGKILL', 'SIGTERM', 'abort'] as const),
    force: rng.next() < 0.5,
    dir: pick(['absent', 'empty', 'previous', 'foreign'] as const),
    // half anywhere, half late in the run (where the writes and the swap are: start-up takes most of a small export)
    at: rng.next() < 0.5 ? rng.next() * 1.3 : 0.6 + rng.next() * 0.5,
  }));
}

function prepare(s: Schedule, out: string): void {
  if (s.dir === 'absent') return;
  if (s.dir === 'previous') return void cpSync(previous[s.cmd]!, out, { recursive: true });
  mkdirSync(out);
  if (s.dir === 'foreign') {
    cpSync(previous[s.cmd]!, out, { recursive: true }); // our files next to foreign ones: still refused
    mkdirSync(join(out, 'other-model'));
    writeFileSync(join(out, 'other-model', 'weights.bin'), `precious ${s.i}`);
    writeFileSync(join(out, 'notes.txt'), 'keep');
  }
}

/** Runs one schedule; returns how it ended ('exit N', 'SIGKILL', 'aborted', ...). */
async function perform(s: Schedule, out: string): Promise<string> {
  const delay = s.at * fullMs[s.cmd]!;
  const args = [s.cmd, ckptPath, '--out', out, ...NEW_ARGS, ...(s.force ? ['--force'] : [])];
  if (s.action === 'abort') {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), delay / 3); // in-process runs skip node's start-up
    const opts = { outDir: out, force: s.force, signal: ac.signal, dtype: 'bfloat16', threads: 1 };
    try {
      await (s.cmd === 'trtllm' ? exportTrtllm(ckpt, opts) : exportHf(ckpt, opts));
      return 'completed';
    } catch (e) {
      return `rejected ${(e as { code?: string }).code}`;
    } finally {
      clearTimeout(timer);
    }
  }
  const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => p.kill(s.action), delay);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) => p.on('close', (c, sig) => res([c, sig])));
  clearTimeout(timer);
  if (code !== null && ![0, 2, 143].includes(code)) throw new Error(`schedule ${JSON.stringify(s)}: unexpected exit ${code}: ${stderr}`);
  return signal ? `killed ${signal}` : `exit ${code}`;
}

/** What the directory is now: one of the allowed states, or a description of what is wrong. */
function judge(s: Schedule, out: string, before: Tree | null): string {
  if (!existsSync(out)) return s.dir === 'absent' ? 'absent' : 'WRONG: the directory vanished';
  const now = tree(out);
  if (s.dir === 'foreign') return JSON.stringify(now) === JSON.stringify(before) ? 'untouched' : `WRONG: foreign directory changed: ${Object.keys(now).join(', ')}`;
  if (Object.keys(now).length === 0) return s.dir === 'absent' || s.dir === 'empty' ? 'empty' : 'WRONG: previous export emptied';
  if (JSON.stringify(now) === JSON.stringify(expectedNew[s.cmd])) {
    return s.dir === 'previous' && !s.force ? 'WRONG: replaced without --force' : 'new export';
  }
  if (s.dir === 'previous' && JSON.stringify(now) === JSON.stringify(expectedPrevious[s.cmd])) return 'previous export';
  return `WRONG: mixed or partial: ${Object.keys(now).join(', ')}`;
}

describe.skipIf(!BUILT)(`kill / cancel / --force interleavings (${RUNS} schedules, seed ${SEED})`, () => {
  it('every schedule leaves the previous export, the new export, or nothing of ours; foreign files intact', async () => {
    const outcomes = new Map<string, number>();
    const wrong: string[] = [];
    const queue = schedules();
    const worker = async () => {
      for (let s = queue.shift(); s; s = queue.shift()) {
        const base = join(work, `run-${s.i}`);
        mkdirSync(base);
        const out = join(base, 'out');
        prepare(s, out);
        const before = existsSync(out) ? tree(out) : null;
        const ended = await perform(s, out);
        const state = judge(s, out, before);
        const key = `${s.action}: ${ended} → ${state}${stagingDirs(out).length ? ' (+ staging of the killed run)' : ''}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        if (state.startsWith('WRONG')) wrong.push(`${JSON.stringify(s)} ${ended}: ${state}`);
        if (s.action !== 'SIGKILL' && stagingDirs(out).length) wrong.push(`${JSON.stringify(s)} ${ended}: staging left without a SIGKILL`);
        rmSync(base, { recursive: true, force: true });
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const summary = [...outcomes].sort().map(([k, v]) => `${String(v).padStart(4)}  ${k}`).join('\n');
    console.log(`interleavings, seed ${SEED}:\n${summary}`);
    expect(wrong, `seed ${SEED}\n${summary}`).toEqual([]);
    // the schedules must have hit the interesting moments, or this proved little (timing varies by machine, so
    // at least one of each; signals.test.ts sends SIGTERM mid-write deterministically)
    const count = (re: RegExp) => [...outcomes].filter(([k]) => re.test(k)).reduce((a, [, v]) => a + v, 0);
    if (RUNS >= 200) {
      expect(count(/killed SIGKILL.*\+ staging/), summary).toBeGreaterThanOrEqual(1); // killed while writing
      expect(count(/exit 143/), summary).toBeGreaterThanOrEqual(1); // SIGTERM cancelled an export
      expect(count(/rejected E_ABORTED/), summary).toBeGreaterThanOrEqual(1);
      expect(count(/→ new export/), summary).toBeGreaterThanOrEqual(1);
    }
  }, 600_000);
});
