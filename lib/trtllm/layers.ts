import { fail } from '../errors.js';

/**
 * TensorRT-LLM parameter names, as Megatron's `TRTLLMLayers` enum has them. Per-layer names carry no layer
 * number (`transformer.layers.attention.qkv.weight`); the number is inserted after `layers.` on output.
 */
export const TRTLLMLayers = {
  position_embedding: 'transformer.position_embedding.weight',
  vocab_embedding: 'transformer.vocab_embedding.weight',
  lm_head: 'lm_head.weight',
  final_layernorm_weight: 'transformer.ln_f.weight',
  final_layernorm_bias: 'transformer.ln_f.bias',
  input_layernorm_weight: 'transformer.layers.input_layernorm.weight',
  input_layernorm_bias: 'transformer.layers.input_layernorm.bias',
  attention_qkv_weight: 'transformer.layers.attention.qkv.weight',
  attention_qkv_bias: 'transformer.layers.attention.qkv.bias',
  attention_dense_weight: 'transformer.layers.attention.dense.weight',
  attention_dense_bias: 'transformer.layers.attention.dense.bias',
  mlp_fc_weight: 'transformer.layers.mlp.fc.weight',
  mlp_fc_bias: 'transformer.layers.mlp.fc.bias',
  post_layernorm_weight: 'transformer.layers.post_layernorm.weight',
  post_layernorm_bias: 'transformer.layers.post_layernorm.bias',
  mlp_projection_weight: 'transformer.layers.mlp.proj.weight',
  mlp_projection_bias: 'transformer.layers.mlp.proj.bias',
  mlp_router_weight: 'transformer.layers.mlp.router.weight',
  mlp_fc_weight_mixture_of_experts: 'transformer.layers.mlp.fc.weight.expert',
  mlp_projection_weight_mixture_of_experts: 'transformer.layers.mlp.proj.weight.expert',
  // QK-layernorm (Attention(qk_layernorm=True), e.g. TensorRT-LLM's QWen for qwen3): not in Megatron's enum
  attention_q_layernorm_weight: 'transformer.layers.attention.q_layernorm.weight',
  attention_k_layernorm_weight: 'transformer.layers.attention.k_layernorm.weight',
  // gated shared expert (SharedMoE(use_shared_gate=True), TensorRT-LLM's QWen for qwen2_moe)
  mlp_shared_expert_fc_weight: 'transformer.layers.mlp.shared_expert.fc.weight',
  mlp_shared_expert_proj_weight: 'transformer.layers.mlp.shared_expert.proj.weight',
  mlp_shared_expert_gate_weight: 'transformer.layers.mlp.shared_expert_gate.weight',
} as const;

export type TRTLLMLayer = keyof typeof TRTLLMLayers;
export const TRTLLM_LAYER_NAMES = Object.keys(TRTLLMLayers) as TRTLLMLayer[];

/** Layers outside the transformer block: they occur once and carry no layer number. */
export const NON_TRANSFORMER_LAYERS: readonly TRTLLMLayer[] = ['vocab_embedding', 'position_embedding', 'lm_head', 'final_layernorm_weight', 'final_layernorm_bias'];

export function isTRTLLMLayer(s: string): s is TRTLLMLayer {
  return Object.prototype.hasOwnProperty.call(TRTLLMLayers, s);
}

/**
 * `decoder.layers.2.self_attention.linear_qkv.weight` → [`decoder.layers.self_attention.linear_qkv.weight`, 2].
 * Only the number right after `layers.` is removed (Megatron removes every `.2.`, which also strips expert
 * indices and is why it cannot rename `local_experts.N` keys).
 */
export function splitLayerNumber(name: string): { base: string; layer: number | null } {
  const m = /(^|\.)layers\.(\d+)\./.exec(name);
  if (!m) return { base: name, layer: null };
  const start = m.index + m[1]!.length + 'layers.'.length;
  return { base: name.slice(0, start) + name.slice(start + m[2]!.length + 1), layer: Number(m[2]) };
}

/** `transformer.layers.attention.qkv.weight` + 3 → `transformer.layers.3.attention.qkv.weight`. */
export function withLayerNumber(name: string, layer: number): string {
  const i = name.indexOf('layers.');
  if (i < 0) fail('E_USAGE', `'${name}' has no 'layers.' to number`);
  return `${name.slice(0, i + 7)}${layer}.${name.slice(i + 7)}`;
}
