// Partitioned export with REAL processes: 4 processes (RANK/WORLD_SIZE set as torchrun would) each write their
// share of a TP2×PP2 export of a real Megatron checkpoint into one directory; the union must equal a
// single-process export byte for byte. A process killed mid-write leaves a directory shareCompleteness calls
// incomplete; re-running only that rank completes it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shareCompleteness } from '../../lib/scale/share.js';
import { fixture } from '../support/fixtures.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '../..');
const VITE_NODE = join(ROOT, 'node_modules/.bin/vite-node');
const ENTRY = join(HERE, 'share-entry.ts');
const CKPT = fixture('megatron/llama/torch/tp1pp1');
const REFERENCE = fixture('reference/llama/tp2_pp2_bfloat16'); // Megatron's own conversion

let work: string;
let single: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'share-test-'));
  single = join(work, 'single');
  const r = runShare(single, {}); // no launcher variables: one process writes everything
  expect(r.status, r.stderr).toBe(0);
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function runShare(out: string, env: Record<string, string>, extra: string[] = []) {
  return spawnSync(VITE_NODE, [ENTRY, CKPT, out, '2', '2', ...extra], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

function startShare(out: string, env: Record<string, string>, extra: string[] = []): ChildProcess {
  return spawn(VITE_NODE, [ENTRY, CKPT, out, '2', '2', ...extra], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function finished(p: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  p.stdout!.on('data', (c) => (out += c));
  p.stderr!.on('data', (c) => (err += c));
  return new Promise((res) => p.on('close', (code) => res({ code, out, err })));
}

function sameFiles(a: string, b: string): void {
  const names = readdirSync(a).sort();
  expect(readdirSync(b).sort()).toEqual(names);
  for (const n of names) expect(Buffer.compare(readFileSync(join(a, n)), readFileSync(join(b, n))), n).toBe(0);
}

describe('partitioned export, 4 real processes', () => {
  it('the single-process export is complete and matches Megatron’s reference rank files', () => {
    expect(shareCompleteness(single)).toMatchObject({ complete: true, worldSize: 4, missingRanks: [] });
    for (let r = 0; r < 4; r++) expect(Buffer.compare(readFileSync(join(single, `rank${r}.safetensors`)), readFileSync(join(REFERENCE, `rank${r}.safetensors`)))).toBe(0);
  });

  for (const assignment of ['round-robin', 'contiguous'] as const) {
    it(`${assignment}: union of 4 concurrent processes = single-process export, byte for byte`, async () => {
      const out = join(work, `multi-${assignment}`);
      const runs = await Promise.all([0, 1, 2, 3].map((r) => finished(startShare(out, { RANK: String(r), WORLD_SIZE: '4' }, [assignment]))));
      for (const r of runs) expect(r.code, r.err).toBe(0);
      const reports = runs.map((r) => JSON.parse(r.out.trim().split('\n').pop()!));
      expect(reports.map((x) => x.ranks)).toEqual([[0], [1], [2], [3]]);
      expect(reports.map((x) => x.writesConfig)).toEqual([true, false, false, false]);
      expect(reports.every((x) => x.source === 'RANK/WORLD_SIZE')).toBe(true);
      sameFiles(single, out);
      expect(shareCompleteness(out).complete).toBe(true);
    }, 120_000);
  }

  for (const [assignment, expected] of [['round-robin', [[0, 3], [1], [2]]], ['contiguous', [[0, 1], [2], [3]]]] as const) {
    it(`3 processes over 4 output ranks (Slurm variables), ${assignment}: ${JSON.stringify(expected)}`, async () => {
      const out = join(work, `slurm3-${assignment}`);
      const runs = await Promise.all([0, 1, 2].map((r) => finished(startShare(out, { SLURM_PROCID: String(r), SLURM_NTASKS: '3' }, [assignment]))));
      for (const r of runs) expect(r.code, r.err).toBe(0);
      expect(runs.map((r) => JSON.parse(r.out.trim().split('\n').pop()!).ranks)).toEqual(expected);
      sameFiles(single, out);
    }, 120_000);
  }

  it('a killed process leaves an incomplete directory; re-running its rank completes it', async () => {
    const out = join(work, 'killed');
    const others = await Promise.all([0, 1, 3].map((r) => finished(startShare(out, { RANK: String(r), WORLD_SIZE: '4' }))));
    for (const r of others) expect(r.code, r.err).toBe(0);
    const victim = startShare(out, { RANK: '2', WORLD_SIZE: '4', SHARE_TEST_HANG: '1' });
    const done = finished(victim);
    await new Promise<void>((res) => victim.stdout!.on('data', (c) => { if (String(c).includes('HANGING')) res(); }));
    victim.kill('SIGKILL');
    expect((await done).code).toBe(null);

    const state = shareCompleteness(out);
    expect(state.complete).toBe(false);
    expect(state.missingRanks).toEqual([2]);
    expect(state.inProgress).toHaveLength(1);
    expect(state.inProgress[0]).toMatch(/^\.rank2\.safetensors\.tmp-/);
    expect(existsSync(join(out, 'rank2.safetensors'))).toBe(false);

    const again = runShare(out, { RANK: '2', WORLD_SIZE: '4' });
    expect(again.status, again.stderr).toBe(0);
    expect(shareCompleteness(out)).toMatchObject({ complete: true, inProgress: [], missingRanks: [] });
    sameFiles(single, out);
  }, 120_000);

  it('config.json missing (rank 0 not done) is incomplete even with every rank file present', () => {
    const out = join(work, 'noconfig');
    for (const r of [1, 2, 3]) expect(runShare(out, { RANK: String(r), WORLD_SIZE: '4' }).status).toBe(0);
    const s = shareCompleteness(out);
    expect(s.complete).toBe(false);
    expect(s.reasons.join('\n')).toMatch(/config\.json missing/);
  }, 120_000);
});
