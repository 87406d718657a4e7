// MixtralForCausalLM: Llama attention + top-k softmax-routed SwiGLU experts in every layer.
import { fail } from '../../errors.js';
import { normAffine, requireNorm, requireRope, ropeFields } from '../common.js';
import type { HfModel, HfRuleContext } from '../types.js';
import { decoderConfig, decoderTensors } from './decoder.js';
import { pyFloat } from '../../export/pyjson.js';

/**
 * Mixtral routes by softmax over all logits, top-k, then renormalises over the k: the same numbers as
 * Megatron's default (top-k of the logits, softmax over those k). Other routers would change the outputs.
 */
function requireMixtralRouting(ctx: HfRuleContext): void {
  const a = ctx.args ?? {};
  const bad = (what: string) => fail('E_UNSUPPORTED', `MixtralForCausalLM routing differs from this checkpoint's: ${what}`, { file: ctx.where });
  if (a['moe_router_pre_softmax'] === true) bad('moe_router_pre_softmax (no renormalisation over the top k)');
  const score = a['moe_router_score_function'];
  if (score !== undefined && score !== null && score !== 'softmax') bad(`moe_router_score_function '${String(score)}'`);
  const scale = a['moe_router_topk_scaling_factor'];
  if (typeof scale === 'number' && scale !== 1) bad(`moe_router_topk_scaling_factor ${scale}`);
  if (a['moe_router_enable_expert_bias'] === true) bad('moe_router_enable_expert_bias');
  const shared = a['moe_shared_expert_intermediate_size'];
  if (typeof shared === 'number' && shared > 0) bad('shared experts');
}

export function mixtralModel(ctx: HfRuleContext): HfModel {
  const { cfg } = ctx;
  const target = 'MixtralForCausalLM';
  requireNorm(ctx, target, 'RMSNorm');
  requireRope(ctx, target, false);
  if (!cfg.numMoeExperts || !cfg.moeRouterTopk) fail('E_UNSUPPORTED', `${target} needs MoE experts; the checkpoint has none`, { file: ctx.where });
  if (!cfg.gatedLinearUnit) fail('E_UNSUPPORTED', `${target} experts are gated; the checkpoint's are not`, { file: ctx.where });
  if (cfg.addBiasLinear) fail('E_UNSUPPORTED', `${target} has no linear biases; the checkpoint has them`, { file: ctx.where });
  requireMixtralRouting(ctx);
  const tensors = decoderTensors(ctx, { normBias: false, normAffine: normAffine(cfg, false), mlp: 'mixtral', lmHead: true });
  const aux = ctx.args?.['moe_aux_loss_coeff'];
  return {
    architecture: target,
    modelType: 'mixtral',
    config: {
      ...decoderConfig(ctx),
      intermediate_size: cfg.moeFfnHiddenSize ?? cfg.ffnHiddenSize,
      rms_norm_eps: pyFloat(cfg.layernormEpsilon),
      ...ropeFields(cfg),
      attention_dropout: pyFloat(0.0),
      sliding_window: null,
      num_local_experts: cfg.numMoeExperts,
      num_experts_per_tok: cfg.moeRouterTopk,
      output_router_logits: false,
      router_aux_loss_coef: pyFloat(typeof aux === 'number' ? aux : 0.001),
      router_jitter_noise: pyFloat(0.0),
      tie_word_embeddings: false,
    },
    tensors,
  };
}
