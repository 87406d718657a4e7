// NemotronForCausalLM for GPT-Next: LayerNorm with zero-centred gamma (NemotronLayerNorm1P adds the 1 at run
// time, so Megatron's stored gamma goes in unchanged), partial rotary, non-gated MLP (squared ReLU).
import { fail } from '../../errors.js';
import { hfActivation, normAffine, requireDense, requireNorm, requireRope } from '../common.js';
import type { HfModel, HfRuleContext } from '../types.js';
import { decoderTensors } from './decoder.js';
import { pyFloat } from '../../export/pyjson.js';

export function nemotronModel(ctx: HfRuleContext): HfModel {
  const { cfg } = ctx;
  const target = 'NemotronForCausalLM';
  requireNorm(ctx, target, 'LayerNorm');
  requireRope(ctx, target, true);
  requireDense(ctx, target);
  if (cfg.gatedLinearUnit) fail('E_UNSUPPORTED', `${target} has a plain (non-gated) MLP; the checkpoint's is gated`, { file: ctx.where });
  const tensors = decoderTensors(ctx, { normBias: true, normAffine: normAffine(cfg, true), mlp: 'plain', lmHead: true });
  return {
    architecture: target,
    modelType: 'nemotron',
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
      norm_eps: pyFloat(cfg.layernormEpsilon),
      rope_theta: pyFloat(cfg.rotaryBase),
      partial_rotary_factor: pyFloat(cfg.rotaryPercent),
      attention_bias: cfg.addQkvBias,
      attention_dropout: pyFloat(0.0),
      mlp_bias: cfg.addBiasLinear,
      tie_word_embeddings: false,
    },
    tensors,
  };
}
