// `mcore-export trtllm --rank R --world-size W` in 4 concurrent real processes into one directory, then
// `mcore-export verify`: complete → exit 0; a share not run yet → exit 1 naming the missing rank; running that
// share completes it. Rank files are compared with Megatron's own TP2×PP2 conversion of the same checkpoint.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliAsync } from '../support/cli.js';
import { fixture } from '../support/fixtures.js';

const CKPT = fixture('megatron/llama/torch/tp1pp1');
const REFERENCE = fixture('reference/llama/tp2_pp2_bfloat16');

let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'share-cli-')); });
afterAll(() => rmSync(work, { recursive: true, force: true }));

const share = (out: string, rank: number) => ['trtllm', CKPT, '--out', out, '--tp', '2', '--pp', '2', '--rank', String(rank), '--world-size', '4', '--json'];

describe('mcore-export trtllm --rank/--world-size + verify', () => {
  it('4 concurrent processes write one complete, verified checkpoint equal to Megatron’s', async () => {
    const out = join(work, 'all');
    const runs = await Promise.all([0, 1, 2, 3].map((r) => cliAsync(share(out, r))));
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    expect(runs.map((r) => JSON.parse(r.stdout).ranks)).toEqual([[0], [1], [2], [3]]);
    const v = cli(['verify', out]);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    for (let r = 0; r < 4; r++) expect(Buffer.compare(readFileSync(join(out, `rank${r}.safetensors`)), readFileSync(join(REFERENCE, `rank${r}.safetensors`)))).toBe(0);
  }, 180_000);

  it('verify calls a directory missing one share incomplete; running that share completes it', async () => {
    const out = join(work, 'partial');
    const runs = await Promise.all([0, 1, 3].map((r) => cliAsync(share(out, r))));
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    const before = cli(['verify', out]);
    expect(before.status).toBe(1);
    expect(before.stdout + before.stderr).toMatch(/rank 2\b.*has no file|rank2\.safetensors/);
    const last = cli(share(out, 2));
    expect(last.status, last.stderr).toBe(0);
    expect(cli(['verify', out]).status).toBe(0);
  }, 180_000);
});
