// The Megatron → transformers rules on the real TP1 fixtures: names and shapes as the transformers classes
// define them, values checked element by element against the Megatron rows they must come from.
import { describe, expect, test } from 'vitest';
import { toHfModel } from '../../lib/hf/convert.js';
import type { HfModel } from '../../lib/hf/types.js';
import type { TransformerConfig } from '../../lib/megatron/types.js';
import { itemsize } from '../../lib/tensor/dtype.js';
import type { Tensor } from '../../lib/tensor/tensor.js';
import { toPlain } from '../../lib/export/pyjson.js';
import { materialize } from '../support/materialize.js';
import { tp1Fixture, type Tp1Fixture } from './support/tp1-fixture.js';

/** Row r of a 2-D tensor's bytes (or element r of a 1-D one). */
function row(bytes: Uint8Array, t: Tensor, r: number): Uint8Array {
  const rowBytes = (t.shape.length > 1 ? t.shape[1]! : 1) * itemsize(t.dtype);
  return bytes.subarray(r * rowBytes, (r + 1) * rowBytes);
}

function byName(m: HfModel): Map<string, Tensor> {
  return new Map(m.tensors.map((t) => [t.name, t.tensor]));
}

function shapes(m: HfModel): Record<string, number[]> {
  return Object.fromEntries(m.tensors.map((t) => [t.name, [...t.tensor.shape]]));
}

function convert(f: Tp1Fixture, over: Partial<{ modelType: Tp1Fixture['modelType']; config: Partial<TransformerConfig>; vocabSize: number }> = {}) {
  return toHfModel({ config: { ...f.config, ...over.config }, modelType: over.modelType ?? f.modelType, tensors: f.tensors, args: f.args, where: f.path, ...(over.vocabSize ? { vocabSize: over.vocabSize } : {}) });
}

/** Expected rows of query head `h` (or kv head `k`) in Megatron's grouped QKV: [q·(n/g), k, v] per group. */
function qkvRow(cfg: TransformerConfig, kind: 'q' | 'k' | 'v', head: number, r: number): number {
  const per = cfg.numAttentionHeads / cfg.numQueryGroups;
  const d = cfg.kvChannels;
  const group = kind === 'q' ? Math.floor(head / per) : head;
  const slot = kind === 'q' ? head % per : kind === 'k' ? per : per + 1;
  return group * (per + 2) * d + slot * d + r;
}

describe('llama → LlamaForCausalLM', () => {
  const f = tp1Fixture('llama');
  const m = convert(f);
  const c = f.config;
  const [H, n, g, d, F, L, V] = [c.hiddenSize, c.numAttentionHeads, c.numQueryGroups, c.kvChannels, c.ffnHiddenSize, c.numLayers, c.vocabSize!];

  test('names and shapes are those of LlamaForCausalLM, vocab padding trimmed', () => {
    const want: Record<string, number[]> = { 'model.embed_tokens.weight': [V, H], 'model.norm.weight': [H], 'lm_head.weight': [V, H] };
    for (let i = 0; i < L; i++) {
      const p = `model.layers.${i}.`;
      Object.assign(want, {
        [`${p}input_layernorm.weight`]: [H],
        [`${p}self_attn.q_proj.weight`]: [n * d, H],
        [`${p}self_attn.k_proj.weight`]: [g * d, H],
        [`${p}self_attn.v_proj.weight`]: [g * d, H],
        [`${p}self_attn.o_proj.weight`]: [H, n * d],
        [`${p}post_attention_layernorm.weight`]: [H],
        [`${p}mlp.gate_proj.weight`]: [F, H],
        [`${p}mlp.up_proj.weight`]: [F, H],
        [`${p}mlp.down_proj.weight`]: [H, F],
      });
    }
    expect(shapes(m)).toEqual(want);
    expect(V).toBe(300);
    expect(m.tensors.every((t) => t.tensor.dtype === 'bfloat16' && t.affine === undefined)).toBe(true);
    expect(toPlain(m.config)).toMatchObject({ num_key_value_heads: 2, head_dim: 8, hidden_act: 'silu', tie_word_embeddings: false, vocab_size: 300 });
  });

  test('q/k/v rows come from their group inside the fused QKV', () => {
    const qkvT = f.tensors.get('decoder.layers.2.self_attention.linear_qkv.weight')!;
    const src = materialize(qkvT);
    const out = byName(m);
    for (const kind of ['q', 'k', 'v'] as const) {
      const t = out.get(`model.layers.2.self_attn.${kind}_proj.weight`)!;
      const got = materialize(t);
      const heads = kind === 'q' ? n : g;
      for (let h = 0; h < heads; h++) for (let r = 0; r < d; r++) expect(row(got, t, h * d + r)).toEqual(row(src, qkvT, qkvRow(c, kind, h, r)));
    }
  });

  test('gate_proj is the first half of linear_fc1, up_proj the second', () => {
    const fc1 = f.tensors.get('decoder.layers.1.mlp.linear_fc1.weight')!;
    const src = materialize(fc1);
    const out = byName(m);
    const gate = materialize(out.get('model.layers.1.mlp.gate_proj.weight')!);
    const up = materialize(out.get('model.layers.1.mlp.up_proj.weight')!);
    expect(gate).toEqual(src.subarray(0, src.length / 2));
    expect(up).toEqual(src.subarray(src.length / 2));
  });
});

describe('gpt2 → GPT2LMHeadModel', () => {
  const f = tp1Fixture('gpt2');
  const m = convert(f);
  const c = f.config;
  const [H, F, V, P] = [c.hiddenSize, c.ffnHiddenSize, c.vocabSize!, c.maxPositionEmbeddings];

  test('Conv1D weights are [in, out], c_attn is q|k|v, embeddings tied', () => {
    const s = shapes(m);
    expect(s['transformer.wte.weight']).toEqual([V, H]);
    expect(s['transformer.wpe.weight']).toEqual([P, H]);
    expect(s['transformer.h.1.attn.c_attn.weight']).toEqual([H, 3 * H]);
    expect(s['transformer.h.1.attn.c_attn.bias']).toEqual([3 * H]);
    expect(s['transformer.h.1.attn.c_proj.weight']).toEqual([H, H]);
    expect(s['transformer.h.1.mlp.c_fc.weight']).toEqual([H, F]);
    expect(s['transformer.h.1.mlp.c_proj.weight']).toEqual([F, H]);
    expect(s['lm_head.weight']).toBeUndefined();
    expect(m.tensors).toHaveLength(2 + c.numLayers * 12 + 2);
    // bias_gelu_fusion is on in the fixture: Megatron ran the tanh GeLU
    expect(toPlain(m.config)).toMatchObject({ activation_function: 'gelu_new', tie_word_embeddings: true, n_head: 4, vocab_size: 200 });
  });

  test('c_attn.weight[i][j] = fused QKV[row of output j][i] (a real transposition)', () => {
    const qkvT = f.tensors.get('decoder.layers.0.self_attention.linear_qkv.weight')!;
    const src = new Float32Array(materialize(qkvT).slice().buffer);
    const got = new Float32Array(materialize(byName(m).get('transformer.h.0.attn.c_attn.weight')!).slice().buffer);
    const d = c.kvChannels;
    for (let j = 0; j < 3 * H; j++) {
      const kind = (['q', 'k', 'v'] as const)[Math.floor(j / H)]!;
      const within = j % H;
      const srcRow = qkvRow(c, kind, Math.floor(within / d), within % d);
      for (let i = 0; i < H; i++) expect(got[i * 3 * H + j]).toBe(src[srcRow * H + i]);
    }
  });

  test('the same checkpoint as GPTBigCode (MHA) keeps [out, in] weights and the per-head fused QKV', () => {
    const b = convert(f, { modelType: 'starcoder' });
    const s = shapes(b);
    expect(s['transformer.h.0.attn.c_attn.weight']).toEqual([3 * H, H]);
    expect(s['transformer.h.0.mlp.c_fc.weight']).toEqual([F, H]);
    expect(toPlain(b.config)).toMatchObject({ multi_query: false, activation_function: 'gelu_pytorch_tanh' });
    const fc1 = f.tensors.get('decoder.layers.0.mlp.linear_fc1.weight')!;
    expect(materialize(byName(b).get('transformer.h.0.mlp.c_fc.weight')!)).toEqual(materialize(fc1));
    // GPTBigCode views MHA c_attn output as [heads, 3·d] = per head [q, k, v]: Megatron's layout with g = heads
    expect(byName(b).get('transformer.h.0.attn.c_attn.weight')).toBe(f.tensors.get('decoder.layers.0.self_attention.linear_qkv.weight'));
  });
});

describe('gptnext → NemotronForCausalLM', () => {
  const f = tp1Fixture('gptnext');
  const m = convert(f);

  test('zero-centred gamma is stored as is (NemotronLayerNorm1P adds the 1), norms keep their bias', () => {
    expect(f.config.layernormZeroCenteredGamma).toBe(true);
    const out = byName(m);
    expect(materialize(out.get('model.layers.0.input_layernorm.weight')!)).toEqual(materialize(f.tensors.get('decoder.layers.0.input_layernorm.weight')!));
    expect(out.has('model.layers.0.input_layernorm.bias')).toBe(true);
    expect(out.has('model.norm.bias')).toBe(true);
    expect(m.tensors.some((t) => t.affine)).toBe(false);
    expect(out.get('model.layers.0.mlp.up_proj.weight')!.shape).toEqual([f.config.ffnHiddenSize, f.config.hiddenSize]);
    expect(out.has('model.layers.0.mlp.gate_proj.weight')).toBe(false);
    expect(toPlain(m.config)).toMatchObject({ hidden_act: 'relu2', partial_rotary_factor: 0.5, vocab_size: 250 });
  });

  test('a plain-gamma LayerNorm checkpoint gets gamma − 1 for Nemotron', () => {
    const plain = convert(f, { config: { layernormZeroCenteredGamma: false } });
    const w = plain.tensors.find((t) => t.name === 'model.layers.1.post_attention_layernorm.weight')!;
    expect(w.affine).toEqual({ add: -1 });
    expect(plain.tensors.find((t) => t.name === 'model.layers.1.post_attention_layernorm.bias')!.affine).toBeUndefined();
  });
});

describe('mixtral → MixtralForCausalLM', () => {
  const f = tp1Fixture('mixtral');
  const m = convert(f);

  test('router → gate, experts → w1 (gate) / w3 (up) / w2 (down)', () => {
    const c = f.config;
    const Fm = c.moeFfnHiddenSize!;
    const s = shapes(m);
    expect(s['model.layers.1.block_sparse_moe.gate.weight']).toEqual([4, c.hiddenSize]);
    for (let j = 0; j < 4; j++) {
      expect(s[`model.layers.1.block_sparse_moe.experts.${j}.w1.weight`]).toEqual([Fm, c.hiddenSize]);
      expect(s[`model.layers.1.block_sparse_moe.experts.${j}.w2.weight`]).toEqual([c.hiddenSize, Fm]);
      expect(s[`model.layers.1.block_sparse_moe.experts.${j}.w3.weight`]).toEqual([Fm, c.hiddenSize]);
    }
    const fc1 = materialize(f.tensors.get('decoder.layers.1.mlp.experts.local_experts.3.linear_fc1.weight')!);
    const out = byName(m);
    expect(materialize(out.get('model.layers.1.block_sparse_moe.experts.3.w1.weight')!)).toEqual(fc1.subarray(0, fc1.length / 2));
    expect(materialize(out.get('model.layers.1.block_sparse_moe.experts.3.w3.weight')!)).toEqual(fc1.subarray(fc1.length / 2));
    expect(toPlain(m.config)).toMatchObject({ num_local_experts: 4, num_experts_per_tok: 2, intermediate_size: 96 });
  });

  test('a router Mixtral cannot reproduce is refused', () => {
    expect(() => toHfModel({ config: f.config, modelType: 'mixtral', tensors: f.tensors, args: { ...f.args, moe_router_pre_softmax: true } })).toThrow(/E_UNSUPPORTED.*pre_softmax/);
  });
});

describe('other targets and refusals', () => {
  test('gemma from the llama checkpoint: plain gamma becomes gamma − 1, embeddings stay tied only if they were', () => {
    const f = tp1Fixture('llama');
    const m = convert(f, { modelType: 'gemma' });
    expect(m.tensors.find((t) => t.name === 'model.norm.weight')!.affine).toEqual({ add: -1 });
    expect(m.tensors.some((t) => t.name === 'lm_head.weight')).toBe(true);
    expect(toPlain(m.config)).toMatchObject({ tie_word_embeddings: false, hidden_act: 'silu' });
  });

  test('falcon (sequential, MHA) copies the fused QKV as is', () => {
    const f = tp1Fixture('gpt2');
    const tensors = new Map(f.tensors);
    tensors.delete('embedding.position_embeddings.weight');
    const m = toHfModel({ config: { ...f.config, positionEmbeddingType: 'rope' }, modelType: 'falcon', tensors, args: f.args });
    const qkv = m.tensors.find((t) => t.name === 'transformer.h.1.self_attention.query_key_value.weight')!;
    expect(qkv.tensor).toBe(f.tensors.get('decoder.layers.1.self_attention.linear_qkv.weight'));
    expect(toPlain(m.config)).toMatchObject({ parallel_attn: false, new_decoder_architecture: false, multi_query: false, num_kv_heads: 4, bias: true });
  });

  test('a model type whose architecture does not fit is refused with E_UNSUPPORTED', () => {
    expect(() => convert(tp1Fixture('gpt2'), { modelType: 'llama' })).toThrow(/E_UNSUPPORTED.*RMSNorm/);
    expect(() => convert(tp1Fixture('llama'), { modelType: 'gpt' })).toThrow(/E_UNSUPPORTED/);
  });

  test('a tensor no rule places is named, not dropped', () => {
    const f = tp1Fixture('llama');
    const tensors = new Map(f.tensors);
    tensors.set('decoder.layers.0.self_attention.q_layernorm.weight', f.tensors.get('decoder.final_layernorm.weight')!);
    expect(() => toHfModel({ config: f.config, modelType: 'llama', tensors, args: f.args, where: f.path })).toThrow(/E_UNSUPPORTED.*q_layernorm/);
  });

  test('a missing tensor is E_NOT_FOUND with its name; a vocabulary above the padded rows is E_CONFIG', () => {
    const f = tp1Fixture('llama');
    const tensors = new Map(f.tensors);
    tensors.delete('decoder.layers.3.mlp.linear_fc2.weight');
    expect(() => toHfModel({ config: f.config, modelType: 'llama', tensors, args: f.args })).toThrow(/E_NOT_FOUND.*decoder\.layers\.3\.mlp\.linear_fc2\.weight/);
    expect(() => convert(f, { vocabSize: 385 })).toThrow(/E_CONFIG/);
    expect(convert(f, { vocabSize: 384 }).config['vocab_size']).toBe(384);
  });
});
