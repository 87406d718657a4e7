import type { ModelType } from '../megatron/types.js';

/** TensorRT-LLM architecture per Megatron model type (Megatron's TRT_MODEL_TYPE_STRING). */
export const TRT_ARCHITECTURE: Readonly<Record<ModelType, string>> = {
  gpt: 'GPTForCausalLM',
  gptnext: 'GPTForCausalLM',
  starcoder: 'GPTForCausalLM',
  mixtral: 'LlamaForCausalLM',
  llama: 'LlamaForCausalLM',
  gemma: 'GemmaForCausalLM',
  falcon: 'FalconForCausalLM',
};

/** Model types whose TensorRT-LLM class builds an MLP from `hidden_act` alone (gated only for a gated name). */
export function isGptClass(t: ModelType): boolean {
  return t === 'gpt' || t === 'gptnext' || t === 'starcoder';
}

/** LLaMA-class configs take biases as attn_bias/mlp_bias, not `bias`. */
export function isLlamaClass(t: ModelType): boolean {
  return t === 'llama' || t === 'mixtral' || t === 'gemma';
}
