// Qwen3MoeForCausalLM: the Qwen3 attention (QK-norm) + softmax-routed SwiGLU experts, dense layers listed in
// mlp_only_layers (Megatron's moe_layer_freq decides per layer; decoder_sparse_step 1 leaves the rest MoE).
import { fail } from '../../errors.js';
import { pyFloat } from '../../export/pyjson.js';
import type { HfModel, HfRuleContext } from '../types.js';
import { decoderTensors } from './decoder.js';
import { moeMlp, requireMoe, softmaxRouting } from './moe.js';
import { qwenConfig, requireQwenBlock } from './qwen.js';

export function qwen3MoeModel(ctx: HfRuleContext): HfModel {
  const target = 'Qwen3MoeForCausalLM';
  requireQwenBlock(ctx, target);
  const moe = requireMoe(ctx, target);
  const normTopk = softmaxRouting(ctx, target, moe);
  if (!ctx.cfg.qkLayernorm) fail('E_UNSUPPORTED', `${target} always has q_norm/k_norm; the checkpoint has no QK-layernorm`, { file: ctx.where });
  const tied = ctx.cfg.shareEmbeddingsAndOutputWeights;
  const tensors = decoderTensors(ctx, { normBias: false, mlp: moeMlp(moe, false), lmHead: !tied, qkNorm: true });
  const aux = ctx.args?.['moe_aux_loss_coeff'];
  return {
    architecture: target,
    modelType: 'qwen3_moe',
    config: {
      ...qwenConfig(ctx),
      attention_bias: ctx.cfg.addQkvBias,
      decoder_sparse_step: 1,
      moe_intermediate_size: moe.ffnHiddenSize,
      num_experts_per_tok: moe.topk,
      num_experts: moe.numExperts,
      norm_topk_prob: normTopk,
      output_router_logits: false,
      router_aux_loss_coef: pyFloat(typeof aux === 'number' ? aux : 0.001),
      mlp_only_layers: moe.layers.flatMap((m, i) => (m ? [] : [i])),
    },
    tensors,
  };
}
