import { fail } from '../errors.js';
import { isTRTLLMLayer, type TRTLLMLayer } from './layers.js';

/**
 * Megatron-Core parameter name (layer number removed) → TensorRT-LLM layer, as Megatron's
 * DEFAULT_CONVERSION_DICT (local spec and Transformer-Engine spec names both).
 */
export type ConversionDict = Readonly<Record<string, TRTLLMLayer>>;

export const DEFAULT_CONVERSION_DICT: ConversionDict = {
  'embedding.word_embeddings.weight': 'vocab_embedding',
  'embedding.position_embeddings.weight': 'position_embedding',
  'decoder.layers.input_layernorm.weight': 'input_layernorm_weight',
  'decoder.layers.input_layernorm.bias': 'input_layernorm_bias',
  'decoder.layers.self_attention.linear_qkv.weight': 'attention_qkv_weight',
  'decoder.layers.self_attention.linear_qkv.bias': 'attention_qkv_bias',
  'decoder.layers.self_attention.linear_proj.weight': 'attention_dense_weight',
  'decoder.layers.self_attention.linear_proj.bias': 'attention_dense_bias',
  'decoder.layers.pre_mlp_layernorm.weight': 'post_layernorm_weight',
  'decoder.layers.pre_mlp_layernorm.bias': 'post_layernorm_bias',
  'decoder.layers.mlp.linear_fc1.weight': 'mlp_fc_weight',
  'decoder.layers.mlp.linear_fc1.bias': 'mlp_fc_bias',
  'decoder.layers.mlp.linear_fc2.weight': 'mlp_projection_weight',
  'decoder.layers.mlp.linear_fc2.bias': 'mlp_projection_bias',
  'decoder.layers.mlp.experts.experts.linear_fc1.weight': 'mlp_fc_weight_mixture_of_experts',
  'decoder.layers.mlp.experts.experts.linear_fc2.weight': 'mlp_projection_weight_mixture_of_experts',
  'decoder.layers.mlp.router.weight': 'mlp_router_weight',
  'decoder.final_layernorm.weight': 'final_layernorm_weight',
  'decoder.final_layernorm.bias': 'final_layernorm_bias',
  'output_layer.weight': 'lm_head',
  // Transformer-Engine spec: norms fused into the following linear
  'decoder.layers.self_attention.linear_qkv.layer_norm_weight': 'input_layernorm_weight',
  'decoder.layers.self_attention.linear_qkv.layer_norm_bias': 'input_layernorm_bias',
  'decoder.layers.mlp.linear_fc1.layer_norm_weight': 'post_layernorm_weight',
  'decoder.layers.mlp.linear_fc1.layer_norm_bias': 'post_layernorm_bias',
  // QK-layernorm (--qk-layernorm), same name in both specs; only QWen takes it (arch/modern.ts picks the class)
  'decoder.layers.self_attention.q_layernorm.weight': 'attention_q_layernorm_weight',
  'decoder.layers.self_attention.k_layernorm.weight': 'attention_k_layernorm_weight',
  // gated shared experts (--moe-shared-expert-gate); only QWen's qwen2_moe takes them
  'decoder.layers.mlp.shared_experts.linear_fc1.weight': 'mlp_shared_expert_fc_weight',
  'decoder.layers.mlp.shared_experts.linear_fc2.weight': 'mlp_shared_expert_proj_weight',
  'decoder.layers.mlp.shared_experts.gate_weight': 'mlp_shared_expert_gate_weight',
};

/** The default dictionary with the user's entries merged over it (Megatron's `trtllm_conversion_dict`). */
export function mergeConversionDict(user: Readonly<Record<string, string>> = {}): ConversionDict {
  const out: Record<string, TRTLLMLayer> = { ...DEFAULT_CONVERSION_DICT };
  for (const [k, v] of Object.entries(user)) {
    if (!isTRTLLMLayer(v)) fail('E_USAGE', `trtllmConversionDict maps '${k}' to '${v}', which is not a TRTLLMLayers name`);
    out[k] = v;
  }
  return out;
}
