// configFromArgs on the args saved in every fixture, checked against the hyper-parameter table the fixture
// generator wrote into manifest.json (independent of our reader); guessModelType against the model_type
// Megatron's TRTLLMHelper was given for each fixture. Plus the rules on hand-made args.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { TorchDType } from '../../lib/formats/pickle-torch.js';
import { configFromArgs } from '../../lib/megatron/config.js';
import { explainModelType, guessModelType } from '../../lib/megatron/model-type.js';
import { openTorchDist } from '../../lib/megatron/torch-dist.js';
import type { TransformerConfig } from '../../lib/megatron/types.js';
import { FIXTURES } from '../support/fixtures.js';
import { errorOf } from '../support/errors.js';

const FIX = FIXTURES;
const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8'));
const models = Object.keys(manifest.models);

describe('configFromArgs on the fixtures = manifest hyper-parameters', () => {
  test.each(models)('%s', (model) => {
    const h = manifest.models[model].hyperparameters;
    const ckpt = openTorchDist(join(FIX, 'megatron', model, 'torch_dist/tp1pp1'));
    const c = configFromArgs(ckpt.args!, 'fixture');
    const want: Partial<TransformerConfig> = {
      numLayers: h.num_layers,
      hiddenSize: h.hidden_size,
      ffnHiddenSize: h.ffn_hidden_size,
      numAttentionHeads: h.num_attention_heads,
      numQueryGroups: h.num_query_groups,
      kvChannels: h.kv_channels,
      normalization: h.normalization,
      layernormEpsilon: h.norm_epsilon,
      layernormZeroCenteredGamma: h['layernorm_zero_centered_gamma (apply_layernorm_1p)'],
      gatedLinearUnit: h['gated_linear_unit (swiglu)'],
      activation: h.activation,
      addBiasLinear: h.add_bias_linear,
      addQkvBias: h.add_qkv_bias,
      positionEmbeddingType: h.position_embedding_type,
      rotaryPercent: h.rotary_percent,
      rotaryBase: h.rotary_base,
      maxPositionEmbeddings: h['seq_length = max_position_embeddings'],
      paddedVocabSize: h.padded_vocab_size,
      vocabSize: h['vocab_size (tokenizer)'],
      shareEmbeddingsAndOutputWeights: h['tied embeddings'],
      paramsDtype: h.params_dtype.replace('torch.', ''),
    };
    expect(c).toMatchObject(want);
    expect(c.numMoeExperts).toBe(h['num_experts (--num-experts)'] ?? undefined);
    if (c.numMoeExperts) {
      expect(c.moeRouterTopk).toBe(h.moe_router_topk);
      expect(c.moeFfnHiddenSize).toBe(h['moe_ffn_hidden_size (expert width)']);
    }
    expect(guessModelType(c, ckpt.args)).toBe(h['TRTLLMHelper model_type']);
  });
});

/** Minimal valid args (a Llama-ish model); tests change one thing at a time. */
function baseArgs(): Record<string, unknown> {
  return {
    num_layers: 4, hidden_size: 64, ffn_hidden_size: 176, num_attention_heads: 8, padded_vocab_size: 384, max_position_embeddings: 64,
    normalization: 'RMSNorm', swiglu: true, add_bias_linear: false, position_embedding_type: 'rope', bf16: true,
  };
}

describe('configFromArgs rules', () => {
  test.each(['num_layers', 'hidden_size', 'num_attention_heads', 'ffn_hidden_size', 'padded_vocab_size'])('missing %s → E_FORMAT naming the file', (key) => {
    const args = baseArgs();
    delete args[key];
    const e = errorOf(() => configFromArgs(args, '/ckpt/common.pt'));
    expect(e.code).toBe('E_FORMAT');
    expect(e.file).toBe('/ckpt/common.pt');
    expect(e.message).toContain(key);
  });

  test('wrong types → E_FORMAT', () => {
    expect(errorOf(() => configFromArgs({ ...baseArgs(), hidden_size: '64' }, 'f')).code).toBe('E_FORMAT');
    expect(errorOf(() => configFromArgs({ ...baseArgs(), num_layers: 2.5 }, 'f')).code).toBe('E_FORMAT');
    expect(errorOf(() => configFromArgs({ ...baseArgs(), swiglu: 1 }, 'f')).code).toBe('E_FORMAT');
  });

  test('query groups only with group_query_attention; heads must divide', () => {
    expect(configFromArgs({ ...baseArgs(), num_query_groups: 2 }, 'f').numQueryGroups).toBe(8);
    expect(configFromArgs({ ...baseArgs(), group_query_attention: true, num_query_groups: 2 }, 'f').numQueryGroups).toBe(2);
    expect(errorOf(() => configFromArgs({ ...baseArgs(), group_query_attention: true, num_query_groups: 3 }, 'f')).code).toBe('E_FORMAT');
  });

  test('kv_channels defaults to hidden / heads', () => {
    expect(configFromArgs(baseArgs(), 'f').kvChannels).toBe(8);
    expect(configFromArgs({ ...baseArgs(), kv_channels: 16 }, 'f').kvChannels).toBe(16);
  });

  test('activations and gating', () => {
    const act = (extra: Record<string, unknown>) => {
      const c = configFromArgs({ ...baseArgs(), swiglu: false, ...extra }, 'f');
      return [c.activation, c.gatedLinearUnit];
    };
    expect(act({ swiglu: true })).toEqual(['silu', true]);
    expect(act({})).toEqual(['gelu', false]);
    expect(act({ squared_relu: true })).toEqual(['squared_relu', false]);
    expect(act({ openai_gelu: true })).toEqual(['openai_gelu', false]);
    expect(act({ quick_geglu: true })).toEqual(['quick_gelu', true]);
  });

  test('layernorm-1p under either name, epsilon under either name', () => {
    expect(configFromArgs({ ...baseArgs(), apply_layernorm_1p: true }, 'f').layernormZeroCenteredGamma).toBe(true);
    expect(configFromArgs({ ...baseArgs(), layernorm_zero_centered_gamma: true }, 'f').layernormZeroCenteredGamma).toBe(true);
    expect(configFromArgs({ ...baseArgs(), layernorm_epsilon: 1e-6 }, 'f').layernormEpsilon).toBe(1e-6);
    expect(configFromArgs({ ...baseArgs(), norm_epsilon: 1e-5, layernorm_epsilon: 1e-6 }, 'f').layernormEpsilon).toBe(1e-5);
  });

  test('unsupported normalization → E_UNSUPPORTED', () => {
    expect(errorOf(() => configFromArgs({ ...baseArgs(), normalization: 'FancyNorm' }, 'f')).code).toBe('E_UNSUPPORTED');
  });

  test('rope scaling, bigint integers, params dtype', () => {
    expect(configFromArgs({ ...baseArgs(), use_rope_scaling: true, rope_scaling_factor: 8.0 }, 'f').ropeScaling).toEqual({ factor: 8 });
    expect(configFromArgs({ ...baseArgs(), rope_scaling_factor: 8.0 }, 'f').ropeScaling).toBeUndefined();
    expect(configFromArgs({ ...baseArgs(), hidden_size: 64n }, 'f').hiddenSize).toBe(64);
    expect(configFromArgs({ ...baseArgs(), bf16: false, fp16: true }, 'f').paramsDtype).toBe('float16');
    expect(configFromArgs({ ...baseArgs(), bf16: false }, 'f').paramsDtype).toBe('float32');
    expect(configFromArgs({ ...baseArgs(), bf16: false, params_dtype: new TorchDType('bfloat16') }, 'f').paramsDtype).toBe('bfloat16');
  });

  test('MoE: expert width defaults to ffn_hidden_size', () => {
    const c = configFromArgs({ ...baseArgs(), num_experts: 8, moe_router_topk: 2 }, 'f');
    expect([c.numMoeExperts, c.moeRouterTopk, c.moeFfnHiddenSize]).toEqual([8, 2, 176]);
  });
});

describe('guessModelType rules', () => {
  const cfg = (extra: Record<string, unknown>) => configFromArgs({ ...baseArgs(), ...extra }, 'f');
  test.each<[string, Record<string, unknown>, string]>([
    ['llama', {}, 'llama'],
    ['mixtral', { num_experts: 8 }, 'mixtral'],
    ['gemma (geglu)', { swiglu: false, quick_geglu: true }, 'gemma'],
    ['gemma (zero-centred RMSNorm)', { layernorm_zero_centered_gamma: true }, 'gemma'],
    ['gpt', { normalization: 'LayerNorm', swiglu: false, position_embedding_type: 'learned_absolute', add_bias_linear: true }, 'gpt'],
    ['starcoder (MQA)', { normalization: 'LayerNorm', swiglu: false, position_embedding_type: 'learned_absolute', group_query_attention: true, num_query_groups: 1 }, 'starcoder'],
    ['gptnext', { normalization: 'LayerNorm', swiglu: false, squared_relu: true, apply_layernorm_1p: true }, 'gptnext'],
  ])('%s', (_, extra, want) => {
    const g = explainModelType(cfg(extra), null);
    expect(g.modelType).toBe(want);
    expect(g.reason.length).toBeGreaterThan(0);
  });
});
