// The modern Megatron → transformers rules on the real modern fixtures: the transformers class, config fields
// transformers / vLLM / SGLang read (checked against the manifest's hyper-parameters, not against our reader),
// names and shapes as the classes define them, tensors taken from the right Megatron rows, the float32 routing
// bias in every export dtype, and the coded refusals (routing that differs, unplaced tensors, MTP layers).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { toPlain } from '../../lib/export/pyjson.js';
import { toHfModel } from '../../lib/hf/convert.js';
import { exportHf } from '../../lib/hf/export.js';
import type { HfModel } from '../../lib/hf/types.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import type { Checkpoint, TransformerConfig } from '../../lib/megatron/types.js';
import { fromView, type Tensor } from '../../lib/tensor/tensor.js';
import { memoryView } from '../../lib/tensor/view.js';
import { errorOf } from '../support/errors.js';
import { modernFixture } from '../support/fixtures.js';
import { materialize } from '../support/materialize.js';

const manifest = JSON.parse(readFileSync(modernFixture('manifest.json'), 'utf8'));
const open = (model: string) => openCheckpoint(modernFixture('megatron', model, 'torch', 'tp1pp1'));
const convert = (ck: Checkpoint, config: Partial<TransformerConfig> = {}, tensors: ReadonlyMap<string, Tensor> = ck.tensors): HfModel =>
  toHfModel({ config: { ...ck.config, ...config }, modelType: ck.modelType, tensors, args: ck.args, where: ck.path });
const shapes = (m: HfModel) => Object.fromEntries(m.tensors.map((t) => [t.name, [...t.tensor.shape]]));
const same = (a: Tensor, b: Tensor) => Buffer.from(materialize(a)).equals(Buffer.from(materialize(b)));
const tmp = mkdtempSync(join(tmpdir(), 'hf-modern-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('class and config per family', () => {
  test.each([
    ['qwen2', 'Qwen2ForCausalLM', 'qwen2'],
    ['qwen3', 'Qwen3ForCausalLM', 'qwen3'],
    ['qwen3_moe', 'Qwen3MoeForCausalLM', 'qwen3_moe'],
    ['deepseek', 'Glm4MoeForCausalLM', 'glm4_moe'],
    ['deepseek_mla', 'DeepseekV3ForCausalLM', 'deepseek_v3'],
  ])('%s → %s', (model, architecture, modelType) => {
    const m = convert(open(model));
    expect([m.architecture, m.modelType]).toEqual([architecture, modelType]);
    const h = manifest.models[model].hyperparameters;
    const x = manifest.models[model].extra_facts;
    const c = toPlain(m.config) as Record<string, unknown>;
    expect(c).toMatchObject({ hidden_size: h.hidden_size, num_hidden_layers: h.num_layers, num_attention_heads: h.num_attention_heads, vocab_size: h['vocab_size (tokenizer)'], tie_word_embeddings: h['tied embeddings'], rms_norm_eps: x.layernorm_epsilon });
    if (!x.multi_latent_attention) expect(c).toMatchObject({ head_dim: x.kv_channels, num_key_value_heads: x.num_query_groups });
  });

  test('Qwen2: tied, no lm_head, q/k/v biases and no o_proj bias', () => {
    const m = convert(open('qwen2'));
    const s = shapes(m);
    expect(s['lm_head.weight']).toBeUndefined();
    expect(s['model.layers.0.self_attn.q_proj.bias']).toEqual([48]);
    expect(s['model.layers.0.self_attn.k_proj.bias']).toEqual([16]);
    expect(s['model.layers.0.self_attn.o_proj.bias']).toBeUndefined();
  });

  test('Qwen3: q_norm / k_norm over the head dim (32 ≠ 64 / 4) are Megatron q/k_layernorm', () => {
    const ck = open('qwen3');
    const m = convert(ck);
    const t = new Map(m.tensors.map((x) => [x.name, x.tensor]));
    expect(t.get('model.layers.2.self_attn.q_norm.weight')!.shape).toEqual([32]);
    expect(same(t.get('model.layers.2.self_attn.k_norm.weight')!, ck.tensors.get('decoder.layers.2.self_attention.k_layernorm.weight')!)).toBe(true);
    expect(t.get('model.layers.0.self_attn.q_proj.weight')!.shape).toEqual([128, 64]);
    expect(t.get('model.layers.0.self_attn.o_proj.weight')!.shape).toEqual([64, 128]);
  });

  test('Qwen3-MoE: softmax router, renormalised top-k (norm_topk_prob), experts in the Hub layout', () => {
    const ck = open('qwen3_moe');
    const m = convert(ck);
    expect(toPlain(m.config)).toMatchObject({ num_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 16, norm_topk_prob: true, mlp_only_layers: [], decoder_sparse_step: 1 });
    const t = new Map(m.tensors.map((x) => [x.name, x.tensor]));
    const fc1 = ck.tensors.get('decoder.layers.1.mlp.experts.local_experts.5.linear_fc1.weight')!;
    const gate = t.get('model.layers.1.mlp.experts.5.gate_proj.weight')!;
    const up = t.get('model.layers.1.mlp.experts.5.up_proj.weight')!;
    // [gate; up] rows of Megatron's fc1
    expect(Buffer.from(materialize(fc1)).equals(Buffer.concat([materialize(gate), materialize(up)]))).toBe(true);
    expect(t.get('model.layers.1.mlp.gate.weight')!.shape).toEqual([8, 64]);
  });

  test('GLM-4-MoE: DeepSeek routing fields, layer 0 dense, shared experts = 2 × 16, whole-head rotary', () => {
    const m = convert(open('deepseek'));
    expect(toPlain(m.config)).toMatchObject({
      n_routed_experts: 8, n_shared_experts: 2, moe_intermediate_size: 16, num_experts_per_tok: 2, first_k_dense_replace: 1, norm_topk_prob: true,
      routed_scaling_factor: 2.5, n_group: 1, topk_group: 1, partial_rotary_factor: 1, use_qk_norm: false, attention_bias: false, intermediate_size: 128, num_mtp_layers: 0,
    });
    const s = shapes(m);
    expect(s['model.layers.0.mlp.gate_proj.weight']).toEqual([128, 64]);
    expect(s['model.layers.1.mlp.shared_experts.gate_proj.weight']).toEqual([32, 64]);
    expect(s['model.layers.1.mlp.shared_experts.down_proj.weight']).toEqual([64, 32]);
    expect(s['model.layers.2.mlp.gate.e_score_correction_bias']).toEqual([8]);
    expect(m.tensors.find((x) => x.name.endsWith('e_score_correction_bias'))!.dtype).toBe('float32');
  });

  test('DeepSeek-V3: MLA names and shapes, interleaved rope, YaRN fields from MLATransformerConfig', () => {
    const ck = open('deepseek_mla');
    const m = convert(ck);
    expect(toPlain(m.config)).toMatchObject({
      q_lora_rank: 32, kv_lora_rank: 32, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 16, num_key_value_heads: 4, rope_interleave: true, rope_theta: 10000,
      rope_scaling: { rope_type: 'yarn', factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1 },
      scoring_func: 'sigmoid', topk_method: 'noaux_tc', first_k_dense_replace: 1, n_shared_experts: 2, routed_scaling_factor: 2.5, num_nextn_predict_layers: 0,
    });
    const s = shapes(m);
    const a = 'model.layers.1.self_attn.';
    expect({ q_a: s[`${a}q_a_proj.weight`], q_a_norm: s[`${a}q_a_layernorm.weight`], q_b: s[`${a}q_b_proj.weight`], kv_a: s[`${a}kv_a_proj_with_mqa.weight`], kv_a_norm: s[`${a}kv_a_layernorm.weight`], kv_b: s[`${a}kv_b_proj.weight`], o: s[`${a}o_proj.weight`] })
      .toEqual({ q_a: [32, 64], q_a_norm: [32], q_b: [96, 32], kv_a: [40, 64], kv_a_norm: [32], kv_b: [128, 32], o: [64, 64] });
    const t = new Map(m.tensors.map((x) => [x.name, x.tensor]));
    expect(same(t.get(`${a}kv_a_layernorm.weight`)!, ck.tensors.get('decoder.layers.1.self_attention.kv_layernorm.weight')!)).toBe(true);
    expect(same(t.get(`${a}q_b_proj.weight`)!, ck.tensors.get('decoder.layers.1.self_attention.linear_q_up_proj.weight')!)).toBe(true);
  });

  test('DeepSeek-V3 without q compression: linear_q_proj → q_proj (no fixture has it; shapes from MLATransformerConfig)', () => {
    const ck = open('deepseek_mla');
    const tensors = new Map([...ck.tensors].filter(([n]) => !/linear_q_down_proj|linear_q_up_proj|q_layernorm/.test(n)));
    const qProj = fromView(memoryView(new Uint8Array(96 * 64 * 2), 'bfloat16', [96, 64]));
    for (let i = 0; i < 3; i++) tensors.set(`decoder.layers.${i}.self_attention.linear_q_proj.weight`, qProj);
    const m = convert(ck, { mla: { ...ck.config.mla!, qLoraRank: null } }, tensors);
    expect(toPlain(m.config)).toMatchObject({ q_lora_rank: null });
    expect(shapes(m)['model.layers.0.self_attn.q_proj.weight']).toEqual([96, 64]);
    expect(m.tensors.some((x) => x.name.includes('q_a_'))).toBe(false);
  });
});

describe('refusals', () => {
  const code = (f: () => unknown) => {
    const e = errorOf(f);
    return [e.code, e.message] as const;
  };
  test('routing the target cannot express is E_UNSUPPORTED', () => {
    const ds = open('deepseek');
    const moe = ds.config.moe!;
    expect(code(() => convert(ds, { moe: { ...moe, scoreFunction: 'softmax' } }))[1]).toMatch(/sigmoid/);
    expect(code(() => convert(ds, { moe: { ...moe, sharedExpertGate: true } }))[1]).toMatch(/gated shared expert/);
    expect(code(() => convert(ds, { moe: { ...moe, sharedExpertIntermediateSize: 24 } }))[1]).toMatch(/not a multiple/);
    expect(code(() => convert(ds, { moe: { ...moe, layers: [false, true, false] } }))[1]).toMatch(/dense layers only before/);
    expect(code(() => convert(ds, { moe: { ...moe, numGroups: 4, groupTopk: 2, topk: 2 } }))[1]).toMatch(/top 1 scores/);
    const q = open('qwen3_moe');
    expect(code(() => convert(q, { moe: { ...q.config.moe!, topkScalingFactor: 2 } }))[0]).toBe('E_UNSUPPORTED');
    expect(code(() => convert(q, { moe: { ...q.config.moe!, gluInterleaveSize: 32 } }))[1]).toMatch(/interleaved/);
  });
  test('options that change the function without a tensor of their own are refused', () => {
    const ck = open('qwen3');
    for (const [key, value] of [['qk_l2_norm', true], ['window_size', [128, 0]], ['softmax_type', 'learnable'], ['activation_func_clamp_value', 7.0]] as const) {
      const e = errorOf(() => toHfModel({ config: ck.config, modelType: ck.modelType, tensors: ck.tensors, args: { ...ck.args, [key]: value }, where: ck.path }));
      expect([e.code, e.message.includes(`args.${key}`)]).toEqual(['E_UNSUPPORTED', true]);
    }
  });
  test('group-limited routing with top-2 per group is exported as n_group / topk_group', () => {
    const ds = open('deepseek');
    const m = convert(ds, { moe: { ...ds.config.moe!, numGroups: 4, groupTopk: 1, topk: 2 } });
    expect(toPlain(m.config)).toMatchObject({ n_group: 4, topk_group: 1 });
  });
  test('a tensor no rule places fails with E_UNSUPPORTED naming it, before anything is written', async () => {
    const ck = open('deepseek_mla');
    const extra = new Map(ck.tensors);
    extra.set('decoder.layers.1.self_attention.linear_mystery.weight', ck.tensors.get('decoder.final_layernorm.weight')!);
    const out = join(tmp, 'never');
    const e = await exportHf({ ...ck, tensors: extra }, { outDir: out }).then(() => undefined, (err: unknown) => err as { code: string; tensor?: string });
    expect(e).toMatchObject({ code: 'E_UNSUPPORTED', tensor: 'decoder.layers.1.self_attention.linear_mystery.weight' });
    expect(() => readFileSync(join(out, 'config.json'))).toThrow();
  });
  test('multi-token-prediction layers are left out where the target has no place, and the summary says so', async () => {
    const ck = open('deepseek');
    const extra = new Map(ck.tensors);
    extra.set('mtp.layers.0.enorm.weight', ck.tensors.get('decoder.final_layernorm.weight')!);
    extra.set('mtp.layers.0.eh_proj.weight', ck.tensors.get('decoder.layers.0.self_attention.linear_proj.weight')!);
    const m = convert(ck, { mtpNumLayers: 1 }, extra);
    expect(m.tensors.length).toBe(convert(ck).tensors.length);
    expect(m.notes).toEqual([expect.stringMatching(/^1 multi-token-prediction layer\(s\) left out \(2 tensors/)]);
    const r = await exportHf({ ...ck, config: { ...ck.config, mtpNumLayers: 1 }, tensors: extra }, { outDir: join(tmp, 'mtp'), dryRun: true });
    expect(r.notes).toEqual(m.notes);
  });
});

describe('bfloat16 export', () => {
  test('the DeepSeek routing bias is written in float32, everything else in bfloat16', async () => {
    const ck = open('deepseek');
    const r = await exportHf(ck, { outDir: join(tmp, 'bf16'), dtype: 'bfloat16' });
    const file = readFileSync(r.files.find((f) => f.path.endsWith('.safetensors'))!.path);
    const header = JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString());
    const dtypes = new Set(Object.entries(header).filter(([k]) => k !== '__metadata__').map(([k, v]) => `${k.endsWith('e_score_correction_bias') ? 'bias' : 'other'}:${(v as { dtype: string }).dtype}`));
    expect([...dtypes].sort()).toEqual(['bias:F32', 'other:BF16']);
  });
});
