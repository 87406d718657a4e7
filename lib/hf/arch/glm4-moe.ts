// Glm4MoeForCausalLM for grouped-query attention + DeepSeek-V3's MoE block (Megatron's `deepseek`-style models
// without MLA): sigmoid router with e_score_correction_bias, shared experts, the first layers dense; optional
// QK-norm (use_qk_norm) and QKV bias (attention_bias; o_proj never has one), partial rotary
// (partial_rotary_factor, which transformers defaults to 0.5 for GLM, so it is always written).
import { fail } from '../../errors.js';
import { pyFloat } from '../../export/pyjson.js';
import { requireMlp, requireNorm, requireRope, ropeFields } from '../common.js';
import type { HfModel, HfRuleContext } from '../types.js';
import { decoderConfig, decoderTensors } from './decoder.js';
import { moeMlp, requireMoe, sigmoidRoutingConfig } from './moe.js';

export function glm4MoeModel(ctx: HfRuleContext): HfModel {
  const { cfg } = ctx;
  const target = 'Glm4MoeForCausalLM';
  requireNorm(ctx, target, 'RMSNorm');
  requireRope(ctx, target, true);
  requireMlp(ctx, target, true);
  if (cfg.layernormZeroCenteredGamma) fail('E_UNSUPPORTED', `${target} stores plain RMSNorm gammas; the checkpoint's are zero-centred`, { file: ctx.where });
  if (cfg.mla) fail('E_UNSUPPORTED', `${target} has grouped-query attention; the checkpoint has multi-latent attention (export it as deepseek_v3)`, { file: ctx.where });
  const moe = requireMoe(ctx, target);
  const { scoring_func: _s, topk_method: _t, ...routing } = sigmoidRoutingConfig(ctx, target, moe);
  const tied = cfg.shareEmbeddingsAndOutputWeights;
  const tensors = decoderTensors(ctx, { normBias: false, mlp: moeMlp(moe, true), lmHead: !tied, qkNorm: cfg.qkLayernorm, oProjBias: 'never' });
  return {
    architecture: target,
    modelType: 'glm4_moe',
    config: {
      ...decoderConfig(ctx),
      partial_rotary_factor: pyFloat(cfg.rotaryPercent),
      rms_norm_eps: pyFloat(cfg.layernormEpsilon),
      ...ropeFields(cfg),
      attention_bias: cfg.addQkvBias,
      attention_dropout: pyFloat(0.0),
      use_qk_norm: cfg.qkLayernorm,
      ...routing,
      routed_scaling_factor: pyFloat(moe.topkScalingFactor ?? 1),
      // multi-token-prediction layers are not exported (see the README)
      num_mtp_layers: 0,
      num_nextn_predict_layers: 0,
      tie_word_embeddings: tied,
    },
    tensors,
  };
}
