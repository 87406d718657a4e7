// DeepseekV3ForCausalLM for Megatron's multi-latent attention (+ DeepSeek-V3's MoE block when present).
// MLA tensors (multi_latent_attention.py at d98e8a64) → transformers' DeepseekV3Attention, rows kept in order:
//   linear_q_down_proj [q_lora, H]               → q_a_proj
//   q_layernorm | linear_q_up_proj.layer_norm_weight → q_a_layernorm (RMSNorm of the q latent)
//   linear_q_up_proj [heads·(nope+rope), q_lora] → q_b_proj (per head [nope, rope], as HF splits it)
//   linear_q_proj (no q compression)             → q_proj
//   linear_kv_down_proj [kv_lora+rope, H]        → kv_a_proj_with_mqa ([latent, shared rope key])
//   kv_layernorm | linear_kv_up_proj.layer_norm_weight → kv_a_layernorm
//   linear_kv_up_proj [heads·(nope+v), kv_lora]  → kv_b_proj (per head [k nope, v])
//   linear_proj                                  → o_proj
// Megatron rotates the rope dims as interleaved pairs (HF rope_interleave=True, weights unchanged); YaRN goes
// to rope_scaling with MLATransformerConfig's factor, original context, beta_fast/slow, mscale, mscale_all_dim.
import { fail } from '../../errors.js';
import { pyFloat, type PyJson } from '../../export/pyjson.js';
import type { MlaConfig } from '../../megatron/types.js';
import { hfActivation, requireMlp, requireNorm } from '../common.js';
import { layerNames } from '../source.js';
import type { HfModel, HfRuleContext, HfTensor } from '../types.js';
import { decoderTensors, denseMlp, type DecoderShape, type LayerPart } from './decoder.js';
import { moeMlp, requireMoe, sigmoidRoutingConfig } from './moe.js';
import { deepseekMtpTensors, mtpLayerCount, mtpNoSlot } from './mtp.js';

function mlaAttention(mla: MlaConfig): LayerPart {
  return (ctx, i, h) => {
    const { src } = ctx;
    const p = `${layerNames(i).prefix}self_attention.`;
    const a = `${h}self_attn.`;
    const out: HfTensor[] = [];
    if (mla.qLoraRank === null) {
      out.push({ name: `${a}q_proj.weight`, tensor: src.get(`${p}linear_q_proj.weight`) });
    } else {
      out.push(
        { name: `${a}q_a_proj.weight`, tensor: src.get(`${p}linear_q_down_proj.weight`) },
        { name: `${a}q_a_layernorm.weight`, tensor: src.get(`${p}q_layernorm.weight`, `${p}linear_q_up_proj.layer_norm_weight`) },
        { name: `${a}q_b_proj.weight`, tensor: src.get(`${p}linear_q_up_proj.weight`) },
      );
    }
    out.push(
      { name: `${a}kv_a_proj_with_mqa.weight`, tensor: src.get(`${p}linear_kv_down_proj.weight`) },
      { name: `${a}kv_a_layernorm.weight`, tensor: src.get(`${p}kv_layernorm.weight`, `${p}linear_kv_up_proj.layer_norm_weight`) },
      { name: `${a}kv_b_proj.weight`, tensor: src.get(`${p}linear_kv_up_proj.weight`) },
      { name: `${a}o_proj.weight`, tensor: src.get(`${p}linear_proj.weight`) },
    );
    checkShapes(ctx, mla, out);
    return out;
  };
}

/** The MLA projections must have the shapes the config promises (a wrong TP merge or config shows here). */
function checkShapes(ctx: HfRuleContext, mla: MlaConfig, tensors: readonly HfTensor[]): void {
  const { hiddenSize: H, numAttentionHeads: n } = ctx.cfg;
  const qk = mla.qkHeadDim + mla.qkPosEmbHeadDim;
  const want: Record<string, number[]> = {
    q_proj: [n * qk, H],
    q_a_proj: [mla.qLoraRank ?? 0, H],
    q_a_layernorm: [mla.qLoraRank ?? 0],
    q_b_proj: [n * qk, mla.qLoraRank ?? 0],
    kv_a_proj_with_mqa: [mla.kvLoraRank + mla.qkPosEmbHeadDim, H],
    kv_a_layernorm: [mla.kvLoraRank],
    kv_b_proj: [n * (mla.qkHeadDim + mla.vHeadDim), mla.kvLoraRank],
    o_proj: [H, n * mla.vHeadDim],
  };
  for (const t of tensors) {
    const key = /self_attn\.([a-z_]+)\.weight$/.exec(t.name)![1]!;
    const w = want[key]!;
    if (t.tensor.shape.length !== w.length || t.tensor.shape.some((d, k) => d !== w[k])) {
      fail('E_SHAPE', `multi-latent attention ${key} is [${t.tensor.shape.join(', ')}], the config says [${w.join(', ')}]`, { file: ctx.where, tensor: t.name });
    }
  }
}

/** rope_theta and YaRN as DeepSeek-V3's config carries them (rope_scaling; transformers also reads it as rope_parameters). */
function mlaRope(ctx: HfRuleContext, mla: MlaConfig): Record<string, PyJson> {
  const out: Record<string, PyJson> = { rope_theta: pyFloat(ctx.cfg.rotaryBase), rope_interleave: true };
  if (mla.ropeType === 'yarn') {
    out['rope_scaling'] = {
      type: 'yarn',
      rope_type: 'yarn',
      factor: pyFloat(mla.rotaryScalingFactor),
      original_max_position_embeddings: mla.originalMaxPositionEmbeddings,
      beta_fast: pyFloat(mla.betaFast),
      beta_slow: pyFloat(mla.betaSlow),
      mscale: pyFloat(mla.mscale),
      mscale_all_dim: pyFloat(mla.mscaleAllDim),
    };
  }
  return out;
}

export function deepseekV3Model(ctx: HfRuleContext): HfModel {
  const { cfg } = ctx;
  const target = 'DeepseekV3ForCausalLM';
  const mla = cfg.mla;
  if (!mla) fail('E_UNSUPPORTED', `${target} has multi-latent attention; the checkpoint does not (export a GQA DeepSeek-style MoE as glm4_moe)`, { file: ctx.where });
  requireNorm(ctx, target, 'RMSNorm');
  requireMlp(ctx, target, true);
  if (cfg.layernormZeroCenteredGamma) fail('E_UNSUPPORTED', `${target} stores plain RMSNorm gammas; the checkpoint's are zero-centred`, { file: ctx.where });
  if (cfg.addBiasLinear || cfg.addQkvBias) fail('E_UNSUPPORTED', `${target} (attention_bias false) has no linear biases; the checkpoint has them`, { file: ctx.where });
  if (cfg.rotaryInterleaved) fail('E_UNSUPPORTED', `${target}: rotary_interleaved with multi-latent attention is not supported`, { file: ctx.where });
  // DeepseekV3 always normalises the latents; Megatron's MLA does only with --qk-layernorm
  if (!cfg.qkLayernorm) fail('E_UNSUPPORTED', `${target} normalises the kv latent (kv_a_layernorm); the checkpoint has no QK-layernorm`, { file: ctx.where });
  const moe = cfg.moe ? requireMoe(ctx, target) : undefined;
  const routing = moe ? sigmoidRoutingConfig(ctx, target, moe) : { first_k_dense_replace: cfg.numLayers };
  const tied = cfg.shareEmbeddingsAndOutputWeights;
  const mtpFound = mtpLayerCount(ctx, ctx.src.names());
  const noSlot = mtpFound ? mtpNoSlot(ctx, mtpFound, moe) : null;
  const mtp = noSlot ? 0 : mtpFound;
  // the MoE flags cover the MTP layers too (model.layers.<L+k> are MoE in DeepSeek-V3)
  const mlp: LayerPart = moe ? moeMlp({ ...moe, layers: [...moe.layers, ...Array<boolean>(mtp).fill(true)] }, true) : (c, i) => denseMlp(c, i, true);
  const shape: DecoderShape = { normBias: false, mlp, lmHead: !tied, attention: mlaAttention(mla) };
  const tensors = [...decoderTensors(ctx, shape), ...deepseekMtpTensors(ctx, shape, mtp)];
  let notes: string[] | undefined;
  if (noSlot) {
    const left = [...ctx.src.names()].filter((n) => n.startsWith('mtp.')).length;
    ctx.src.ignore((n) => n.startsWith('mtp.'));
    notes = [`${mtpFound} multi-token-prediction layer(s) left out (${left} tensors under mtp.layers.*): ${noSlot}`];
  }
  return {
    ...(notes ? { notes } : {}),
    architecture: target,
    modelType: 'deepseek_v3',
    config: {
      vocab_size: ctx.vocab,
      hidden_size: cfg.hiddenSize,
      intermediate_size: cfg.ffnHiddenSize,
      num_hidden_layers: cfg.numLayers,
      num_attention_heads: cfg.numAttentionHeads,
      num_key_value_heads: cfg.numAttentionHeads,
      q_lora_rank: mla.qLoraRank,
      kv_lora_rank: mla.kvLoraRank,
      qk_nope_head_dim: mla.qkHeadDim,
      qk_rope_head_dim: mla.qkPosEmbHeadDim,
      v_head_dim: mla.vHeadDim,
      hidden_act: hfActivation(cfg, ctx.args, ctx.where),
      max_position_embeddings: cfg.maxPositionEmbeddings,
      rms_norm_eps: pyFloat(cfg.layernormEpsilon),
      ...mlaRope(ctx, mla),
      attention_bias: false,
      attention_dropout: pyFloat(0.0),
      ...routing,
      // vLLM's DeepSeek layers are MoE when index ≥ first_k_dense_replace and index % moe_layer_freq == 0
      moe_layer_freq: 1,
      routed_scaling_factor: pyFloat(moe?.topkScalingFactor ?? 1),
      // multi-token-prediction layers at model.layers.<num_hidden_layers + k> (vLLM's name; transformers maps num_mtp_layers to it)
      num_nextn_predict_layers: mtp,
      num_mtp_layers: mtp,
      tie_word_embeddings: tied,
    },
    tensors,
  };
}
