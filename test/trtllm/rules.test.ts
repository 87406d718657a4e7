// Rules beyond what the references exercise: KV duplication, MoE experts, corrections to Megatron, refusals.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { codeOf as code } from '../support/errors.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import type { TransformerConfig } from '../../lib/megatron/types.js';
import { executePlan } from '../../lib/plan/execute.js';
import { exportTrtllm, helperOptionsFor } from '../../lib/trtllm/export.js';
import { TRTLLMHelper } from '../../lib/trtllm/helper.js';
import { ppLayers } from '../../lib/trtllm/mapping.js';
import { pyFloatRepr } from '../../lib/export/pyjson.js';
import { verifyTrtllmDir } from '../../lib/trtllm/verify.js';
import { materialize } from '../support/materialize.js';
import { evalPlanTensor } from '../support/reference-executor.js';
import { FIXTURES } from './support/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-trtllm-rules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const open = (model: string, layout = 'tp1pp1', fmt = 'torch') => openCheckpoint(join(FIXTURES, 'megatron', model, fmt, layout));

const bytes = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

test("pp_layers matches torch.tensor_split (first L % pp stages one longer)", () => {
  expect([0, 1].map((r) => ppLayers(3, 2, r))).toEqual([[0, 1], [2]]);
  expect([0, 1, 2].map((r) => ppLayers(4, 3, r))).toEqual([[0, 1], [2], [3]]);
  expect(code(() => ppLayers(2, 3, 0))).toBe('E_CONFIG');
});

test('Python float repr as json.dump writes it', () => {
  expect([1e-5, 1, 0.5, 1e-6, 10000, 1e16, 123.25, 1e-4].map(pyFloatRepr)).toEqual(['1e-05', '1.0', '0.5', '1e-06', '10000.0', '1e+16', '123.25', '0.0001']);
});

test('KV heads are duplicated h0,h0,h1,h1 when TP exceeds the query groups (llama: 2 groups, TP 4)', () => {
  const ckpt = open('llama');
  const h = new TRTLLMHelper(helperOptionsFor(ckpt, 'llama'));
  const { weights } = h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16', exportConfig: { inferenceTpSize: 4 } });
  const qkv = bytes(materialize(ckpt.tensors.get('decoder.layers.0.self_attention.linear_qkv.weight')!));
  const rowBytes = 64 * 2;
  const head = (g: number, slot: number) => qkv.subarray((g * 6 + slot) * 8 * rowBytes, (g * 6 + slot + 1) * 8 * rowBytes);
  weights.forEach((w, r) => {
    const t = w.tensors.find((x) => x.name === 'transformer.layers.0.attention.qkv.weight')!;
    expect(t.shape).toEqual([(2 + 2) * 8, 64]);
    const out = bytes(evalPlanTensor(t));
    const g = Math.floor(r / 2); // this rank's KV group; its two query heads are the group's (r % 2)th pair
    const expected = Buffer.concat([head(g, (r % 2) * 2), head(g, (r % 2) * 2 + 1), head(g, 4), head(g, 5)]);
    expect(out.equals(expected)).toBe(true);
  });
});

test('TP that neither splits nor duplicates the query groups is E_CONFIG (Megatron raises a bare Exception)', () => {
  const ckpt = open('gpt2');
  const h = new TRTLLMHelper(helperOptionsFor(ckpt, 'gpt'));
  expect(code(() => h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16', exportConfig: { inferenceTpSize: 3 } }))).toBe('E_CONFIG');
  expect(code(() => h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16', exportConfig: { inferencePpSize: 3 } }))).toBe('E_CONFIG');
  expect(code(() => h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'int8' as 'bfloat16' }))).toBe('E_USAGE');
  expect(code(() => new TRTLLMHelper({ ...helperOptionsFor(ckpt, 'gpt'), positionEmbeddingType: 'alibi' as 'rope' }))).toBe('E_USAGE');
  expect(code(() => new TRTLLMHelper({ ...helperOptionsFor(ckpt, 'gpt'), trtllmConversionDict: { 'x.weight': 'no_such_layer' } }))).toBe('E_USAGE');
});

test('an unmapped tensor is refused by name; trtllmConversionDict can map it', () => {
  const ckpt = open('gpt2');
  const sd = new Map(ckpt.tensors);
  sd.set('decoder.layers.0.self_attention.extra_norm.weight', sd.get('decoder.layers.0.input_layernorm.weight')!);
  const h = new TRTLLMHelper(helperOptionsFor(ckpt, 'gpt'));
  expect(code(() => h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: sd, dtype: 'bfloat16' }))).toBe('E_UNSUPPORTED');
  sd.delete('decoder.layers.0.input_layernorm.weight');
  const mapped = new TRTLLMHelper({ ...helperOptionsFor(ckpt, 'gpt'), trtllmConversionDict: { 'decoder.layers.self_attention.extra_norm.weight': 'input_layernorm_weight' } });
  const { weights } = mapped.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: sd, dtype: 'bfloat16' });
  expect(weights[0]!.tensors.some((t) => t.name === 'transformer.layers.0.input_layernorm.weight')).toBe(true);
});

test('mixtral (Megatron cannot rename local_experts): experts stacked, [up; gate] per TP rank, router float32', () => {
  const ckpt = open('mixtral');
  const h = new TRTLLMHelper(helperOptionsFor(ckpt, 'mixtral'));
  const { weights, configs } = h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16', exportConfig: { inferenceTpSize: 2 } });
  expect(configs[0]!.fields).toMatchObject({ architecture: 'LlamaForCausalLM', hidden_act: 'swiglu', moe_num_experts: 4, moe_top_k: 2, intermediate_size: 96 });
  const F = 96;
  for (const w of weights) {
    const fc = w.tensors.find((t) => t.name === 'transformer.layers.1.mlp.fc.weight')!;
    const router = w.tensors.find((t) => t.name === 'transformer.layers.1.mlp.router.weight')!;
    expect(fc.shape).toEqual([4, F, 64]);
    expect(router.dtype).toBe('float32');
    const out = bytes(evalPlanTensor(fc));
    for (let e = 0; e < 4; e++) {
      const src = bytes(materialize(ckpt.tensors.get(`decoder.layers.1.mlp.experts.local_experts.${e}.linear_fc1.weight`)!));
      const rows = (start: number, n: number) => src.subarray(start * 128, (start + n) * 128);
      const half = F / 2;
      const expected = Buffer.concat([rows(F + w.rank * half, half), rows(w.rank * half, half)]); // up (linear) first, then gate (activated)
      expect(out.subarray(e * F * 128, (e + 1) * F * 128).equals(expected)).toBe(true);
    }
  }
});

test('GPT with a gated MLP gets a gated hidden_act (Megatron writes silu, which drops the gate in TensorRT-LLM)', () => {
  const ckpt = open('llama');
  const h = new TRTLLMHelper({ ...helperOptionsFor(ckpt, 'llama'), modelType: 'gpt' });
  const { configs, weights } = h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16' });
  expect(configs[0]!.fields['hidden_act']).toBe('swiglu');
  expect(weights[0]!.tensors.some((t) => t.name.endsWith('mlp.gate.weight'))).toBe(true);
  const llama = new TRTLLMHelper(helperOptionsFor(ckpt, 'llama'));
  expect(llama.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16' }).configs[0]!.fields['hidden_act']).toBe('silu');
});

test('zero-centred norms get +1 in float32, rounded once to the output dtype; megatronCompat adds it in the source dtype', () => {
  const ckpt = open('llama');
  const config: TransformerConfig = { ...ckpt.config, layernormZeroCenteredGamma: true };
  const h = new TRTLLMHelper({ ...helperOptionsFor(ckpt, 'gemma'), transformerConfig: config });
  const norm = (megatronCompat: boolean) =>
    h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'float32', megatronCompat }).weights[0]!.tensors.find((x) => x.name === 'transformer.layers.0.input_layernorm.weight')!;
  const src = materialize(ckpt.tensors.get('decoder.layers.0.input_layernorm.weight')!);
  const bf = (i: number) => new Float32Array(new Uint32Array([(src[2 * i]! | (src[2 * i + 1]! << 8)) << 16]).buffer)[0]!;
  const exact = new Float32Array(evalPlanTensor(norm(false)).slice().buffer);
  const compat = norm(true);
  expect(compat.pieces.every((p) => p.affine?.add === 1)).toBe(true);
  const megatron = new Float32Array(evalPlanTensor(compat).slice().buffer);
  let differ = 0;
  for (let i = 0; i < 64; i++) {
    expect(exact[i]).toBe(Math.fround(bf(i) + 1)); // bf16 g + 1 is exact in float32 here
    const f = new Float32Array([bf(i) + 1]); // Megatron: the bf16 sum, rounded to bf16 (nearest even), widened
    const u = new Uint32Array(f.buffer);
    u[0] = ((u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) >>> 16) << 16;
    expect(megatron[i]).toBe(f[0]);
    if (megatron[i] !== exact[i]) differ++;
  }
  expect(differ).toBeGreaterThan(32); // bf16 keeps 8 bits: most `1 + g` lose bits there
});

test('lm_head is zero-padded to a multiple of TP (Megatron chunks it unevenly) and --vocab-size trims padding rows', () => {
  const ckpt = open('llama');
  const h = new TRTLLMHelper(helperOptionsFor(ckpt, 'llama'));
  const r = h.convertSingleDevice(ckpt.tensors, { dtype: 'bfloat16', tpSize: 4, ppSize: 1, useParallelEmbedding: true, embeddingShardingDim: 0, vocabSize: 301 });
  expect(r.configs[0]!.fields['vocab_size']).toBe(301); // TensorRT-LLM pads internally; Megatron writes 304
  const compat = h.convertSingleDevice(ckpt.tensors, { dtype: 'bfloat16', tpSize: 4, ppSize: 1, useParallelEmbedding: true, embeddingShardingDim: 0, vocabSize: 301, megatronCompat: true });
  expect(compat.configs[0]!.fields['vocab_size']).toBe(304);
  for (const w of r.weights) {
    expect(w.tensors.find((t) => t.name === 'lm_head.weight')!.shape).toEqual([76, 64]);
    expect(w.tensors.find((t) => t.name === 'transformer.vocab_embedding.weight')!.shape).toEqual([76, 64]);
  }
  const last = bytes(evalPlanTensor(r.weights[3]!.tensors.find((t) => t.name === 'lm_head.weight')!));
  const src = bytes(materialize(ckpt.tensors.get('output_layer.weight')!));
  expect(last.subarray(0, 73 * 128).equals(src.subarray(228 * 128, 301 * 128))).toBe(true);
  expect(last.subarray(73 * 128).every((b) => b === 0)).toBe(true);
});

test('exportTrtllm (API, native executor): embedding sharded on dim 1, mixtral at TP 2 / PP 2; verify accepts both', async () => {
  const llama = open('llama', 'tp2pp1', 'torch_dist');
  const a = await exportTrtllm(llama, { outDir: join(tmp, 'dim1'), tpSize: 2, useParallelEmbedding: true, embeddingShardingDim: 1, executor: executePlan });
  expect(a.config['embedding_sharding_dim']).toBe(1);
  expect(verifyTrtllmDir(join(tmp, 'dim1'))).toMatchObject({ ok: true, ranks: 2 });
  const mixtral = open('mixtral', 'ep2');
  const b = await exportTrtllm(mixtral, { outDir: join(tmp, 'moe'), tpSize: 2, ppSize: 2, executor: executePlan });
  expect(readdirSync(join(tmp, 'moe')).sort()).toEqual(['config.json', 'rank0.safetensors', 'rank1.safetensors', 'rank2.safetensors', 'rank3.safetensors']);
  expect(b.files.reduce((s, f) => s + f.bytes, 0)).toBe(b.bytes);
  expect(verifyTrtllmDir(join(tmp, 'moe'))).toMatchObject({ ok: true, ranks: 4 });
});

test('exportTrtllm refuses bad settings before creating anything', async () => {
  const ckpt = open('llama');
  for (const bad of [{ tpSize: 3 }, { ppSize: 9 }, { dtype: 'float8_e4m3fn' as const }, { vocabSize: 10_000 }, { ranks: [4] }, { tpSize: 1.5 }]) {
    const out = join(tmp, `bad-${Object.keys(bad)[0]}`);
    await expect(exportTrtllm(ckpt, { outDir: out, executor: executePlan, ...bad })).rejects.toMatchObject({ code: expect.stringMatching(/^E_(CONFIG|USAGE)$/) });
    expect(readdirSync(tmp)).not.toContain(`bad-${Object.keys(bad)[0]}`);
  }
});

test('config corrections: llama3 rope scaling, LLaMA biases, interleaved RoPE, squared-ReLU MoE refused', () => {
  const ckpt = open('llama');
  const fields = (c: Partial<TransformerConfig>, modelType: 'llama' | 'mixtral' = 'llama') =>
    new TRTLLMHelper({ ...helperOptionsFor({ ...ckpt, config: { ...ckpt.config, ...c } }, modelType) }).convertSingleDevice(ckpt.tensors, { dtype: 'bfloat16', tpSize: 1, ppSize: 1, useParallelEmbedding: false, embeddingShardingDim: 0 }).configs[0]!;
  const plain = fields({});
  expect(plain.fields).not.toHaveProperty('rotary_scaling');
  expect(plain.fields).not.toHaveProperty('attn_bias');
  const scaled = fields({ ropeScaling: { factor: 8 } });
  expect(scaled.fields['rotary_scaling']).toBeDefined();
  expect(scaled.toJson()).toContain('"rotary_scaling": {\n    "type": "llama3",\n    "factor": 8.0,\n    "low_freq_factor": 1.0,\n    "high_freq_factor": 4.0,\n    "original_max_position_embeddings": 8192\n  }');
  expect(fields({ addQkvBias: true }).fields).toMatchObject({ attn_bias: true, mlp_bias: false });
  expect(fields({ rotaryInterleaved: true }).fields['position_embedding_type']).toBe('rope_gptj');
  expect(code(() => fields({ numMoeExperts: 4, gatedLinearUnit: false, activation: 'squared_relu' }, 'mixtral'))).toBe('E_UNSUPPORTED');
});
