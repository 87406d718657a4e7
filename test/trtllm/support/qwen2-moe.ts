// Test-only: a Megatron model with gated shared experts (Qwen2-MoE style), which no fixture has (the modern set's
// shared experts are ungated DeepSeek ones), made from the real qwen3_moe fixture without editing its data: the
// q/k norms left out, each MoE layer given a shared expert whose linear_fc1 is expert 0's, linear_fc2 expert 1's and
// gate_weight the router's first row. There are no Megatron logits for it.
import type { Checkpoint, TransformerConfig } from '../../../lib/megatron/types.js';
import * as T from '../../../lib/tensor/tensor.js';
import type { Tensor } from '../../../lib/tensor/tensor.js';

export function gatedSharedExpertModel(qwen3Moe: Checkpoint): { sd: Map<string, Tensor>; config: TransformerConfig } {
  const src = qwen3Moe.tensors;
  const sd = new Map([...src].filter(([k]) => !/\.self_attention\.[qk]_layernorm\.weight$/.test(k)));
  for (let l = 0; l < qwen3Moe.config.numLayers; l++) {
    const p = `decoder.layers.${l}.mlp.`;
    sd.set(p + 'shared_experts.linear_fc1.weight', src.get(p + 'experts.local_experts.0.linear_fc1.weight')!);
    sd.set(p + 'shared_experts.linear_fc2.weight', src.get(p + 'experts.local_experts.1.linear_fc2.weight')!);
    sd.set(p + 'shared_experts.gate_weight', T.narrow(src.get(p + 'router.weight')!, 0, 0, 1));
  }
  const width = src.get('decoder.layers.0.mlp.experts.local_experts.1.linear_fc2.weight')!.shape[1]!;
  const config: TransformerConfig = { ...qwen3Moe.config, qkLayernorm: false, moe: { ...qwen3Moe.config.moe!, sharedExpertIntermediateSize: width, sharedExpertGate: true } };
  return { sd, config };
}
