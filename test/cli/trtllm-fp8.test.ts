// `mcore-export trtllm --fp8 [--fp8-kv-cache]` as a child process (the CLI from source): Megatron's FP8 reference
// bytes from a TE 2.x checkpoint, and the coded refusal of a checkpoint without FP8 state.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { cli as runCli } from '../support/cli.js';
import { fixture, fp8Fixture } from '../support/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-trtllm-fp8-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const NO_LAUNCHER = { RANK: '', WORLD_SIZE: '', OMPI_COMM_WORLD_RANK: '', OMPI_COMM_WORLD_SIZE: '', PMI_RANK: '', PMI_SIZE: '', SLURM_PROCID: '', SLURM_NTASKS: '' };
const cli = (...args: string[]) => runCli(args, { env: NO_LAUNCHER });

test('--fp8 --fp8-kv-cache on a TE 2.x checkpoint writes Megatron\'s FP8 reference bytes', () => {
  const out = join(tmp, 'gptnext');
  const r = cli('trtllm', fp8Fixture('megatron', 'gptnext', 'te2', 'torch', 'tp1pp1'), '--out', out, '--tp', '2', '--dtype', 'bfloat16', '--fp8', '--fp8-kv-cache', '--json');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const ref = fp8Fixture('reference', 'gptnext', 'tp2_pp1_bfloat16_kvcache');
  expect(readdirSync(out).sort()).toEqual(readdirSync(ref).sort());
  for (const f of readdirSync(ref)) expect(readFileSync(join(out, f)).equals(readFileSync(join(ref, f))), f).toBe(true);
});

test('--fp8 on a checkpoint trained without FP8 exits 1 with E_CONFIG and writes nothing', () => {
  const out = join(tmp, 'plain');
  const r = cli('trtllm', fixture('megatron', 'llama', 'torch', 'tp1pp1'), '--out', out, '--fp8');
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/E_CONFIG.*FP8/);
  expect(existsSync(out)).toBe(false);
});

test('--help documents both flags', () => {
  const r = cli('trtllm', '--help');
  expect(r.stdout).toContain('--fp8 ');
  expect(r.stdout).toContain('--fp8-kv-cache');
});
