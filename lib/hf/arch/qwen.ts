// Qwen2ForCausalLM (bias on q/k/v only, o_proj without) and Qwen3ForCausalLM (QK-norm: q_norm / k_norm per head,
// head_dim set on its own): RMSNorm, rotary over the whole head, GQA, SwiGLU, tied or untied embeddings.
import { fail } from '../../errors.js';
import { pyFloat, type PyJson } from '../../export/pyjson.js';
import { requireDense, requireMlp, requireNorm, requireRope, ropeFields } from '../common.js';
import type { HfModel, HfRuleContext } from '../types.js';
import { decoderConfig, decoderTensors } from './decoder.js';

/** What Qwen2, Qwen3 and Qwen3-MoE share: plain RMSNorm, whole-head rope, a gated SiLU MLP, no MLP biases. */
export function requireQwenBlock(ctx: HfRuleContext, target: string): void {
  requireNorm(ctx, target, 'RMSNorm');
  requireRope(ctx, target, false);
  requireMlp(ctx, target, true);
  if (ctx.cfg.layernormZeroCenteredGamma) fail('E_UNSUPPORTED', `${target} stores plain RMSNorm gammas; the checkpoint's are zero-centred`, { file: ctx.where });
  if (ctx.cfg.addBiasLinear) fail('E_UNSUPPORTED', `${target} has no bias on o_proj or the MLP; the checkpoint has them (add_bias_linear)`, { file: ctx.where });
}

/** Config fields the Qwen family shares after decoderConfig. */
export function qwenConfig(ctx: HfRuleContext): Record<string, PyJson> {
  const { cfg } = ctx;
  return {
    ...decoderConfig(ctx),
    rms_norm_eps: pyFloat(cfg.layernormEpsilon),
    ...ropeFields(cfg),
    attention_dropout: pyFloat(0.0),
    use_sliding_window: false,
    sliding_window: null,
    tie_word_embeddings: cfg.shareEmbeddingsAndOutputWeights,
  };
}

export function qwen2Model(ctx: HfRuleContext): HfModel {
  const target = 'Qwen2ForCausalLM';
  requireQwenBlock(ctx, target);
  requireDense(ctx, target);
  if (!ctx.cfg.addQkvBias) fail('E_UNSUPPORTED', `${target} always has q/k/v biases; the checkpoint has none (export it as llama)`, { file: ctx.where });
  if (ctx.cfg.qkLayernorm) fail('E_UNSUPPORTED', `${target} has no QK-layernorm; the checkpoint has one`, { file: ctx.where });
  const tied = ctx.cfg.shareEmbeddingsAndOutputWeights;
  const tensors = decoderTensors(ctx, { normBias: false, mlp: 'gated', lmHead: !tied, oProjBias: 'never' });
  return { architecture: target, modelType: 'qwen2', config: qwenConfig(ctx), tensors };
}

export function qwen3Model(ctx: HfRuleContext): HfModel {
  const target = 'Qwen3ForCausalLM';
  requireQwenBlock(ctx, target);
  requireDense(ctx, target);
  if (!ctx.cfg.qkLayernorm) fail('E_UNSUPPORTED', `${target} always has q_norm/k_norm; the checkpoint has no QK-layernorm`, { file: ctx.where });
  const tied = ctx.cfg.shareEmbeddingsAndOutputWeights;
  const tensors = decoderTensors(ctx, { normBias: false, mlp: 'gated', lmHead: !tied, qkNorm: true });
  // attention_bias covers q/k/v and o_proj; a QKV-only bias gets a zero o_proj bias
  return { architecture: target, modelType: 'qwen3', config: { ...qwenConfig(ctx), attention_bias: ctx.cfg.addQkvBias }, tensors };
}
