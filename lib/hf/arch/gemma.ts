// GemmaForCausalLM: RMSNorm with zero-centred gamma (GemmaRMSNorm multiplies by 1 + weight), gated GeLU MLP,
// tied embeddings. Note: transformers' Gemma scales the embeddings by sqrt(hidden_size); Megatron's GPTModel
// does not, so only checkpoints that came from Gemma (as TensorRT-LLM's gemma export assumes) keep their outputs.
import { fail } from '../../errors.js';
import { normAffine, requireDense, requireMlp, requireNorm, requireRope, ropeFields } from '../common.js';
import type { HfModel, HfRuleContext } from '../types.js';
import { decoderConfig, decoderTensors } from './decoder.js';
import { pyFloat } from '../../export/pyjson.js';

export function gemmaModel(ctx: HfRuleContext): HfModel {
  const { cfg } = ctx;
  const target = 'GemmaForCausalLM';
  requireNorm(ctx, target, 'RMSNorm');
  requireRope(ctx, target, false);
  requireDense(ctx, target);
  requireMlp(ctx, target, true);
  if (cfg.addBiasLinear) fail('E_UNSUPPORTED', `${target} has no MLP biases; the checkpoint has them`, { file: ctx.where });
  const tied = cfg.shareEmbeddingsAndOutputWeights;
  const tensors = decoderTensors(ctx, { normBias: false, normAffine: normAffine(cfg, true), mlp: 'gated', lmHead: !tied });
  const base = decoderConfig(ctx);
  return {
    architecture: target,
    modelType: 'gemma',
    config: {
      ...base,
      // GemmaConfig rewrites hidden_act 'gelu' to the tanh form; 'gelu_python' is the exact erf GeLU under another name
      hidden_act: base['hidden_act'] === 'gelu' ? 'gelu_python' : base['hidden_act']!,
      rms_norm_eps: pyFloat(cfg.layernormEpsilon),
      ...ropeFields(cfg),
      attention_bias: cfg.addQkvBias,
      attention_dropout: pyFloat(0.0),
      tie_word_embeddings: tied,
    },
    tensors,
  };
}
