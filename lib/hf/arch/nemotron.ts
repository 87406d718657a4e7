// NemotronForCausalLM for GPT-Next: LayerNorm with zero-centred gamma (NemotronLayerNorm1P adds the 1 at run
// time, so Megatron's stored gamma goes in unchanged), partial rotary, non-gated MLP (squared ReLU).
import { normAffine, requireDense, requireMlp, requireNorm, requireRope } from '../common.js';
import type { HfModel, HfRuleContext } from '../types.js';
import { decoderConfig, decoderTensors } from './decoder.js';
import { pyFloat } from '../../export/pyjson.js';

export function nemotronModel(ctx: HfRuleContext): HfModel {
  const { cfg } = ctx;
  const target = 'NemotronForCausalLM';
  requireNorm(ctx, target, 'LayerNorm');
  requireRope(ctx, target, true);
  requireDense(ctx, target);
  requireMlp(ctx, target, false);
  const tensors = decoderTensors(ctx, { normBias: true, normAffine: normAffine(cfg, true), mlp: 'plain', lmHead: true });
  return {
    architecture: target,
    modelType: 'nemotron',
    config: {
      ...decoderConfig(ctx),
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
