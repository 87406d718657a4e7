// Mixture-of-experts pieces of the modern targets (Qwen3-MoE, GLM-4-MoE, DeepSeek-V3), in the Hub layout every
// reader takes (transformers fuses the per-expert weights on load; vLLM and SGLang read them as they are):
// mlp.gate.weight (+ e_score_correction_bias), mlp.experts.<j>.{gate,up,down}_proj.weight,
// mlp.shared_experts.{gate,up,down}_proj.weight, and a dense mlp.{gate,up,down}_proj in non-MoE layers.
//
// Routing facts (Megatron moe_utils.topk_routing_with_score_function at d98e8a64 vs transformers'
// Glm4MoeTopkRouter / DeepseekV3TopkRouter / Qwen3MoeSparseMoeBlock):
//   sigmoid: top-k of sigmoid(logits) + expert_bias (the bias only chooses), weights = the chosen unbiased scores,
//            renormalised when k > 1, times moe_router_topk_scaling_factor = norm_topk_prob (k > 1),
//            routed_scaling_factor, e_score_correction_bias; both route in float32
//   softmax: top-k of the logits then softmax over the k = softmax over all then renormalised (norm_topk_prob);
//            moe_router_pre_softmax = softmax over all, no renormalisation (norm_topk_prob false)
//   groups:  Megatron ranks groups by the sum of their top (topk / group_topk) scores, transformers by their top 2
import { fail } from '../../errors.js';
import { zeros } from '../../tensor/tensor.js';
import type { MoeConfig } from '../../megatron/types.js';
import { layerNames } from '../source.js';
import { splitGatedFc1 } from '../split.js';
import type { HfRuleContext, HfTensor } from '../types.js';
import { denseMlp, type LayerPart } from './decoder.js';

/** The checkpoint's MoE settings; E_UNSUPPORTED for a dense checkpoint or non-SwiGLU experts. */
export function requireMoe(ctx: HfRuleContext, target: string): MoeConfig {
  const moe = ctx.cfg.moe;
  if (!moe) fail('E_UNSUPPORTED', `${target} needs MoE experts; the checkpoint has none`, { file: ctx.where });
  if (!ctx.cfg.gatedLinearUnit) fail('E_UNSUPPORTED', `${target} experts are gated (SwiGLU); the checkpoint's are not`, { file: ctx.where });
  if (ctx.cfg.addBiasLinear) fail('E_UNSUPPORTED', `${target} has no MLP biases; the checkpoint has them`, { file: ctx.where });
  // TEGroupedMLP._remove_glu_interleaving (experts.py): fc1 rows alternate gate/up blocks, not [gate; up]
  if (moe.gluInterleaveSize || moe.sharedGluInterleaveSize) fail('E_UNSUPPORTED', `expert fc1 rows interleaved in gate/up blocks (moe_mlp_glu_interleave_size / moe_shared_expert_glu_interleave_size) are not supported`, { file: ctx.where });
  return moe;
}

function unsupported(ctx: HfRuleContext, target: string, what: string): never {
  return fail('E_UNSUPPORTED', `${target} routing differs from this checkpoint's: ${what}`, { file: ctx.where });
}

/** Softmax routing without expert bias, shared experts or groups (Qwen3-MoE); returns norm_topk_prob. */
export function softmaxRouting(ctx: HfRuleContext, target: string, moe: MoeConfig): boolean {
  if (moe.scoreFunction !== 'softmax') unsupported(ctx, target, `moe_router_score_function '${moe.scoreFunction}'`);
  if (moe.enableExpertBias) unsupported(ctx, target, 'moe_router_enable_expert_bias');
  if (moe.sharedExpertIntermediateSize) unsupported(ctx, target, 'shared experts');
  if (moe.groupTopk) unsupported(ctx, target, 'group-limited routing');
  if (moe.topkScalingFactor !== undefined && moe.topkScalingFactor !== 1) unsupported(ctx, target, `moe_router_topk_scaling_factor ${moe.topkScalingFactor}`);
  return !moe.preSoftmax;
}

/** DeepSeek-V3's router fields (GLM-4-MoE and DeepSeek-V3 configs) after checking the routing is the same. */
export function sigmoidRoutingConfig(ctx: HfRuleContext, target: string, moe: MoeConfig): Record<string, number | boolean | string> {
  if (moe.scoreFunction !== 'sigmoid') unsupported(ctx, target, `moe_router_score_function '${moe.scoreFunction}' (the target routes by sigmoid)`);
  if (moe.sharedExpertGate) unsupported(ctx, target, 'a gated shared expert (moe_shared_expert_gate)');
  const groups = moe.groupTopk ? (moe.numGroups ?? 1) : 1;
  const topkGroup = moe.groupTopk ?? 1;
  if (groups > 1 && Math.floor(moe.topk / topkGroup) !== 2) unsupported(ctx, target, `group-limited routing ranks groups by their top ${Math.floor(moe.topk / topkGroup)} scores, the target by its top 2`);
  if (moe.numExperts % groups !== 0) unsupported(ctx, target, `${moe.numExperts} experts in ${groups} groups`);
  return {
    n_routed_experts: moe.numExperts,
    n_shared_experts: sharedExpertCount(ctx, target, moe),
    moe_intermediate_size: moe.ffnHiddenSize,
    num_experts_per_tok: moe.topk,
    // Megatron renormalises sigmoid scores over the chosen k whenever k > 1
    norm_topk_prob: moe.topk > 1,
    n_group: groups,
    topk_group: topkGroup,
    scoring_func: 'sigmoid',
    topk_method: 'noaux_tc',
    first_k_dense_replace: firstKDense(ctx, target, moe),
  };
}

/** Shared experts as the target counts them: n × moe_intermediate_size (Megatron gives their total width). */
function sharedExpertCount(ctx: HfRuleContext, target: string, moe: MoeConfig): number {
  const shared = moe.sharedExpertIntermediateSize;
  if (!shared) unsupported(ctx, target, 'no shared experts (the target always has them)');
  if (shared % moe.ffnHiddenSize !== 0) unsupported(ctx, target, `shared experts ${shared} wide, not a multiple of the expert width ${moe.ffnHiddenSize}`);
  return shared / moe.ffnHiddenSize;
}

/** The number of leading dense layers when every later layer is MoE (first_k_dense_replace). */
function firstKDense(ctx: HfRuleContext, target: string, moe: MoeConfig): number {
  const k = moe.layers.indexOf(true) === -1 ? moe.layers.length : moe.layers.indexOf(true);
  if (moe.layers.slice(k).some((m) => !m)) fail('E_UNSUPPORTED', `${target} has dense layers only before the MoE ones; the checkpoint's moe_layer_freq is [${moe.layers.map(Number).join(', ')}]`, { file: ctx.where });
  return k;
}

/** mlp.experts.<j>.{gate,up,down}_proj.weight from SequentialMLP or TEGroupedMLP names. */
function routedExperts(ctx: HfRuleContext, i: number, h: string, moe: MoeConfig): HfTensor[] {
  const m = layerNames(i);
  const out: HfTensor[] = [];
  for (let j = 0; j < moe.numExperts; j++) {
    const fc1 = m.expert(j, 'linear_fc1', 'weight');
    const w = splitGatedFc1(ctx.src.get(...fc1), moe.ffnHiddenSize, fc1[0]!);
    out.push(
      { name: `${h}experts.${j}.gate_proj.weight`, tensor: w.gate },
      { name: `${h}experts.${j}.up_proj.weight`, tensor: w.up },
      { name: `${h}experts.${j}.down_proj.weight`, tensor: ctx.src.get(...m.expert(j, 'linear_fc2', 'weight')) },
    );
  }
  return out;
}

/** Megatron's SharedExpertMLP (fc1 [gate; up] of the total shared width) as shared_experts.{gate,up,down}_proj. */
function sharedExperts(ctx: HfRuleContext, i: number, h: string, moe: MoeConfig): HfTensor[] {
  const p = `${layerNames(i).prefix}mlp.shared_experts.`;
  const w = splitGatedFc1(ctx.src.get(`${p}linear_fc1.weight`), moe.sharedExpertIntermediateSize!, `${p}linear_fc1.weight`);
  return [
    { name: `${h}shared_experts.gate_proj.weight`, tensor: w.gate },
    { name: `${h}shared_experts.up_proj.weight`, tensor: w.up },
    { name: `${h}shared_experts.down_proj.weight`, tensor: ctx.src.get(`${p}linear_fc2.weight`) },
  ];
}

/**
 * Per layer: a dense MLP, or the MoE block — `gate.weight`, routed experts and, with `deepseek`, the
 * float32 `gate.e_score_correction_bias` (Megatron's expert_bias, zeros without one; kept float32 in every
 * export dtype, as Megatron and transformers keep it) and the shared experts.
 */
export function moeMlp(moe: MoeConfig, deepseek: boolean): LayerPart {
  return (ctx, i, h) => {
    if (!moe.layers[i]) return denseMlp(ctx, i, true);
    const m = layerNames(i);
    const out: HfTensor[] = [{ name: `${h}gate.weight`, tensor: ctx.src.get(m.router('weight')) }];
    if (deepseek) {
      const bias = ctx.src.maybe(`${m.prefix}mlp.router.expert_bias`) ?? zeros('float32', [moe.numExperts]);
      out.push({ name: `${h}gate.e_score_correction_bias`, tensor: bias, dtype: 'float32' });
    }
    out.push(...routedExperts(ctx, i, h, moe));
    if (deepseek) out.push(...sharedExperts(ctx, i, h, moe));
    return out;
  };
}
