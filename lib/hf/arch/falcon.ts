// FalconForCausalLM in its sequential form (parallel_attn false, old decoder architecture): input_layernorm →
// attention → post_attention_layernorm → MLP, as Megatron's GPTModel runs. Falcon's fused query_key_value
// rows are per head [q, k, v] (multi-head) or [q all heads, k, v] (multi-query): exactly Megatron's grouped
// layout with g = heads or g = 1, so the fused weight is copied as is.
import { pyFloat } from '../../export/pyjson.js';
import { hfActivation, normAffine, requireDense, requireHeadsSpanHidden, requireMlp, requireNorm, requireOneOrAllKvHeads, requireRope } from '../common.js';
import { layerNames } from '../source.js';
import type { HfModel, HfRuleContext, HfTensor } from '../types.js';
import { biasOrZeros, lmHead, normTensors, wordEmbeddings } from './parts.js';

export function falconModel(ctx: HfRuleContext): HfModel {
  const { cfg, src, where } = ctx;
  const target = 'FalconForCausalLM';
  requireNorm(ctx, target, 'LayerNorm');
  requireRope(ctx, target, false);
  requireDense(ctx, target);
  const multiQuery = requireOneOrAllKvHeads(ctx, `sequential ${target}`);
  requireHeadsSpanHidden(ctx, target);
  requireMlp(ctx, target, false);

  // Falcon's one `bias` flag covers every linear; a missing bias is written as zeros
  const withBias = cfg.addBiasLinear || cfg.addQkvBias;
  const affine = normAffine(cfg, false);
  const out: HfTensor[] = [];
  const norm = (hf: string, names: (w: 'weight' | 'bias') => string[]) => out.push(...normTensors(src, hf, names, affine, true));
  const linear = (hf: string, megatron: (w: 'weight' | 'bias') => string) => {
    const w = src.get(megatron('weight'));
    out.push({ name: `${hf}.weight`, tensor: w });
    if (withBias) out.push({ name: `${hf}.bias`, tensor: biasOrZeros(src, megatron('bias'), w) });
  };

  out.push({ name: 'transformer.word_embeddings.weight', tensor: wordEmbeddings(ctx) });
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
  out.push(...lmHead(ctx, false));

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
      tie_word_embeddings: cfg.shareEmbeddingsAndOutputWeights,
    },
    tensors: out,
  };
}
