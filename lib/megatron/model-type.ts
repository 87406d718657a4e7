// Which TensorRT-LLM model family (Megatron export's ModelType) a checkpoint's architecture matches.
// Megatron's own exporter makes the user name it; we guess from the config and let the user override
// (openCheckpoint's modelType option / --model-type). falcon is never guessed: Megatron's GPTModel has no
// parallel-attention block, so a falcon export is always the user's explicit choice.
import type { Args } from './config.js';
import type { ModelType, TransformerConfig } from './types.js';

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
