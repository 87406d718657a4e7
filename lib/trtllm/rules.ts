import { fail } from '../errors.js';
import type { ModelType, TransformerConfig } from '../megatron/types.js';
import type { Affine } from '../plan/plan.js';
import type { DType } from '../tensor/dtype.js';
import { fmtShape } from '../tensor/shape.js';
import * as T from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';
import { isGated } from './activation.js';
import { trtBiasFlags, zeroMissingBiases } from './biases.js';
import type { ConversionDict } from './conversion-dict.js';
import type { ConvertedWeight } from './converted-weight.js';
import { splitLayerNumber, TRTLLMLayers, type TRTLLMLayer, withLayerNumber } from './layers.js';
import { plusOneInFloat32 } from './norm-plus-one.js';

/** What the rules need to know; everything else about the model comes from the tensors themselves. */
export interface RuleSettings {
  readonly config: TransformerConfig;
  readonly modelType: ModelType;
  /** TRTLLMHelper's `activation` (swiglu, geglu, gelu, squared-relu, ...) */
  readonly activation: string;
  readonly tpSize: number;
  readonly dtype: DType;
  readonly useParallelEmbedding: boolean;
  readonly embeddingShardingDim: 0 | 1;
  /** tokenizer vocabulary: embedding and lm_head rows beyond it are dropped (Megatron's training padding) */
  readonly vocabSize?: number | undefined;
  /**
   * Reproduce Megatron's converter where it differs from what TensorRT-LLM 1.x needs (layernorm-1p's +1 in the
   * parameter dtype, no lm_head for tied embeddings, no zero biases). Off by default.
   */
  readonly megatronCompat?: boolean | undefined;
  /** write `lm_head` from the word embeddings when the state dict has no output layer (tied models) */
  readonly tiedLmHead?: boolean | undefined;
  /**
   * The TensorRT-LLM class the weights are for when not the model type's own: QWenForCausalLM declares exactly the
   * biases the checkpoint has (attn_bias = the QKV bias, never a dense bias), so no zero biases are added for it.
   */
  readonly family?: 'classic' | 'qwen' | undefined;
}

export type { ConvertedWeight };

export type MegatronStateDict = ReadonlyMap<string, Tensor>;

const EXPERT_KEY = /^(.*\.mlp\.experts)\.local_experts\.(\d+)\.(.+)$/;
/** TEGroupedMLP's spelling of expert e: `...mlp.experts.linear_fc1.weight<e>` */
const GROUPED_EXPERT_KEY = /^(.*\.mlp\.experts)\.(linear_fc[12])\.weight(\d+)$/;

/**
 * Megatron stores MoE experts as `...mlp.experts.local_experts.<e>.linear_fc1.weight` (SequentialMLP) or
 * `...mlp.experts.linear_fc1.weight<e>` (TEGroupedMLP) — stacked here into `...mlp.experts.experts.linear_fc1.weight`
 * [experts, ...], the name Megatron's conversion dict knows.
 */
export function stackLocalExperts(sd: MegatronStateDict): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const groups = new Map<string, Map<number, Tensor>>();
  for (const [name, t] of sd) {
    const m = EXPERT_KEY.exec(name);
    const g = m ? null : GROUPED_EXPERT_KEY.exec(name);
    if (!m && !g) {
      out.set(name, t);
      continue;
    }
    const key = m ? `${m[1]}.experts.${m[3]}` : `${g![1]}.experts.${g![2]}.weight`;
    let experts = groups.get(key);
    if (!experts) groups.set(key, (experts = new Map()));
    const e = Number(m ? m[2] : g![3]);
    if (experts.has(e)) fail('E_FORMAT', `two checkpoint tensors hold expert ${e} of ${key}`, { tensor: name });
    experts.set(e, t);
  }
  for (const [key, experts] of groups) {
    const n = experts.size;
    const parts: Tensor[] = [];
    for (let e = 0; e < n; e++) {
      const t = experts.get(e);
      if (!t) fail('E_FORMAT', `expert ${e} of ${n} is missing`, { tensor: key.replace('.experts.experts.', `.experts.local_experts.${e}.`) });
      parts.push(T.unsqueeze(t, 0));
    }
    out.set(key, T.cat(parts, 0));
  }
  return out;
}

/** Renames Megatron keys to TensorRT-LLM layer names (layer numbers kept); an unknown key is an error. */
export function renameToTrtllm(sd: MegatronStateDict, dict: ConversionDict): Map<string, { layer: TRTLLMLayer; number: number | null; tensor: Tensor; source: string }> {
  const out = new Map<string, { layer: TRTLLMLayer; number: number | null; tensor: Tensor; source: string }>();
  for (const [name, tensor] of stackLocalExperts(sd)) {
    if (name.includes('_extra_state') || name.includes('adapter_layer')) continue;
    const { base, layer: number } = splitLayerNumber(name);
    const layer = dict[base];
    if (layer === undefined) fail('E_UNSUPPORTED', `no TensorRT-LLM layer for '${base}'; map it in trtllmConversionDict`, { tensor: name });
    const trt = number === null ? TRTLLMLayers[layer] : withLayerNumber(TRTLLMLayers[layer], number);
    if (out.has(trt)) fail('E_FORMAT', `two checkpoint tensors map to ${trt}`, { tensor: name });
    out.set(trt, { layer, number, tensor, source: name });
  }
  return out;
}

export function padVocabSize(v: number, tp: number): number {
  return Math.ceil(v / tp) * tp;
}

function padRows(t: Tensor, rows: number): Tensor {
  const have = t.shape[0]!;
  if (rows <= have) return rows < have ? T.narrow(t, 0, 0, rows) : t;
  return T.cat([t, T.zeros(t.dtype, [rows - have, ...t.shape.slice(1)])], 0);
}

function chunkExact(t: Tensor, n: number, dim: number, what: string, source: string): Tensor[] {
  if (t.shape[dim]! % n !== 0) fail('E_CONFIG', `${what}: dimension ${dim} of ${fmtShape(t.shape)} does not split into ${n} tensor-parallel parts`, { tensor: source });
  return T.chunk(t, n, dim);
}

/** Number of KV heads as Megatron counts them (num_query_groups, or heads when 0). */
export function kvHeads(config: TransformerConfig): number {
  return config.numQueryGroups > 0 ? config.numQueryGroups : config.numAttentionHeads;
}

/**
 * Fused QKV rows for each TP rank: [this rank's Q heads; its K heads; its V heads]. Megatron's rows are grouped
 * per KV group [q×(nq/nkv), k, v]; when nkv < tp each KV head is repeated tp/nkv times (h0,h0,h1,h1).
 */
export function qkvPerRank(t: Tensor, nq: number, nkv: number, hd: number, tp: number, source: string): Tensor[] {
  const q = nq / nkv;
  const groupRows = (q + 2) * hd;
  if (t.shape[0] !== nkv * groupRows) fail('E_SHAPE', `QKV has ${t.shape[0]} rows, expected ${nkv}×(${q}+2)×${hd} = ${nkv * groupRows}`, { tensor: source });
  const heads = (g: number, slot: number, count: number) => T.narrow(t, 0, g * groupRows + slot * hd, count * hd);
  const qPerRank = nq / tp;
  const out: Tensor[] = [];
  for (let r = 0; r < tp; r++) {
    const parts: Tensor[] = [];
    for (let i = r * qPerRank, end = (r + 1) * qPerRank; i < end; ) {
      const g = Math.floor(i / q);
      const s = i % q;
      const n = Math.min(q - s, end - i);
      parts.push(heads(g, s, n));
      i += n;
    }
    const groups = nkv >= tp ? Array.from({ length: nkv / tp }, (_, k) => (r * nkv) / tp + k) : [Math.floor((r * nkv) / tp)];
    for (const g of groups) parts.push(heads(g, q, 1));
    for (const g of groups) parts.push(heads(g, q + 1, 1));
    out.push(T.cat(parts, 0));
  }
  return out;
}

/** Refuses a TP size the attention heads cannot be split or duplicated for (Megatron's message, coded). */
export function checkTensorParallel(config: TransformerConfig, tp: number): void {
  const nkv = kvHeads(config);
  const nq = config.numAttentionHeads;
  if (!Number.isInteger(tp) || tp < 1) fail('E_CONFIG', `tensor-parallel size must be a positive integer, got ${tp}`);
  if ((nkv < tp && tp % nkv !== 0) || (nkv >= tp && nkv % tp !== 0)) {
    fail('E_CONFIG', `number of query groups of the model is ${nkv}: tensor parallelism ${tp} can neither split nor duplicate them evenly`);
  }
  if (nq % tp !== 0) fail('E_CONFIG', `${nq} attention heads do not split into ${tp} tensor-parallel ranks`);
}

/**
 * Converts every tensor of a (logical, TP1-named) Megatron state dict into TensorRT-LLM weights, split per TP
 * rank where TensorRT-LLM splits them. Pure metadata: no bytes are read.
 */
export function convertWeights(sd: MegatronStateDict, dict: ConversionDict, s: RuleSettings): ConvertedWeight[] {
  const { config, tpSize: tp } = s;
  checkTensorParallel(config, tp);
  const nq = config.numAttentionHeads;
  const nkv = kvHeads(config);
  const gated = isGated(s.activation, config);
  const zeroCentred = config.layernormZeroCenteredGamma;
  // Megatron: `+1` in the parameter dtype (the plan's affine rounds to the source dtype); default: in float32
  const normWeight = (t: Tensor): { t: Tensor; affine?: Affine } => (!zeroCentred ? { t } : s.megatronCompat ? { t, affine: { add: 1 } } : { t: plusOneInFloat32(t) });
  const out: ConvertedWeight[] = [];
  const emit = (name: string, layer: number | null, parts: Tensor[], split: boolean, extra: { dtype?: DType; affine?: Affine | undefined; vocabRows?: number } = {}) =>
    out.push({ name, layer, parts, split, dtype: extra.dtype ?? s.dtype, affine: extra.affine, ...(extra.vocabRows !== undefined ? { vocabRows: extra.vocabRows } : {}) });

  const renamed = renameToTrtllm(sd, dict);
  const vocabRows = (t: Tensor) => (s.vocabSize !== undefined ? padRows(t, checkVocab(s.vocabSize, t)) : t);

  for (const [name, { layer, number, tensor: t, source }] of renamed) {
    switch (layer) {
      case 'vocab_embedding':
      case 'position_embedding': {
        const rows = layer === 'vocab_embedding' ? vocabRows(t) : t;
        const x = layer === 'vocab_embedding' ? { vocabRows: rows.shape[0]! } : {};
        if (!s.useParallelEmbedding || tp === 1) emit(name, null, [rows], false, x);
        else if (s.embeddingShardingDim === 1) emit(name, null, chunkExact(rows, tp, 1, 'embedding columns', source), true, x);
        // dim 0: every rank holds ceil(rows/tp) rows (TRT:`layers/embedding.py` Embedding), the last zero-padded
        else emit(name, null, T.chunk(padRows(rows, padVocabSize(rows.shape[0]!, tp)), tp, 0), true, x);
        break;
      }
      case 'lm_head':
        emit(name, null, lmHeadParts(vocabRows(t), tp), tp > 1);
        break;
      case 'final_layernorm_weight':
      case 'input_layernorm_weight':
      case 'post_layernorm_weight':
      case 'attention_q_layernorm_weight': // [head dim], the same on every rank (QWen's convert_hf_qwen)
      case 'attention_k_layernorm_weight': {
        const n = normWeight(t);
        emit(name, number, [n.t], false, { affine: n.affine });
        break;
      }
      case 'final_layernorm_bias':
      case 'input_layernorm_bias':
      case 'post_layernorm_bias':
      case 'attention_dense_bias':
      case 'mlp_projection_bias':
        emit(name, number, [t], false);
        break;
      case 'mlp_router_weight':
        // TensorRT-LLM's MoE router is a float32 RowLinear (Megatron casts it to the model dtype).
        emit(name, number, [t], false, { dtype: 'float32' });
        break;
      case 'attention_dense_weight':
      case 'mlp_projection_weight':
      case 'mlp_shared_expert_proj_weight':
        emit(name, number, chunkExact(t, tp, 1, 'row-parallel input features', source), tp > 1);
        break;
      case 'mlp_fc_weight':
      case 'mlp_fc_bias': {
        if (gated) {
          const [act, lin] = chunkExact(t, 2, 0, 'gated linear_fc1 halves', source) as [Tensor, Tensor];
          emit(name.replace('mlp.fc', 'mlp.gate'), number, chunkExact(lin, tp, 0, 'gate rows', source), tp > 1);
          emit(name, number, chunkExact(act, tp, 0, 'fc rows', source), tp > 1);
        } else emit(name, number, chunkExact(t, tp, 0, 'fc rows', source), tp > 1);
        break;
      }
      case 'attention_qkv_weight':
      case 'attention_qkv_bias': {
        const hd = t.shape[0]! / (nkv * (nq / nkv + 2));
        if (!Number.isInteger(hd)) fail('E_SHAPE', `QKV rows ${t.shape[0]} do not hold ${nq} query + 2×${nkv} KV heads`, { tensor: source });
        emit(name, number, qkvPerRank(t, nq, nkv, hd, tp, source), tp > 1);
        break;
      }
      case 'mlp_fc_weight_mixture_of_experts': {
        // [E, 2F, H]: the activated half first in Megatron; TensorRT-LLM's MoE fc wants [linear; activated] per rank.
        const base = name.replace('.expert', '');
        if (gated) {
          const [w1, w3] = chunkExact(t, 2, 1, 'expert linear_fc1 halves', source) as [Tensor, Tensor];
          const a = chunkExact(w1, tp, 1, 'expert fc rows', source);
          const b = chunkExact(w3, tp, 1, 'expert fc rows', source);
          emit(base, number, a.map((x, r) => T.cat([b[r]!, x], 1)), tp > 1);
        } else emit(base, number, chunkExact(t, tp, 1, 'expert fc rows', source), tp > 1);
        break;
      }
      case 'mlp_shared_expert_fc_weight': {
        // Megatron [gate; up]; TensorRT-LLM's swiglu MLP fc per rank [up_r; gate_r] (QWen convert_hf_qwen)
        const [act, lin] = chunkExact(t, 2, 0, 'shared expert linear_fc1 halves', source) as [Tensor, Tensor];
        const a = chunkExact(act, tp, 0, 'shared expert fc rows', source);
        const b = chunkExact(lin, tp, 0, 'shared expert fc rows', source);
        emit(name, number, b.map((x, r) => T.cat([x, a[r]!], 0)), tp > 1);
        break;
      }
      case 'mlp_shared_expert_gate_weight': // RowLinear(H, 1, tp_size=1): whole on every rank
        emit(name, number, [t], false);
        break;
      case 'mlp_projection_weight_mixture_of_experts':
        emit(name.replace('.expert', ''), number, chunkExact(t, tp, 2, 'expert proj input features', source), tp > 1);
        break;
    }
  }
  if (s.tiedLmHead && !out.some((w) => w.name === TRTLLMLayers.lm_head)) {
    // Tied embeddings: TensorRT-LLM 1.x declares lm_head on every last-stage rank and ties it to the embedding
    // only when both have the same local shape (TRT:`models/modeling_utils.py` share_embedding), so it is written.
    const emb = [...renamed.values()].find((r) => r.layer === 'vocab_embedding');
    if (emb) emit(TRTLLMLayers.lm_head, null, lmHeadParts(vocabRows(emb.tensor), tp), tp > 1);
  }
  const flags = s.megatronCompat || s.family === 'qwen' ? null : trtBiasFlags(s.modelType, config);
  if (flags) out.push(...zeroMissingBiases(out, flags));
  return out;
}

/** lm_head per TP rank: zero rows up to a multiple of tp, split evenly (Megatron chunks it unevenly, unpadded). */
function lmHeadParts(rows: Tensor, tp: number): Tensor[] {
  return tp === 1 ? [rows] : T.chunk(padRows(rows, padVocabSize(rows.shape[0]!, tp)), tp, 0);
}

function checkVocab(vocabSize: number, t: Tensor): number {
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > t.shape[0]!) {
    fail('E_CONFIG', `vocabSize ${vocabSize} must be between 1 and the checkpoint's ${t.shape[0]} vocabulary rows`);
  }
  return vocabSize;
}
