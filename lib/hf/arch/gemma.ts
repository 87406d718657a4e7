// GemmaForCausalLM: RMSNorm with zero-centred gamma (GemmaRMSNorm multiplies by 1 + weight), gated GeLU MLP,
// tied embeddings. Note: transformers' Gemma scales the embeddings by sqrt(hidden_size); Megatron's GPTModel
// does not, so only checkpoints that came from Gemma (as TensorRT-LLM's gemma export assumes) keep their outputs.
import { fail } from '../../errors.js';
import { hfActivation, normAffine, requireDense, requireNorm, requireRope, ropeFields } from '../common.js';
import type { HfModel, HfRuleContext } from '../types.js';
import { decoderTensors } from './decoder.js';
import { pyFloat } from '../../export/pyjson.js';

export function gemmaModel(ctx: HfRuleContext): HfModel {
  const { cfg } = ctx;
  const target = 'GemmaForCausalLM';
  requireNorm(ctx, target, 'RMSNorm');
  requireRope(ctx, target, false);
  requireDense(ctx, target);
  if (!cfg.gatedLinearUnit) fail('E_UNSUPPORTED', `${target} has a gated MLP; the checkpoint's MLP is not gated`, { file: ctx.where });
  if (cfg.addBiasLinear) fail('E_UNSUPPORTED', `${target} has no MLP biases; the checkpoint has them`, { file: ctx.where });
  const tied = cfg.shareEmbeddingsAndOutputWeights;
  const tensors = decoderTensors(ctx, { normBias: false, normAffine: normAffine(cfg, true), mlp: 'gated', lmHead: !tied });
  // GemmaConfig rewrites hidden_act 'gelu' to the tanh form; 'gelu_python' is the exact erf GeLU under another name
  const act = hfActivation(cfg, ctx.args, ctx.where);
  return {
    architecture: target,
    modelType: 'gemma',
    config: {
      vocab_size: ctx.vocab,
      hidden_size: cfg.hiddenSize,
      intermediate_size: cfg.ffnHiddenSize,
      num_hidden_layers: cfg.numLayers,
      num_attention_heads: cfg.numAttentionHeads,
      num_key_value_heads: cfg.numQueryGroups,
      head_dim: cfg.kvChannels,
      hidden_act: act === 'gelu' ? 'gelu_python' : act,
      max_position_embeddings: cfg.maxPositionEmbeddings,
      rms_norm_eps: pyFloat(cfg.layernormEpsilon),
      ...ropeFields(cfg),
      attention_bias: cfg.addQkvBias,
      attention_dropout: pyFloat(0.0),
      tie_word_embeddings: tied,
    },
    tensors,
  };
}
