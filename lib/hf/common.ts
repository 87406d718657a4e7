// Config fragments and naming decisions shared by several architectures.
import { fail } from '../errors.js';
import type { Args } from '../megatron/config.js';
import type { TransformerConfig } from '../megatron/types.js';
import type { Affine } from '../plan/plan.js';
import type { HfRuleContext } from './types.js';
import { pyFloat, type PyJson } from '../export/pyjson.js';

/**
 * The transformers activation name (ACT2FN key) that computes what Megatron computed. Megatron's fused
 * bias+GeLU kernels (`bias_gelu_fusion`, on by default) use the tanh approximation, the unfused path F.gelu's
 * exact erf form; the fixtures' logits tell them apart (gpt2: tanh 3e-7, erf 4e-6 relative error).
 * `tanhName` lets GPT-2 use its historical 'gelu_new' (the same function as 'gelu_pytorch_tanh').
 */
export function hfActivation(cfg: TransformerConfig, args: Args | null, where: string, tanhName = 'gelu_pytorch_tanh'): string {
  switch (cfg.activation) {
    case 'gelu': {
      const fused = args?.['bias_gelu_fusion'] === true || args?.['bias_activation_fusion'] === true;
      return fused ? tanhName : 'gelu';
    }
    case 'openai_gelu':
    case 'fast-gelu':
      return tanhName;
    case 'quick_gelu':
      return 'quick_gelu';
    case 'squared_relu':
      return 'relu2';
    case 'silu':
    case 'swish':
      return 'silu';
    case 'relu':
      return 'relu';
    default:
      return fail('E_UNSUPPORTED', `activation '${cfg.activation}' has no Hugging Face equivalent we know of`, { file: where });
  }
}

/**
 * rope_theta and llama3-style scaling as transformers reads them. Megatron's --use-rope-scaling applies the
 * Llama 3.1 rule with its fixed constants (low 1, high 4, original context 8192).
 */
export function ropeFields(cfg: TransformerConfig): Record<string, PyJson> {
  const out: Record<string, PyJson> = { rope_theta: pyFloat(cfg.rotaryBase) };
  if (cfg.ropeScaling) {
    out['rope_scaling'] = { rope_type: 'llama3', factor: pyFloat(cfg.ropeScaling.factor), low_freq_factor: pyFloat(1), high_freq_factor: pyFloat(4), original_max_position_embeddings: 8192 };
  }
  return out;
}

export function requireRope(ctx: HfRuleContext, target: string, partialAllowed: boolean): void {
  const { cfg, where } = ctx;
  if (cfg.positionEmbeddingType !== 'rope') fail('E_UNSUPPORTED', `${target} needs rotary positions, the checkpoint uses '${cfg.positionEmbeddingType}'`, { file: where });
  // Megatron's default rope rotates halves (rotate_half), as transformers does; interleaved pairs would need a row permutation
  if (cfg.rotaryInterleaved) fail('E_UNSUPPORTED', `${target}: interleaved rotary embeddings are not supported`, { file: where });
  if (!partialAllowed && cfg.rotaryPercent !== 1) fail('E_UNSUPPORTED', `${target} rotates the whole head, the checkpoint rotates ${cfg.rotaryPercent * 100}% of it`, { file: where });
}

export function requireNorm(ctx: HfRuleContext, target: string, norm: TransformerConfig['normalization']): void {
  if (ctx.cfg.normalization !== norm) fail('E_UNSUPPORTED', `${target} uses ${norm}, the checkpoint uses ${ctx.cfg.normalization}`, { file: ctx.where });
}

/**
 * The affine that turns a Megatron norm weight into the target's convention. `targetZeroCentred`: the target
 * adds 1 at run time (Gemma, Nemotron). Storing a plain gamma there needs gamma − 1 (rounded in the source
 * dtype, as the plan's affine is); storing a zero-centred gamma in a plain target needs gamma + 1 (what
 * Megatron's own exporters do).
 */
export function normAffine(cfg: TransformerConfig, targetZeroCentred: boolean): Affine | undefined {
  if (cfg.layernormZeroCenteredGamma === targetZeroCentred) return undefined;
  return { add: targetZeroCentred ? -1 : 1 };
}

/**
 * Megatron options that change what the model computes without adding a tensor (so no rule would notice):
 * an export would load and silently compute something else. Each is refused when set to other than its default.
 */
const FUNCTION_CHANGING_ARGS: readonly [key: string, isDefault: (v: unknown) => boolean, what: string][] = [
  ['qk_l2_norm', (v) => v !== true, 'L2-normalised queries and keys'],
  ['moe_apply_probs_on_input', (v) => v !== true, 'routing weights applied to the expert input'],
  ['activation_func_clamp_value', (v) => v === null || v === undefined, 'a clamped activation'],
  ['glu_linear_offset', (v) => v === null || v === undefined || v === 0, 'an offset on the GLU linear half'],
  ['window_size', (v) => v === null || v === undefined, 'sliding-window attention'],
  ['softmax_type', (v) => v === null || v === undefined || v === 'vanilla', 'a non-standard attention softmax'],
  ['no_rope_freq', (v) => v === null || v === undefined, 'layers without rotary embeddings'],
  ['experimental_attention_variant', (v) => v === null || v === undefined, 'an experimental attention variant'],
];

export function requireStandardFunction(args: Args | null, where: string): void {
  for (const [key, isDefault, what] of FUNCTION_CHANGING_ARGS) {
    if (args && key in args && !isDefault(args[key])) fail('E_UNSUPPORTED', `${what} (args.${key} = ${JSON.stringify(args[key])}) has no Hugging Face export`, { file: where });
  }
}

/** Layers are uniform in every target here: an MoE checkpoint must have experts in every layer and vice versa. */
export function isMoe(cfg: TransformerConfig): boolean {
  return (cfg.numMoeExperts ?? 0) > 0;
}

export function requireDense(ctx: HfRuleContext, target: string): void {
  if (isMoe(ctx.cfg)) fail('E_UNSUPPORTED', `${target} has no mixture-of-experts layers; the checkpoint has ${ctx.cfg.numMoeExperts} experts`, { file: ctx.where });
}

export function requireLearnedPositions(ctx: HfRuleContext, target: string): void {
  const { cfg, where } = ctx;
  if (cfg.positionEmbeddingType !== 'learned_absolute') fail('E_UNSUPPORTED', `${target} has learned absolute positions; the checkpoint uses '${cfg.positionEmbeddingType}'`, { file: where });
}

/** GPT-2-style attention: the heads together span exactly the hidden size. */
export function requireHeadsSpanHidden(ctx: HfRuleContext, target: string): void {
  const { cfg, where } = ctx;
  if (cfg.kvChannels * cfg.numAttentionHeads !== cfg.hiddenSize) fail('E_UNSUPPORTED', `${target} needs heads × head dim = hidden size (${cfg.numAttentionHeads} × ${cfg.kvChannels} ≠ ${cfg.hiddenSize})`, { file: where });
}

/** Multi-query (1 KV head, returns true) or multi-head attention, the two layouts a fused QKV target stores. */
export function requireOneOrAllKvHeads(ctx: HfRuleContext, target: string): boolean {
  const { cfg, where } = ctx;
  const multiQuery = cfg.numQueryGroups === 1;
  if (!multiQuery && cfg.numQueryGroups !== cfg.numAttentionHeads) fail('E_UNSUPPORTED', `${target} has 1 or all KV heads, the checkpoint has ${cfg.numQueryGroups} groups for ${cfg.numAttentionHeads} heads`, { file: where });
  return multiQuery;
}

export function requireMlp(ctx: HfRuleContext, target: string, gated: boolean): void {
  if (ctx.cfg.gatedLinearUnit === gated) return;
  fail('E_UNSUPPORTED', gated ? `${target} has a gated MLP; the checkpoint's MLP is not gated` : `${target} has no gated MLP`, { file: ctx.where });
}
