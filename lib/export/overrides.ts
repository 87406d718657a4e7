// Checks of the settings a user may override (--model-type, --vocab-size) against the checkpoint itself, shared
// by the TensorRT-LLM and Hugging Face exports, so a contradiction is refused before anything is written instead
// of producing a checkpoint that loads wrong (or that `verify` rejects afterwards).
import { fail } from '../errors.js';
import type { ModelType, TransformerConfig } from '../megatron/types.js';

/**
 * The structure a TensorRT-LLM model class needs, from its TensorRT-LLM definition: LLaMA-class models
 * (LlamaForCausalLM, GemmaForCausalLM: models/llama/model.py, models/gemma/model.py) have RMSNorm, rotary
 * positions and a gated MLP; Mixtral is LLaMA with MoE experts; GPTForCausalLM and FalconForCausalLM
 * (models/gpt/model.py, models/falcon/model.py) normalise with LayerNorm.
 */
export function checkModelTypeFits(config: TransformerConfig, modelType: ModelType, where?: string): void {
  const misfit: string[] = [];
  const experts = config.numMoeExperts ?? 0;
  const llamaClass = modelType === 'llama' || modelType === 'mixtral' || modelType === 'gemma';
  if (llamaClass) {
    if (config.normalization !== 'RMSNorm') misfit.push(`${modelType} normalises with RMSNorm, the checkpoint with ${config.normalization}`);
    if (config.positionEmbeddingType !== 'rope') misfit.push(`${modelType} has rotary positions, the checkpoint ${config.positionEmbeddingType}`);
    if (!config.gatedLinearUnit) misfit.push(`${modelType} has a gated MLP, the checkpoint's is not gated`);
  } else if (config.normalization !== 'LayerNorm') {
    misfit.push(`${modelType} normalises with LayerNorm, the checkpoint with ${config.normalization}`);
  }
  if (modelType === 'mixtral' && experts < 2) misfit.push('mixtral has MoE experts, the checkpoint has none');
  if ((modelType === 'llama' || modelType === 'gemma') && experts > 1) misfit.push(`the checkpoint has ${experts} MoE experts (model type mixtral)`);
  if (misfit.length > 0) {
    fail('E_CONFIG', `model type '${modelType}' does not fit this checkpoint: ${misfit.join('; ')} (leave --model-type out to use the guessed type)`, where ? { file: where } : {});
  }
}

/**
 * `--vocab-size` drops Megatron's padding rows past the tokenizer's vocabulary; below the tokenizer's own size
 * (args.vocab_size) it would drop real tokens, so it is refused.
 */
export function checkVocabOverride(config: TransformerConfig, vocabSize: number | undefined, where?: string): void {
  if (vocabSize === undefined || config.vocabSize === undefined) return;
  if (vocabSize < config.vocabSize) {
    fail('E_CONFIG', `--vocab-size ${vocabSize} is below the tokenizer's vocabulary of ${config.vocabSize} (args.vocab_size): it would drop real tokens, not padding`, where ? { file: where } : {});
  }
}
