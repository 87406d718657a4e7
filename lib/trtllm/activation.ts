import type { TransformerConfig } from '../megatron/types.js';

/** Megatron's GATED_ACTIVATION list: these split `linear_fc1` into an activated and a linear half. */
export const GATED_ACTIVATIONS = ['swiglu', 'geglu', 'fast-swiglu', 'fast-geglu'] as const;

/** TensorRT-LLM's GATED_ACT_2_ACT (`non_gated_version`): the activation applied inside a gated MLP. */
export function nonGatedVersion(act: string): string {
  if (act === 'swiglu' || act === 'fast-swiglu') return 'silu';
  if (act === 'geglu' || act === 'fast-geglu') return 'gelu';
  return act;
}

/** The gated name TensorRT-LLM's GPT model needs to build a GatedMLP for an activation. */
export function gatedVersion(act: string): string {
  const base = nonGatedVersion(act);
  if (base === 'silu') return 'swiglu';
  if (base === 'gelu') return 'geglu';
  return act;
}

export function isGated(activation: string, config: Pick<TransformerConfig, 'gatedLinearUnit'>): boolean {
  return (GATED_ACTIVATIONS as readonly string[]).includes(activation) || config.gatedLinearUnit;
}

/**
 * The TRTLLMHelper `activation` argument a checkpoint's own args imply (what Megatron users pass by hand):
 * swiglu/geglu for gated units, TensorRT-LLM's names otherwise (`squared_relu` → `squared-relu`).
 */
export function helperActivationFor(config: Pick<TransformerConfig, 'activation' | 'gatedLinearUnit'>): string {
  const a = config.activation.toLowerCase().replace(/_/g, '-');
  const base = a === 'openai-gelu' || a === 'fast-gelu' || a === 'gelu' ? 'gelu' : a;
  if (config.gatedLinearUnit) {
    if (base === 'silu' || base === 'swiglu') return 'swiglu';
    if (base === 'gelu' || base === 'geglu') return 'geglu';
    return base;
  }
  return base;
}
