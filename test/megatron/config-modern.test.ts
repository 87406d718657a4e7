// configFromArgs on the modern fixtures (qwen2, qwen3, qwen3_moe, deepseek, deepseek_mla), both formats, checked
// against the hyper-parameter tables the fixture generator wrote into manifest.json (independent of our
// reader): QK-layernorm, QKV bias, MLA fields and defaults, MoE router / shared experts / dense-MoE layer
// pattern. Plus the family guess, and the arg rules on hand-made args.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { configFromArgs } from '../../lib/megatron/config.js';
import { explainModelFamily, guessModelType } from '../../lib/megatron/model-type.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { expectExportError } from '../support/errors.js';
import { modernFixture } from '../support/fixtures.js';

const manifest = JSON.parse(readFileSync(modernFixture('manifest.json'), 'utf8'));
const MODELS = ['qwen2', 'qwen3', 'qwen3_moe', 'deepseek', 'deepseek_mla'] as const;
const FAMILY = { qwen2: 'qwen2', qwen3: 'qwen3', qwen3_moe: 'qwen3_moe', deepseek: 'glm4_moe', deepseek_mla: 'deepseek_v3' } as const;

describe.each(['torch', 'torch_dist'])('modern fixtures (%s): config = manifest', (format) => {
  test.each(MODELS)('%s', (model) => {
    const m = manifest.models[model];
    const x = m.extra_facts;
    const h = m.hyperparameters;
    const ck = openCheckpoint(modernFixture('megatron', model, format, 'tp1pp1'));
    const c = ck.config;
    expect(c.qkLayernorm).toBe(x.qk_layernorm);
    expect(c.addQkvBias).toBe(x.add_qkv_bias);
    expect(c.addBiasLinear).toBe(x.add_bias_linear);
    expect(c.kvChannels).toBe(x.kv_channels);
    expect(c.numQueryGroups).toBe(x.num_query_groups);
    expect(c.rotaryInterleaved).toBe(x.rotary_interleaved);
    expect(c.layernormEpsilon).toBe(x.layernorm_epsilon);
    expect(c.shareEmbeddingsAndOutputWeights).toBe(!x['args.untie_embeddings_and_output_weights']);
    expect(c.mtpNumLayers).toBe(0);
    if (x.multi_latent_attention) {
      expect(c.mla).toEqual({
        qLoraRank: x['mla.q_lora_rank'],
        kvLoraRank: x['mla.kv_lora_rank'],
        qkHeadDim: x['mla.qk_head_dim'],
        qkPosEmbHeadDim: x['mla.qk_pos_emb_head_dim'],
        vHeadDim: x['mla.v_head_dim'],
        ropeType: x['mla.rope_type'],
        rotaryScalingFactor: x['mla.rotary_scaling_factor'],
        originalMaxPositionEmbeddings: x['mla.original_max_position_embeddings'],
        betaFast: x['mla.beta_fast'],
        betaSlow: x['mla.beta_slow'],
        mscale: x['mla.mscale'],
        mscaleAllDim: x['mla.mscale_all_dim'],
      });
      expect(c.rotaryBase).toBe(x.rotary_base);
    } else {
      expect(c.mla).toBeUndefined();
    }
    if (x.num_moe_experts) {
      const layers = x['layer_mlp_classes'].map((k: string) => k === 'MoELayer');
      expect(c.moe).toEqual({
        numExperts: x.num_moe_experts,
        topk: x.moe_router_topk,
        ffnHiddenSize: x.moe_ffn_hidden_size,
        sharedExpertIntermediateSize: x.moe_shared_expert_intermediate_size ?? undefined,
        sharedExpertGate: x.moe_shared_expert_gate,
        scoreFunction: x.moe_router_score_function,
        preSoftmax: x.moe_router_pre_softmax,
        enableExpertBias: x.moe_router_enable_expert_bias,
        topkScalingFactor: x.moe_router_topk_scaling_factor ?? undefined,
        numGroups: x.moe_router_num_groups ?? undefined,
        groupTopk: x.moe_router_group_topk ?? undefined,
        routerDtype: x.moe_router_dtype ?? undefined,
        groupedGemm: false,
        gluInterleaveSize: undefined,
        sharedGluInterleaveSize: undefined,
        layers,
      });
    } else {
      expect(c.moe).toBeUndefined();
    }
    // Megatron's TRTLLMHelper was run with these model types on the fixtures
    expect(guessModelType(c, ck.args)).toBe(h['TRTLLMHelper model_type / activation'].split(' / ')[0]);
    expect(explainModelFamily(c)?.family).toBe(FAMILY[model]);
  });
});

/** A DeepSeek-V3-like args namespace; tests change one thing at a time. */
function mlaArgs(): Record<string, unknown> {
  return {
    num_layers: 4, hidden_size: 64, ffn_hidden_size: 128, num_attention_heads: 4, padded_vocab_size: 256, max_position_embeddings: 64,
    normalization: 'RMSNorm', swiglu: true, add_bias_linear: false, position_embedding_type: 'rope',
    multi_latent_attention: true, q_lora_rank: null, kv_lora_rank: 32, qk_head_dim: 16, qk_pos_emb_head_dim: 8, v_head_dim: 16,
    rope_type: null, num_experts: 8, moe_layer_freq: 2,
  };
}

describe('MLA and MoE args', () => {
  test('q_lora_rank None means no q compression; rope_type None and absent YaRN fields take MLATransformerConfig defaults', () => {
    const c = configFromArgs(mlaArgs(), 'args');
    expect(c.mla).toMatchObject({ qLoraRank: null, ropeType: 'yarn', rotaryScalingFactor: 40, originalMaxPositionEmbeddings: 4096, betaFast: 32, betaSlow: 1, mscale: 1, mscaleAllDim: 0 });
  });
  test('an int moe_layer_freq k makes every k-th layer (from 0) MoE', () => {
    expect(configFromArgs(mlaArgs(), 'args').moe?.layers).toEqual([true, false, true, false]);
    expect(configFromArgs({ ...mlaArgs(), moe_layer_freq: 1 }, 'args').moe?.layers).toEqual([true, true, true, true]);
  });
  test('a moe_layer_freq list must give one 0/1 per layer', () => {
    expect(configFromArgs({ ...mlaArgs(), moe_layer_freq: [0, 0, 1, 1] }, 'args').moe?.layers).toEqual([false, false, true, true]);
    expectExportError(() => configFromArgs({ ...mlaArgs(), moe_layer_freq: [0, 1, 1] }, 'args'), 'E_FORMAT', /moe_layer_freq/);
    expectExportError(() => configFromArgs({ ...mlaArgs(), moe_layer_freq: [0, 2, 1, 1] }, 'args'), 'E_FORMAT', /moe_layer_freq/);
  });
  test('unknown router score functions and MLA rope types are refused', () => {
    expectExportError(() => configFromArgs({ ...mlaArgs(), moe_router_score_function: 'sqrtsoftplus' }, 'args'), 'E_UNSUPPORTED', /sqrtsoftplus/);
    expectExportError(() => configFromArgs({ ...mlaArgs(), rope_type: 'mrope' }, 'args'), 'E_UNSUPPORTED', /mrope/);
  });
  test('router details and MTP layers are read', () => {
    const c = configFromArgs({ ...mlaArgs(), moe_router_num_groups: 8, moe_router_group_topk: 4, moe_router_topk_scaling_factor: 2.5, moe_router_pre_softmax: true, moe_grouped_gemm: true, mtp_num_layers: 1 }, 'args');
    expect(c.moe).toMatchObject({ numGroups: 8, groupTopk: 4, topkScalingFactor: 2.5, preSoftmax: true, groupedGemm: true });
    expect(c.mtpNumLayers).toBe(1);
  });
  test('a dense config has no MoE part, and a LayerNorm model is no modern family', () => {
    const { num_experts: _n, ...dense } = mlaArgs();
    expect(configFromArgs(dense, 'args').moe).toBeUndefined();
    expect(explainModelFamily(configFromArgs({ ...dense, multi_latent_attention: false, normalization: 'LayerNorm', qk_layernorm: true }, 'args'))).toBeNull();
  });
});
