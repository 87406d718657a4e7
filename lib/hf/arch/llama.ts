// LlamaForCausalLM: RMSNorm, rotary (whole head), gated SiLU MLP, GQA.
import { fail } from '../../errors.js';
import { hfActivation, normAffine, requireDense, requireNorm, requireRope, ropeFields } from '../common.js';
import type { HfModel, HfRuleContext } from '../types.js';
import { decoderTensors } from './decoder.js';
import { pyFloat } from '../../export/pyjson.js';

export function llamaModel(ctx: HfRuleContext): HfModel {
  const { cfg } = ctx;
  const target = 'LlamaForCausalLM';
  requireNorm(ctx, target, 'RMSNorm');
  requireRope(ctx, target, false);
  requireDense(ctx, target);
  if (!cfg.gatedLinearUnit) fail('E_UNSUPPORTED', `${target} has a gated MLP; the checkpoint's MLP is not gated`, { file: ctx.where });
  const tensors = decoderTensors(ctx, { normBias: false, normAffine: normAffine(cfg, false), mlp: 'gated', lmHead: true });
  return {
    architecture: target,
    modelType: 'llama',
    config: {
      vocab_size: ctx.vocab,
      hidden_size: cfg.hiddenSize,
      intermediate_size: cfg.ffnHiddenSize,
      num_hidden_layers: cfg.numLayers,
      num_attention_heads: cfg.numAttentionHeads,
      num_key_value_heads: cfg.numQueryGroups,
      head_dim: cfg.kvChannels,
      hidden_act: hfActivation(cfg, ctx.args, ctx.where),
      max_position_embeddings: cfg.maxPositionEmbeddings,
      rms_norm_eps: pyFloat(cfg.layernormEpsilon),
      ...ropeFields(cfg),
      attention_bias: cfg.addQkvBias,
      attention_dropout: pyFloat(0.0),
      mlp_bias: cfg.addBiasLinear,
      pretraining_tp: 1,
      tie_word_embeddings: false,
    },
    tensors,
  };
}
