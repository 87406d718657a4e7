// Megatron's multi-token-prediction layers in DeepSeek-V3's Hub slots (the only target here that has them).
//
// Megatron (multi_token_prediction.py at d98e8a64, MultiTokenPredictionLayer): layer k holds enorm, hnorm
// (norms of the next token's embedding and of the previous hidden state), eh_proj [H, 2H] applied to
// cat(enorm(embedding), hnorm(hidden)) (_concat_embeddings), one TransformerLayer built from the decoder's last
// layer spec (gpt_layer_specs.py get_gpt_mtp_block_spec_for_backend) and final_layernorm; it reads the model's
// embedding and output layer (GPTModel passes them in).
//
// DeepSeek-V3's Hub layout, as vLLM reads it (deepseek_mtp.py DeepSeekMultiTokenPredictorLayer and
// DeepSeekMTP._rewrite_spec_layer_name) and transformers 5.x's MtpModel (modeling_layers.py, with the
// deepseek_v3 renames of conversion_mapping.py): model.layers.<L+k>.{enorm, hnorm, eh_proj (same cat order),
// shared_head.norm (= final_layernorm), shared_head.head (= the output layer), embed_tokens (the shared
// embedding, repeated per MTP layer; vLLM loads the first)} plus that layer's ordinary attention/MLP weights.
// num_nextn_predict_layers says how many. Both readers build the MTP block's MLP as MoE (vLLM: index L+k ≥
// first_k_dense_replace; transformers' get_mtp_config sets first_k_dense_replace to 0), so only MoE MTP layers
// have a place.
import { fail } from '../../errors.js';
import type { MoeConfig } from '../../megatron/types.js';
import type { HfRuleContext, HfTensor } from '../types.js';
import { decoderLayer, type DecoderShape } from './decoder.js';
import { lmHead, wordEmbeddings } from './parts.js';

const MTP_KEY = /^mtp\.layers\.(\d+)\./;

/** Indices k of the checkpoint's `mtp.layers.<k>.*` (0..n-1 checked), n agreeing with mtp_num_layers when given. */
export function mtpLayerCount(ctx: HfRuleContext, names: Iterable<string>): number {
  const seen = new Set<number>();
  for (const n of names) {
    const m = MTP_KEY.exec(n);
    if (m) seen.add(Number(m[1]));
  }
  for (let k = 0; k < seen.size; k++) if (!seen.has(k)) fail('E_FORMAT', `multi-token-prediction layer ${k} is missing while ${seen.size} are present`, { file: ctx.where });
  const declared = ctx.cfg.mtpNumLayers;
  if (seen.size > 0 && declared && declared !== seen.size) {
    // mtp_use_repeated_layer stores one layer applied mtp_num_layers times: not DeepSeek-V3's layout
    fail('E_UNSUPPORTED', `the checkpoint stores ${seen.size} multi-token-prediction layer(s), mtp_num_layers is ${declared} (a repeated MTP layer has no DeepSeek-V3 slot)`, { file: ctx.where });
  }
  return seen.size;
}

/** Why the MTP layers have no DeepSeek-V3 slot (left out with a note), or null when they do. */
export function mtpNoSlot(ctx: HfRuleContext, count: number, moe: MoeConfig | undefined): string | null {
  if (!moe) return 'DeepSeek-V3 builds its multi-token-prediction blocks with an MoE MLP; this model has no experts';
  for (let k = 0; k < count; k++) {
    if (!ctx.src.has(`mtp.layers.${k}.transformer_layer.mlp.router.weight`)) return `DeepSeek-V3 builds its multi-token-prediction blocks with an MoE MLP; MTP layer ${k} is dense`;
  }
  return null;
}

/**
 * The `count` MTP layers as `model.layers.<L+k>.*`. `shape` is the decoder's, its MLP told that layers L.. are
 * MoE; the inner layer is read through `decoder.layers.<L+k>.` names renamed to `mtp.layers.<k>.transformer_layer.`.
 */
export function deepseekMtpTensors(ctx: HfRuleContext, shape: DecoderShape, count: number): HfTensor[] {
  const L = ctx.cfg.numLayers;
  const H = ctx.cfg.hiddenSize;
  const out: HfTensor[] = [];
  if (count === 0) return out;
  const head = lmHead(ctx, true)[0]!.tensor;
  for (let k = 0; k < count; k++) {
    const i = L + k;
    const p = `mtp.layers.${k}.`;
    const h = `model.layers.${i}.`;
    const eh = ctx.src.get(`${p}eh_proj.weight`);
    if (eh.shape.length !== 2 || eh.shape[0] !== H || eh.shape[1] !== 2 * H) fail('E_SHAPE', `eh_proj is [${eh.shape.join(', ')}], expected [${H}, ${2 * H}]`, { file: ctx.where, tensor: `${p}eh_proj.weight` });
    out.push(
      { name: `${h}embed_tokens.weight`, tensor: wordEmbeddings(ctx) },
      { name: `${h}enorm.weight`, tensor: ctx.src.get(`${p}enorm.weight`) },
      { name: `${h}hnorm.weight`, tensor: ctx.src.get(`${p}hnorm.weight`) },
      { name: `${h}eh_proj.weight`, tensor: eh },
    );
    const inner = { ...ctx, src: ctx.src.renamed(`decoder.layers.${i}.`, `${p}transformer_layer.`) };
    out.push(...decoderLayer(inner, shape, i));
    out.push({ name: `${h}shared_head.norm.weight`, tensor: ctx.src.get(`${p}final_layernorm.weight`) }, { name: `${h}shared_head.head.weight`, tensor: head });
  }
  return out;
}
