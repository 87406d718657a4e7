// Which TensorRT-LLM model family (Megatron export's ModelType) a checkpoint's architecture matches.
// Megatron's own exporter makes the user name it; we guess from the config and let the user override
// (openCheckpoint's modelType option / --model-type). falcon is never guessed: Megatron's GPTModel has no
// parallel-attention block, so a falcon export is always the user's explicit choice.
import type { Args } from './config.js';
import type { ModelFamily, ModelType, TransformerConfig } from './types.js';

const GELU_FAMILY = new Set(['gelu', 'openai_gelu', 'quick_gelu', 'fast-gelu']);

/** A one-line reason with the guess, for `inspect` and error messages. */
export interface ModelTypeGuess {
  modelType: ModelType;
  reason: string;
}

// `_args` is reserved for rules that need more than the config (none yet).
export function explainModelType(config: TransformerConfig, _args: Args | null): ModelTypeGuess {
  const rope = config.positionEmbeddingType === 'rope';
  if ((config.numMoeExperts ?? 0) > 1) {
    return { modelType: 'mixtral', reason: `${config.numMoeExperts} MoE experts` };
  }
  if (config.normalization === 'RMSNorm') {
    // Gemma: GeGLU MLP and norms stored zero-centred (weight + 1 at inference)
    if (config.gatedLinearUnit && GELU_FAMILY.has(config.activation)) return { modelType: 'gemma', reason: 'RMSNorm with a gated GeLU MLP' };
    if (config.layernormZeroCenteredGamma) return { modelType: 'gemma', reason: 'RMSNorm with zero-centred gamma' };
    return { modelType: 'llama', reason: `RMSNorm${config.gatedLinearUnit ? ', gated ' + config.activation : ''}${rope ? ', rope' : ''}` };
  }
  // LayerNorm models are TensorRT-LLM GPT variants.
  if (rope || config.layernormZeroCenteredGamma || config.activation === 'squared_relu') {
    return { modelType: 'gptnext', reason: `LayerNorm${config.layernormZeroCenteredGamma ? '-1p' : ''}, ${config.positionEmbeddingType} positions, ${config.activation}` };
  }
  if (config.numQueryGroups < config.numAttentionHeads) {
    // StarCoder: GPT-2 shape with multi-query attention
    return { modelType: 'starcoder', reason: `LayerNorm, learned positions, ${config.numQueryGroups} KV group(s) for ${config.numAttentionHeads} heads` };
  }
  return { modelType: 'gpt', reason: `LayerNorm, ${config.positionEmbeddingType} positions, ${config.activation}` };
}

/** The model type a checkpoint most likely is (see explainModelType for the rules). */
export function guessModelType(config: TransformerConfig, args: Args | null): ModelType {
  return explainModelType(config, args).modelType;
}

/** A modern family with the facts that chose it, for `inspect` and the Hugging Face export. */
export interface ModelFamilyGuess {
  family: ModelFamily;
  reason: string;
}

/** DeepSeek-V3's MoE block: shared experts, a sigmoid router, expert bias or dense layers among the MoE ones. */
function deepseekMoe(config: TransformerConfig): string | null {
  const moe = config.moe;
  if (!moe) return null;
  const facts: string[] = [];
  if (moe.sharedExpertIntermediateSize) facts.push(`shared experts ${moe.sharedExpertIntermediateSize}`);
  if (moe.scoreFunction === 'sigmoid') facts.push('sigmoid router');
  if (moe.enableExpertBias) facts.push('expert bias');
  const dense = moe.layers.filter((m) => !m).length;
  if (dense > 0) facts.push(`${dense} dense layer(s)`);
  return facts.length ? facts.join(', ') : null;
}

/**
 * The modern family a checkpoint belongs to, or null for a classic one (GPT, Llama, Mixtral ...): multi-latent
 * attention → DeepSeek-V3; GQA with DeepSeek-V3's MoE block → GLM-4-MoE (the transformers class with exactly
 * that); softmax-routed experts with QK-norm → Qwen3-MoE; dense with QK-norm → Qwen3; a bias on QKV only → Qwen2.
 */
export function explainModelFamily(config: TransformerConfig): ModelFamilyGuess | null {
  // every modern family is a plain-RMSNorm decoder; anything else stays with the classic types
  if (config.normalization !== 'RMSNorm' || config.layernormZeroCenteredGamma) return null;
  const experts = config.moe ? `${config.moe.numExperts} experts top-${config.moe.topk}` : '';
  if (config.mla) return { family: 'deepseek_v3', reason: `multi-latent attention${experts ? `, ${experts}` : ''}` };
  const ds = deepseekMoe(config);
  if (ds) return { family: 'glm4_moe', reason: `grouped-query attention, ${experts}: ${ds}` };
  if (config.moe && config.qkLayernorm) return { family: 'qwen3_moe', reason: `QK-layernorm, ${experts}` };
  if (config.moe) return null;
  if (config.qkLayernorm) return { family: 'qwen3', reason: `QK-layernorm, head dim ${config.kvChannels}` };
  if (config.addQkvBias && !config.addBiasLinear) return { family: 'qwen2', reason: 'bias on the fused QKV only' };
  return null;
}
