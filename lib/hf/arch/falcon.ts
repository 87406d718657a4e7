// FalconForCausalLM in its sequential form (parallel_attn false, old decoder architecture): input_layernorm →
// attention → post_attention_layernorm → MLP, as Megatron's GPTModel runs. Falcon's fused query_key_value
// rows are per head [q, k, v] (multi-head) or [q all heads, k, v] (multi-query): exactly Megatron's grouped
// layout with g = heads or g = 1, so the fused weight is copied as is.
import { fail } from '../../errors.js';
import { zeros } from '../../tensor/tensor.js';
import { hfActivation, normAffine, requireDense, requireNorm, requireRope } from '../common.js';
import { layerNames } from '../source.js';
import { trimVocab } from '../split.js';
import type { HfModel, HfRuleContext, HfTensor } from '../types.js';
import { pyFloat } from '../../export/pyjson.js';

export function falconModel(ctx: HfRuleContext): HfModel {
  const { cfg, src, where } = ctx;
  const target = 'FalconForCausalLM';
  requireNorm(ctx, target, 'LayerNorm');
  requireRope(ctx, target, false);
  requireDense(ctx, target);
  const multiQuery = cfg.numQueryGroups === 1;
  if (!multiQuery && cfg.numQueryGroups !== cfg.numAttentionHeads) fail('E_UNSUPPORTED', `sequential ${target} has 1 or all KV heads, the checkpoint has ${cfg.numQueryGroups} groups for ${cfg.numAttentionHeads} heads`, { file: where });
  if (cfg.kvChannels * cfg.numAttentionHeads !== cfg.hiddenSize) fail('E_UNSUPPORTED', `${target} needs heads × head dim = hidden size (${cfg.numAttentionHeads} × ${cfg.kvChannels} ≠ ${cfg.hiddenSize})`, { file: where });
  if (cfg.gatedLinearUnit) fail('E_UNSUPPORTED', `${target} has no gated MLP`, { file: where });

  // Falcon's one `bias` flag covers every linear; a missing bias is written as zeros
  const withBias = cfg.addBiasLinear || cfg.addQkvBias;
  const affine = normAffine(cfg, false);
  const out: HfTensor[] = [];
  const norm = (hf: string, names: (w: 'weight' | 'bias') => string[]) => {
    out.push({ name: `${hf}.weight`, tensor: src.get(...names('weight')), ...(affine ? { affine } : {}) });
    out.push({ name: `${hf}.bias`, tensor: src.get(...names('bias')) });
  };
  const linear = (hf: string, megatron: (w: 'weight' | 'bias') => string) => {
    const w = src.get(megatron('weight'));
    out.push({ name: `${hf}.weight`, tensor: w });
    if (withBias) out.push({ name: `${hf}.bias`, tensor: src.maybe(megatron('bias')) ?? zeros(w.dtype, [w.shape[0]!]) });
  };

  out.push({ name: 'transformer.word_embeddings.weight', tensor: trimVocab(src.get('embedding.word_embeddings.weight'), ctx.vocab, 'embedding.word_embeddings.weight') });
  for (let i = 0; i < cfg.numLayers; i++) {
    const m = layerNames(i);
    const h = `transformer.h.${i}.`;
    norm(`${h}input_layernorm`, m.inputNorm);
    linear(`${h}self_attention.query_key_value`, m.qkv);
    linear(`${h}self_attention.dense`, m.proj);
    norm(`${h}post_attention_layernorm`, m.preMlpNorm);
    linear(`${h}mlp.dense_h_to_4h`, m.fc1);
    linear(`${h}mlp.dense_4h_to_h`, m.fc2);
  }
  norm('transformer.ln_f', (w) => [`decoder.final_layernorm.${w}`]);
  const tied = cfg.shareEmbeddingsAndOutputWeights;
  if (tied) src.ignore((n) => n === 'output_layer.weight');
  else out.push({ name: 'lm_head.weight', tensor: trimVocab(src.get('output_layer.weight'), ctx.vocab, 'output_layer.weight') });

  return {
    architecture: target,
    modelType: 'falcon',
    config: {
      vocab_size: ctx.vocab,
      hidden_size: cfg.hiddenSize,
      ffn_hidden_size: cfg.ffnHiddenSize,
      num_hidden_layers: cfg.numLayers,
      num_attention_heads: cfg.numAttentionHeads,
      num_kv_heads: cfg.numQueryGroups,
      multi_query: multiQuery,
      new_decoder_architecture: false,
      parallel_attn: false,
      alibi: false,
      bias: withBias,
      activation: hfActivation(cfg, ctx.args, where),
      layer_norm_epsilon: pyFloat(cfg.layernormEpsilon),
      rope_theta: pyFloat(cfg.rotaryBase),
      max_position_embeddings: cfg.maxPositionEmbeddings,
      hidden_dropout: pyFloat(0.0),
      attention_dropout: pyFloat(0.0),
      bos_token_id: null,
      eos_token_id: null,
      tie_word_embeddings: tied,
    },
    tensors: out,
  };
}
