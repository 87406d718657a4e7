// LlamaForCausalLM: RMSNorm, rotary (whole head), gated SiLU MLP, GQA.
import { normAffine, requireDense, requireMlp, requireNorm, requireRope, ropeFields } from '../common.js';
import type { HfModel, HfRuleContext } from '../types.js';
import { decoderConfig, decoderTensors } from './decoder.js';
import { pyFloat } from '../../export/pyjson.js';

export function llamaModel(ctx: HfRuleContext): HfModel {
  const { cfg } = ctx;
  const target = 'LlamaForCausalLM';
  requireNorm(ctx, target, 'RMSNorm');
  requireRope(ctx, target, false);
  requireDense(ctx, target);
  requireMlp(ctx, target, true);
  const tensors = decoderTensors(ctx, { normBias: false, normAffine: normAffine(cfg, false), mlp: 'gated', lmHead: true });
  return {
    architecture: target,
    modelType: 'llama',
    config: {
      ...decoderConfig(ctx),
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
