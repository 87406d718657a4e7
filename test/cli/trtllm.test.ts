// The real CLI as a child process (test/support/cli.ts): exports compared byte for byte with references.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { cli as runCli } from '../support/cli.js';
import { makeWritable as chmodTree } from '../support/files.js';
import { FIXTURES, REFERENCE } from '../trtllm/support/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-trtllm-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = runCli(args);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const ckpt = (model: string, layout: string, fmt = 'torch') => join(FIXTURES, 'megatron', model, fmt, layout);
let n = 0;
const fresh = () => join(tmp, `out${n++}`);

function sameAsReference(out: string, ref: string) {
  const refFiles = readdirSync(ref).sort();
  expect(readdirSync(out).sort()).toEqual(refFiles);
  for (const f of refFiles) expect(readFileSync(join(out, f)).equals(readFileSync(join(ref, f))), f).toBe(true);
}

describe('mcore-export trtllm', () => {
  test.each([
    ['llama', 'torch', 'tp2pp1', ['--tp', '2', '--pp', '2', '--dtype', 'float16'], 'tp2_pp2_float16'],
    // gpt2 is tied: byte parity with Megatron (no lm_head) needs --megatron-compat (test/trtllm/reference.test.ts)
    ['gpt2', 'torch_dist', 'tp1pp2', ['--tp', '2', '--dtype', 'bf16', '--parallel-embedding', '--megatron-compat'], 'tp2_pp1_bfloat16_parallel_embedding'],
    ['gptnext', 'torch', 'tp1pp1', ['--tp', '4', '--dtype', 'bfloat16'], 'tp4_pp1_bfloat16'],
  ])('%s %s %s %j equals reference %s', (model, fmt, layout, flags, refCase) => {
    const out = fresh();
    const r = cli('trtllm', ckpt(model, layout, fmt), '--out', out, ...flags, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { files: { path: string; bytes: number }[]; bytes: number; dryRun: boolean };
    expect(json.dryRun).toBe(false);
    expect(json.files.length).toBe(readdirSync(out).length);
    expect(json.bytes).toBe(json.files.reduce((a, f) => a + f.bytes, 0));
    sameAsReference(out, join(REFERENCE, model, refCase));
  });

  test('human output is a summary with throughput', () => {
    const out = fresh();
    const r = cli('trtllm', ckpt('llama', 'tp1pp1'), '--out', out, '--tp', '2', '--dtype', 'bfloat16');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/3 files, .* in [\d.]+ s \([\d.]+ GB\/s\)/);
    sameAsReference(out, join(REFERENCE, 'llama', 'tp2_pp1_bfloat16'));
  });

  test('--dry-run plans and writes nothing', () => {
    const out = fresh();
    const r = cli('trtllm', ckpt('llama', 'tp1pp1'), '--out', out, '--tp', '2', '--pp', '2', '--dry-run', '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as { dryRun: boolean; files: { path: string; bytes: number }[]; tensors: { tensors: unknown[] }[] };
    expect(json.dryRun).toBe(true);
    expect(json.files).toHaveLength(4);
    const refBytes = [0, 1, 2, 3].map((i) => readFileSync(join(REFERENCE, 'llama', 'tp2_pp2_bfloat16', `rank${i}.safetensors`)).byteLength);
    // data bytes only (no header): strictly less than each reference file, by the header size
    json.files.forEach((f, i) => expect(f.bytes).toBeLessThan(refBytes[i]!));
    expect(existsSync(out)).toBe(false);
  });

  test('a non-empty --out is refused without --force; --force replaces a previous export, never foreign files', () => {
    const out = fresh();
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    writeFileSync(join(out, 'rank7.safetensors'), 'stale');
    const refused = cli('trtllm', ckpt('llama', 'tp1pp1'), '--out', out, '--dtype', 'bfloat16');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/E_USAGE: the output directory is not empty \(keep\.txt, rank7\.safetensors\); pass --force/);
    const foreign = cli('trtllm', ckpt('llama', 'tp1pp1'), '--out', out, '--dtype', 'bfloat16', '--force');
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/E_USAGE: the output directory holds 1 entry that no TensorRT-LLM checkpoint export writes \(keep\.txt\)/);
    expect(readdirSync(out).sort()).toEqual(['keep.txt', 'rank7.safetensors']);
    rmSync(join(out, 'keep.txt'));
    const forced = cli('trtllm', ckpt('llama', 'tp1pp1'), '--out', out, '--dtype', 'bfloat16', '--force');
    expect(forced.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'rank0.safetensors']);
    expect(readFileSync(join(out, 'rank0.safetensors')).equals(readFileSync(join(REFERENCE, 'llama', 'tp1_pp1_bfloat16', 'rank0.safetensors')))).toBe(true);
  });

  test.each([
    [['--tp', '3'], 1, /E_CONFIG: number of query groups of the model is 2/],
    [['--pp', '5'], 1, /E_CONFIG: pipeline-parallel size 5/],
    [['--dtype', 'int8'], 1, /E_CONFIG: TensorRT-LLM checkpoints are/],
    [['--dtype', 'float64'], 2, /E_USAGE: unknown dtype/],
    [['--vocab-size', '999'], 1, /E_CONFIG: vocabSize 999/],
    [['--tp', '0'], 2, /E_USAGE: --tp needs an integer/],
    [['--embedding-sharding-dim', '1'], 2, /E_USAGE: --embedding-sharding-dim needs --parallel-embedding/],
    [['--model-type', 'bert'], 2, /E_USAGE: --model-type/],
  ])('bad settings %j fail with a code before anything is written', (flags, code, message) => {
    const out = fresh();
    const r = cli('trtllm', ckpt('llama', 'tp1pp1'), '--out', out, ...flags);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  test('--rank/--world-size write only that process’s share; together they make the whole checkpoint', () => {
    const out = fresh();
    const a = cli('trtllm', ckpt('llama', 'tp1pp1'), '--out', out, '--tp', '2', '--pp', '2', '--rank', '1', '--world-size', '2', '--json');
    expect(a.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['rank1.safetensors', 'rank3.safetensors']);
    const b = cli('trtllm', ckpt('llama', 'tp1pp1'), '--out', out, '--tp', '2', '--pp', '2', '--rank', '0', '--world-size', '2', '--force');
    expect(b.code).toBe(0);
    sameAsReference(out, join(REFERENCE, 'llama', 'tp2_pp2_bfloat16'));
  });
});

describe('mcore-export verify', () => {
  // verify reads a checkpoint as TensorRT-LLM 1.x loads it: Megatron's tied gpt2 conversions without a usable
  // lm_head (PP > 1, or TP > 1 without dim-0 parallel embedding; see test/trtllm/loader.test.ts) are refused.
  test('accepts every reference conversion TensorRT-LLM can load, refuses the tied ones without a usable lm_head', () => {
    for (const model of readdirSync(REFERENCE)) {
      for (const c of readdirSync(join(REFERENCE, model))) {
        const r = cli('verify', join(REFERENCE, model, c), '--json');
        const cfg = JSON.parse(readFileSync(join(REFERENCE, model, c, 'config.json'), 'utf8')) as { tp_size: number; pp_size: number; use_parallel_embedding: boolean };
        const noLmHead = model === 'gpt2' && !c.startsWith('distributed_pp') && !(cfg.pp_size === 1 && (cfg.tp_size === 1 || cfg.use_parallel_embedding));
        expect([`${model}/${c}`, r.code]).toEqual([`${model}/${c}`, noLmHead ? 1 : 0]);
        const j = JSON.parse(r.stdout) as { ok: boolean; problems: { tensor?: string; code: string }[] };
        expect(j.ok).toBe(!noLmHead);
        if (noLmHead) expect(j.problems.every((p) => p.code === 'E_NOT_FOUND' && p.tensor === 'lm_head.weight')).toBe(true);
      }
    }
  });

  test('accepts our default export of a tied model at TP 2 PP 2', () => {
    const out = fresh();
    expect(cli('trtllm', ckpt('gpt2', 'tp1pp1'), '--out', out, '--tp', '2', '--pp', '2').code).toBe(0);
    expect(cli('verify', out).code).toBe(0);
  });

  test.each([
    ['a truncated rank file', (d: string) => truncateSync(join(d, 'rank1.safetensors'), 1000), 'E_FORMAT'],
    ['a missing rank file', (d: string) => rmSync(join(d, 'rank2.safetensors')), 'E_NOT_FOUND'],
    ['a config with another hidden size', (d: string) => writeFileSync(join(d, 'config.json'), readFileSync(join(d, 'config.json'), 'utf8').replace('"hidden_size": 64', '"hidden_size": 128')), 'E_SHAPE'],
    ['a gated GPT config missing its gate tensors', (d: string) => writeFileSync(join(d, 'config.json'), readFileSync(join(d, 'config.json'), 'utf8').replace('"architecture": "LlamaForCausalLM"', '"architecture": "GPTForCausalLM"')), 'E_FORMAT'],
    ['no config.json', (d: string) => rmSync(join(d, 'config.json')), 'E_NOT_FOUND'],
  ])('rejects a copy with %s', (_, corrupt, code) => {
    const d = fresh();
    cpSync(join(REFERENCE, 'llama', 'tp2_pp2_bfloat16'), d, { recursive: true });
    chmodTree(d);
    corrupt(d);
    const r = cli('verify', d);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${code}:`);
    expect(r.stderr).toMatch(/FAILED/);
    const j = cli('verify', d, '--json');
    expect(j.code).toBe(1);
    expect((JSON.parse(j.stdout) as { problems: { code: string }[] }).problems.map((p) => p.code)).toContain(code);
  });
});

describe('mcore-export demo', () => {
  test('exports the embedded checkpoint, verifies it and prints a summary', () => {
    const out = fresh();
    const r = cli('demo', '--out', out, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { modelType: string; verify: { ok: boolean; ranks: number } };
    expect(j.modelType).toBe('llama');
    expect(j.verify).toMatchObject({ ok: true, ranks: 2 });
    // the embedded checkpoint is the llama tp1pp1 fixture: its TP-2 export is Megatron's reference
    sameAsReference(out, join(REFERENCE, 'llama', 'tp2_pp1_bfloat16'));
    const human = cli('demo');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/verify: OK \(2 rank files/);
  });
});
