// GPTBigCodeForCausalLM (StarCoder): GPT-2's block with nn.Linear weights ([out, in], no transposition).
// Its c_attn rows are [q all heads, k, v] with multi-query attention and per head [q, k, v] with multi-head
// attention: Megatron's grouped layout with g = 1 or g = heads, so the fused QKV is copied as is (the
// interop logits caught a q|k|v regrouping here).
import { pyFloat } from '../../export/pyjson.js';
import { hfActivation, normAffine, requireDense, requireHeadsSpanHidden, requireLearnedPositions, requireMlp, requireNorm, requireOneOrAllKvHeads } from '../common.js';
import { layerNames } from '../source.js';
import type { HfModel, HfRuleContext, HfTensor } from '../types.js';
import { biasOrZeros, lmHead, normTensors, wordEmbeddings } from './parts.js';

export function bigcodeModel(ctx: HfRuleContext): HfModel {
  const { cfg, src, where } = ctx;
  const target = 'GPTBigCodeForCausalLM';
  requireNorm(ctx, target, 'LayerNorm');
  requireDense(ctx, target);
  requireLearnedPositions(ctx, target);
  const multiQuery = requireOneOrAllKvHeads(ctx, target);
  requireHeadsSpanHidden(ctx, target);
  requireMlp(ctx, target, false);

  const affine = normAffine(cfg, false);
  const out: HfTensor[] = [];
  const norm = (hf: string, names: (w: 'weight' | 'bias') => string[]) => out.push(...normTensors(src, hf, names, affine, true));

  out.push({ name: 'transformer.wte.weight', tensor: wordEmbeddings(ctx) });
  const wpe = src.get('embedding.position_embeddings.weight');
  out.push({ name: 'transformer.wpe.weight', tensor: wpe });
  for (let i = 0; i < cfg.numLayers; i++) {
    const m = layerNames(i);
    const h = `transformer.h.${i}.`;
    norm(`${h}ln_1`, m.inputNorm);
    const w = src.get(m.qkv('weight'));
    out.push({ name: `${h}attn.c_attn.weight`, tensor: w }, { name: `${h}attn.c_attn.bias`, tensor: biasOrZeros(src, m.qkv('bias'), w) });
    const proj = src.get(m.proj('weight'));
    out.push({ name: `${h}attn.c_proj.weight`, tensor: proj }, { name: `${h}attn.c_proj.bias`, tensor: biasOrZeros(src, m.proj('bias'), proj) });
    norm(`${h}ln_2`, m.preMlpNorm);
    const fc1 = src.get(m.fc1('weight'));
    out.push({ name: `${h}mlp.c_fc.weight`, tensor: fc1 }, { name: `${h}mlp.c_fc.bias`, tensor: biasOrZeros(src, m.fc1('bias'), fc1) });
    const fc2 = src.get(m.fc2('weight'));
    out.push({ name: `${h}mlp.c_proj.weight`, tensor: fc2 }, { name: `${h}mlp.c_proj.bias`, tensor: biasOrZeros(src, m.fc2('bias'), fc2) });
  }
  norm('transformer.ln_f', (w) => [`decoder.final_layernorm.${w}`]);
  out.push(...lmHead(ctx, false));

  return {
    architecture: target,
    modelType: 'gpt_bigcode',
    config: {
      vocab_size: ctx.vocab,
      n_positions: wpe.shape[0],
      n_embd: cfg.hiddenSize,
      n_layer: cfg.numLayers,
      n_head: cfg.numAttentionHeads,
      n_inner: cfg.ffnHiddenSize,
      multi_query: multiQuery,
      activation_function: hfActivation(cfg, ctx.args, where),
      layer_norm_epsilon: pyFloat(cfg.layernormEpsilon),
      resid_pdrop: pyFloat(0.0),
      embd_pdrop: pyFloat(0.0),
      attn_pdrop: pyFloat(0.0),
      scale_attn_weights: true,
      attention_softmax_in_fp32: true,
      scale_attention_softmax_in_fp32: true,
      bos_token_id: null,
      eos_token_id: null,
      tie_word_embeddings: cfg.shareEmbeddingsAndOutputWeights,
    },
    tensors: out,
  };
}
