// `mcore-export inspect` as a real child process (the built CLI) on every fixture checkpoint (legacy torch and
// torch_dist, every layout): the JSON report must list the legacy tp1pp1 tensors the manifest records, with byte
// ranges inside the checkpoint's files.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildPrivateCli } from '../../bench/inspect-big.js';
import { DTYPES, type DType } from '../../lib/tensor/dtype.js';
import { FIXTURES, modernFixture } from '../support/fixtures.js';

const FIX = FIXTURES;
const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8'));

const cases: [string, string][] = [];
for (const [model, m] of Object.entries<any>(manifest.models)) {
  for (const layout of Object.keys(m.checkpoints)) cases.push([model, layout]);
}

// the CLI as `npm run build:ts` builds it, into a private directory (the shared dist/ may be rebuilt mid-run)
const work = mkdtempSync(join(tmpdir(), 'inspect-cli-'));
let bin = '';
beforeAll(() => {
  bin = buildPrivateCli(work);
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

describe('inspect --json', () => {
  test.each(cases)('%s %s', (model, layout) => {
    const dir = join(FIX, 'megatron', model, layout);
    const r = cli('inspect', dir, '--json');
    expect(r.stderr).toBe('');
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    const legacy = Object.entries<any>(manifest.models[model].checkpoints['torch/tp1pp1'].ranks.mp_rank_00.model).filter(([, v]) => v !== 'None');
    expect(rep.format).toBe(layout.split('/')[0]);
    expect(rep.iteration).toBe(10);
    expect(rep.modelType).toBe(manifest.models[model].hyperparameters['TRTLLMHelper model_type']);
    expect(rep.modelTypeSource).toMatch(/^guessed: /);
    expect(rep.config.numLayers).toBe(manifest.models[model].hyperparameters.num_layers);
    expect(rep.tensorCount).toBe(legacy.length);
    expect(rep.tensors.map((t: any) => t.name).sort()).toEqual(legacy.map(([k]) => k).sort());
    const wantBytes = legacy.reduce((s, [, [dtype, shape]]) => s + numel(shape) * DTYPES[dtype as DType].itemsize, 0);
    expect(rep.totalBytes).toBe(wantBytes);

    const fileSizes = new Map<string, number>();
    for (const f of manifest.models[model].checkpoints[layout].files) fileSizes.set(join(FIX, f.path), f.bytes);
    const dataFile = layout.startsWith('torch_dist/') ? '.distcp' : 'model_optim_rng.pt';
    expect(rep.layout.files.sort()).toEqual([...fileSizes.keys()].filter((f) => f.endsWith(dataFile)).sort());
    for (const t of rep.tensors) {
      const size = DTYPES[t.dtype as DType].itemsize;
      expect(t.pieces.reduce((s: number, p: any) => s + numel(p.shape), 0)).toBe(numel(t.shape));
      for (const p of t.pieces) {
        expect(p.source).toBe('file');
        expect(p.byteLength).toBe(numel(p.shape) * size);
        expect(p.byteOffset + p.byteLength).toBeLessThanOrEqual(fileSizes.get(p.file)!);
      }
    }
  });
});

describe('inspect (human)', () => {
  test.each(cases)('%s %s', (model, layout) => {
    const r = cli('inspect', join(FIX, 'megatron', model, layout));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`format      ${layout.split('/')[0]}, iteration 10`);
    expect(r.stdout).toContain(`model type  ${manifest.models[model].hyperparameters['TRTLLMHelper model_type']} (guessed`);
    const legacy = Object.entries<any>(manifest.models[model].checkpoints['torch/tp1pp1'].ranks.mp_rank_00.model).filter(([, v]) => v !== 'None');
    for (const [name, [dtype, shape]] of legacy) expect(r.stdout).toMatch(new RegExp(`\\n  ${name.replace(/\./g, '\\.')} +${dtype} +\\[${shape.join(', ')}\\]`));
  });
});

describe('inspect arguments', () => {
  const dir = join(FIX, 'megatron/llama/torch_dist/tp1pp1');
  test('--model-type overrides the guess', () => {
    const rep = JSON.parse(cli('inspect', dir, '--json', '--model-type', 'gemma').stdout);
    expect([rep.modelType, rep.modelTypeSource]).toEqual(['gemma', 'given']);
  });
  test('usage errors exit 2', () => {
    expect(cli('inspect').code).toBe(2);
    expect(cli('inspect', dir, '--model-type', 'bert').code).toBe(2);
    expect(cli('inspect', dir, '--frobnicate').code).toBe(2);
  });
  test('a missing checkpoint exits 1 with a coded message', () => {
    const r = cli('inspect', join(FIX, 'no-such-checkpoint'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mcore-export inspect: E_[A-Z_]+: /);
  });
  test('--help', () => {
    const r = cli('inspect', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: mcore-export inspect CKPT');
  });
});

describe('inspect on the modern fixtures: architecture facts', () => {
  const modern = JSON.parse(readFileSync(modernFixture('manifest.json'), 'utf8'));
  const want: Record<string, { huggingFace: string; attention: RegExp; mlp: RegExp; layers: string }> = {
    qwen2: { huggingFace: 'Qwen2ForCausalLM', attention: /^grouped-query, 6 heads, 2 KV group\(s\), head dim 8, QKV bias$/, mlp: /^dense, ffn 128/, layers: '2 dense' },
    qwen3: { huggingFace: 'Qwen3ForCausalLM', attention: /^grouped-query, 4 heads, 2 KV group\(s\), head dim 32, QK-layernorm$/, mlp: /^dense, ffn 96/, layers: '3 dense' },
    qwen3_moe: { huggingFace: 'Qwen3MoeForCausalLM', attention: /QK-layernorm/, mlp: /^MoE, 8 experts top-2, expert ffn 16, no shared experts, router softmax$/, layers: 'MoE 0-1' },
    deepseek: { huggingFace: 'Glm4MoeForCausalLM', attention: /^grouped-query/, mlp: /shared experts 32, router sigmoid, expert bias \(selection only\), ×2\.5/, layers: 'dense 0; MoE 1-2' },
    deepseek_mla: { huggingFace: 'DeepseekV3ForCausalLM', attention: /^multi-latent, 4 heads, q_lora_rank 32, kv_lora_rank 32, qk head 16 \+ rope 8, v head 16, YaRN ×40/, mlp: /shared experts 32, router sigmoid/, layers: 'dense 0; MoE 1-2' },
  };
  test.each(Object.keys(want))('%s', (model) => {
    const r = cli('inspect', modernFixture('megatron', model, 'torch_dist', 'tp1pp1'), '--json');
    expect(r.stderr).toBe('');
    const a = JSON.parse(r.stdout).architecture;
    const w = want[model]!;
    expect(a.huggingFace).toBe(w.huggingFace);
    expect(a.attention).toMatch(w.attention);
    expect(a.mlp).toMatch(w.mlp);
    // each layer dense or MoE as Megatron's own layer classes (manifest) say
    const classes: string[] = modern.models[model].extra_facts.layer_mlp_classes;
    if (classes.every((k) => k === 'MLP')) expect(a.layers).toBe(`${classes.length} dense`);
    else expect(classes.every((k, i) => inRange(a.layers, k === 'MoELayer' ? 'MoE' : 'dense', i))).toBe(true);
    const human = cli('inspect', modernFixture('megatron', model, 'torch', 'tp1pp1'));
    expect(human.stdout).toContain(`hf export   ${w.huggingFace}`);
  });
});

/** Whether layer i is inside the ranges listed after `kind` ('dense 0; MoE 1-2'). */
function inRange(text: string, kind: string, i: number): boolean {
  const part = text.split('; ').find((p) => p.startsWith(`${kind} `));
  if (!part) return false;
  return part.slice(kind.length + 1).split(', ').some((r) => {
    const [a, b] = r.split('-').map(Number);
    return i >= a! && i <= (b ?? a!);
  });
}
