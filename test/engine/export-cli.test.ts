// `mcore-export export` (checkpoint, then engine) in a real process. The engine step runs the STAND-IN
// trtllm-build (TensorRT-LLM cannot be installed here; test/support/fake-trtllm-build). The checkpoint step is
// real and is compared with Megatron's own conversion of the same fixture.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli as runCli } from '../support/cli.js';
import { fixture } from '../support/fixtures.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const STAND_IN = join(HERE, '../support/fake-trtllm-build/trtllm-build');
const CKPT = fixture('megatron/gpt2/torch/tp1pp1');
const REFERENCE = fixture('reference/gpt2/tp2_pp1_bfloat16');

let work: string;
beforeEach(() => { work = mkdtempSync(join(tmpdir(), 'export-cli-')); });
afterEach(() => rmSync(work, { recursive: true, force: true }));

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: work, env, timeoutMs: 120_000 });

describe('mcore-export export', () => {
  it('writes the checkpoint (= Megatron reference) and then the engine; --json has both', () => {
    const out = join(work, 'ckpt');
    const eng = join(work, 'engine');
    const r = cli(['export', CKPT, '--out', out, '--engine', eng, '--tp', '2', '--dtype', 'bfloat16', '--megatron-compat', '--trtllm-build', STAND_IN, '--max-batch-size', '16', '--json'],
      { FAKE_TRTLLM_RECORD: join(work, 'argv.json') });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.engine.worldSize).toBe(2);
    expect(res.checkpoint.outDir).toBe(out);
    for (const n of ['rank0.safetensors', 'rank1.safetensors']) expect(Buffer.compare(readFileSync(join(out, n)), readFileSync(join(REFERENCE, n))), n).toBe(0);
    expect(readdirSync(eng).sort()).toEqual(['config.json', 'model.cache', 'rank0.engine', 'rank1.engine']);
    const argv: string[] = JSON.parse(readFileSync(join(work, 'argv.json'), 'utf8')).argv;
    expect(argv.slice(0, 2)).toEqual(['--checkpoint_dir', out]);
    expect(argv.slice(-2)).toEqual(['--max_batch_size', '16']);
  });

  it('a missing trtllm-build fails before anything is exported', () => {
    const out = join(work, 'ckpt');
    const r = cli(['export', CKPT, '--out', out, '--engine', join(work, 'e')], { PATH: dirname(process.execPath), MCORE_EXPORT_TRTLLM_BUILD: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/E_NOT_FOUND: trtllm-build was not found/);
    expect(existsSync(out)).toBe(false);
  });

  it('a bad engine option fails before anything is exported', () => {
    const out = join(work, 'ckpt');
    const r = cli(['export', CKPT, '--out', out, '--engine', join(work, 'e'), '--trtllm-build', STAND_IN, '--tokens-per-block', '100']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/E_CONFIG: engine build option tokensPerBlock/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a multi-process launch (the engine needs every share) and a missing --engine', () => {
    expect(cli(['export', CKPT, '--out', join(work, 'c'), '--engine', join(work, 'e'), '--rank', '0', '--world-size', '2']).status).toBe(2);
    expect(cli(['export', CKPT, '--out', join(work, 'c')]).status).toBe(2);
  });
});
