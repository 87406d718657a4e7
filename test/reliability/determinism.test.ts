// Determinism of the CPU executor: the same export with --threads 1, with every core (the default) and with more
// threads than cores gives byte-identical files (sha256 of every file), on a generated 150 MB checkpoint and on
// real fixtures with dtype casts and TP splits. (The CUDA path is the GPU suite's.)
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBigCheckpoint } from './support/big-checkpoint.js';
import { cli } from '../support/cli.js';
import { sha256File } from '../support/files.js';
import { FIXTURES } from '../support/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'mcore-determinism-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function exportHashes(ckpt: string, args: string[], threads: string[], tag: string): Map<string, string> {
  const out = join(work, `${tag}-${threads.join('') || 'default'}`);
  const r = cli(['trtllm', ckpt, '--out', out, ...args, ...threads]);
  expect(r.status, r.stderr).toBe(0);
  const h = new Map(readdirSync(out).sort().map((n) => [n, sha256File(join(out, n))]));
  rmSync(out, { recursive: true, force: true });
  return h;
}

const THREADS = [['--threads', '1'], [], ['--threads', '7']];

describe('determinism across thread counts', () => {
  const cases: [string, () => string, string[]][] = [
    ['generated llama 150 MB, tp2', () => makeBigCheckpoint(work), ['--tp', '2']],
    ['mixtral fixture, bf16 → float32, tp2', () => join(FIXTURES, 'megatron/mixtral/torch_dist/tp1pp1'), ['--tp', '2', '--dtype', 'float32']],
    ['gpt2 fixture (fp32) → float16, pp2, parallel embedding', () => join(FIXTURES, 'megatron/gpt2/torch/tp2pp1'), ['--pp', '2', '--tp', '2', '--parallel-embedding', '--dtype', 'float16']],
  ];
  for (const [i, [name, ckpt, args]] of cases.entries()) {
    it(name, () => {
      const path = ckpt();
      const [first, ...rest] = THREADS.map((t) => exportHashes(path, args, t, `c${i}`));
      expect(first!.size).toBeGreaterThan(1);
      for (const h of rest) expect(h).toEqual(first);
    }, 180_000);
  }
});
