// GPT2LMHeadModel: LayerNorm, learned absolute positions, GeLU, biases everywhere, multi-head attention.
// Its linears are Conv1D modules that store weights as [in, out]: every Megatron [out, in] weight is transposed,
// and c_attn is [q | k | v] (all heads of each) along the output axis.
import { fail } from '../../errors.js';
import { pyFloat } from '../../export/pyjson.js';
import { cat, transpose } from '../../tensor/tensor.js';
import { hfActivation, normAffine, requireDense, requireHeadsSpanHidden, requireLearnedPositions, requireMlp, requireNorm } from '../common.js';
import { layerNames } from '../source.js';
import { splitQkv } from '../split.js';
import type { HfModel, HfRuleContext, HfTensor } from '../types.js';
import { biasOrZeros, lmHead, normTensors, wordEmbeddings } from './parts.js';

export function gpt2Model(ctx: HfRuleContext): HfModel {
  const { cfg, src, where } = ctx;
  const target = 'GPT2LMHeadModel';
  requireNorm(ctx, target, 'LayerNorm');
  requireDense(ctx, target);
  requireLearnedPositions(ctx, target);
  if (cfg.numQueryGroups !== cfg.numAttentionHeads) fail('E_UNSUPPORTED', `${target} has no grouped-query attention (${cfg.numQueryGroups} groups for ${cfg.numAttentionHeads} heads); try --model-type starcoder`, { file: where });
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
    const qkv = splitQkv(w, cfg, m.qkv('weight'));
    out.push({ name: `${h}attn.c_attn.weight`, tensor: transpose(cat([qkv.q, qkv.k, qkv.v], 0)) });
    // Conv1D always has a bias: a bias-free checkpoint gets zeros
    const qkvBias = splitQkv(biasOrZeros(src, m.qkv('bias'), w), cfg, m.qkv('bias'));
    out.push({ name: `${h}attn.c_attn.bias`, tensor: cat([qkvBias.q, qkvBias.k, qkvBias.v], 0) });
    const proj = src.get(m.proj('weight'));
    out.push({ name: `${h}attn.c_proj.weight`, tensor: transpose(proj) });
    out.push({ name: `${h}attn.c_proj.bias`, tensor: biasOrZeros(src, m.proj('bias'), proj) });
    norm(`${h}ln_2`, m.preMlpNorm);
    const fc1 = src.get(m.fc1('weight'));
    out.push({ name: `${h}mlp.c_fc.weight`, tensor: transpose(fc1) });
    out.push({ name: `${h}mlp.c_fc.bias`, tensor: biasOrZeros(src, m.fc1('bias'), fc1) });
    const fc2 = src.get(m.fc2('weight'));
    out.push({ name: `${h}mlp.c_proj.weight`, tensor: transpose(fc2) });
    out.push({ name: `${h}mlp.c_proj.bias`, tensor: biasOrZeros(src, m.fc2('bias'), fc2) });
  }
  norm('transformer.ln_f', (w) => [`decoder.final_layernorm.${w}`]);
  out.push(...lmHead(ctx, false));

  return {
    architecture: target,
    modelType: 'gpt2',
    config: {
      vocab_size: ctx.vocab,
      n_positions: wpe.shape[0],
      n_embd: cfg.hiddenSize,
      n_layer: cfg.numLayers,
      n_head: cfg.numAttentionHeads,
      n_inner: cfg.ffnHiddenSize,
      activation_function: hfActivation(cfg, ctx.args, where, 'gelu_new'),
      layer_norm_epsilon: pyFloat(cfg.layernormEpsilon),
      resid_pdrop: pyFloat(0.0),
      embd_pdrop: pyFloat(0.0),
      attn_pdrop: pyFloat(0.0),
      scale_attn_weights: true,
      scale_attn_by_inverse_layer_idx: false,
      reorder_and_upcast_attn: false,
      bos_token_id: null,
      eos_token_id: null,
      tie_word_embeddings: cfg.shareEmbeddingsAndOutputWeights,
    },
    tensors: out,
  };
}
