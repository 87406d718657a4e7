// What a generated model contains: its hyper-parameters, its global tensors (named as in a TP1 PP1 legacy
// state dict, with global layer numbers) and how Megatron shards each of them over TP ranks and PP stages.
import { fail } from '../../lib/errors.js';
import type { GenDType, ValueKind } from './values.js';

export type Family = 'llama' | 'gpt' | 'deepseek';

/** Multi-latent attention sizes (Megatron MLATransformerConfig; the local spec's layer, q compression on). */
export interface GenMla {
  qLoraRank: number;
  kvLoraRank: number;
  qkHeadDim: number;
  qkPosEmbHeadDim: number;
  vHeadDim: number;
}

/** DeepSeek-V3's MoE block: routed SwiGLU experts, a sigmoid router with an fp32 expert bias, shared experts,
 * the first `firstKDense` layers dense (moe_layer_freq [0]*k + [1]*rest). */
export interface GenMoe {
  numExperts: number;
  topk: number;
  ffnHiddenSize: number;
  sharedExpertIntermediateSize: number;
  firstKDense: number;
}

export interface ModelSpec {
  family: Family;
  numLayers: number;
  hiddenSize: number;
  ffnHiddenSize: number;
  numAttentionHeads: number;
  numQueryGroups: number;
  kvChannels: number;
  /** tokenizer vocabulary; stored rows are padded (args.padded_vocab_size) */
  vocabSize: number;
  makeVocabSizeDivisibleBy: number;
  maxPositionEmbeddings: number;
  dtype: GenDType;
  normalization: 'RMSNorm' | 'LayerNorm';
  normEpsilon: number;
  swiglu: boolean;
  addBiasLinear: boolean;
  addQkvBias: boolean;
  positionEmbeddingType: 'rope' | 'learned_absolute';
  rotaryBase: number;
  rotaryPercent: number;
  untieEmbeddings: boolean;
  /** values as stored when --apply-layernorm-1p (zero-centred gamma) */
  layernormZeroCenteredGamma: boolean;
  /** multi-latent attention instead of the fused QKV (family deepseek) */
  mla?: GenMla;
  /** DeepSeek-V3 MoE layers after the first dense ones (family deepseek) */
  moe?: GenMoe;
  /** multi-token-prediction layers on the last stage (--mtp-num-layers; family deepseek) */
  mtpNumLayers?: number;
}

export interface Parallel {
  tp: number;
  pp: number;
}

/** DeepSeek-V3-shaped (small by default): the llama preset's block with MLA (q compression), 1 dense layer, then MoE with shared experts. */
function deepseekPreset(): ModelSpec {
  return {
    ...presetSpec('llama'),
    family: 'deepseek',
    ffnHiddenSize: 128,
    numAttentionHeads: 4,
    numQueryGroups: 4,
    kvChannels: 16,
    normEpsilon: 1e-6,
    mla: { qLoraRank: 32, kvLoraRank: 32, qkHeadDim: 16, qkPosEmbHeadDim: 8, vHeadDim: 16 },
    moe: { numExperts: 8, topk: 2, ffnHiddenSize: 16, sharedExpertIntermediateSize: 32, firstKDense: 1 },
  };
}

/** Llama-like (RMSNorm, GQA, SwiGLU, rope, untied, no biases), GPT-like (LayerNorm, learned positions, gelu, biases, tied) or DeepSeek-V3-like. */
export function presetSpec(family: Family, over: Partial<ModelSpec> = {}): ModelSpec {
  if (family === 'deepseek') return { ...deepseekPreset(), ...over };
  const base: ModelSpec =
    family === 'llama'
      ? {
          family,
          numLayers: 4,
          hiddenSize: 64,
          ffnHiddenSize: 176,
          numAttentionHeads: 8,
          numQueryGroups: 2,
          kvChannels: 8,
          vocabSize: 300,
          makeVocabSizeDivisibleBy: 128,
          maxPositionEmbeddings: 64,
          dtype: 'bfloat16',
          normalization: 'RMSNorm',
          normEpsilon: 1e-5,
          swiglu: true,
          addBiasLinear: false,
          addQkvBias: false,
          positionEmbeddingType: 'rope',
          rotaryBase: 10000,
          rotaryPercent: 1.0,
          untieEmbeddings: true,
          layernormZeroCenteredGamma: false,
        }
      : {
          family,
          numLayers: 2,
          hiddenSize: 64,
          ffnHiddenSize: 256,
          numAttentionHeads: 4,
          numQueryGroups: 4,
          kvChannels: 16,
          vocabSize: 200,
          makeVocabSizeDivisibleBy: 128,
          maxPositionEmbeddings: 64,
          dtype: 'float32',
          normalization: 'LayerNorm',
          normEpsilon: 1e-5,
          swiglu: false,
          addBiasLinear: true,
          addQkvBias: true,
          positionEmbeddingType: 'learned_absolute',
          rotaryBase: 10000,
          rotaryPercent: 1.0,
          untieEmbeddings: false,
          layernormZeroCenteredGamma: false,
        };
  const spec = { ...base, ...over };
  if (over.kvChannels === undefined && over.hiddenSize !== undefined) spec.kvChannels = Math.floor(spec.hiddenSize / spec.numAttentionHeads);
  return spec;
}

/** Megatron: ceil(vocab / (divisible_by · tp)) · divisible_by · tp. */
export function paddedVocabSize(spec: ModelSpec, tp: number): number {
  const m = spec.makeVocabSizeDivisibleBy * tp;
  return Math.ceil(spec.vocabSize / m) * m;
}

/** How a tensor is split over TP ranks: row/col of Megatron's parallel linears, replicated, or SwiGLU-packed rows. */
export type TpSplit = 'dim0' | 'dim1' | 'rep' | 'glu';

export interface GlobalTensor {
  /** TP1 PP1 legacy name with the global layer number */
  name: string;
  shape: number[];
  kind: ValueKind;
  split: TpSplit;
  /** global layer, or null for embedding/final tensors */
  layer: number | null;
  /** the name whose values it holds (the last stage's tied output layer copies the word embeddings) */
  valuesOf: string;
  /** stored in this dtype instead of the model's (the router's fp32 expert_bias) */
  dtype?: GenDType;
}

/** One state-dict entry in module order: a tensor, or a `_extra_state` (None in the local spec). */
export type Entry = { key: string; tensor: GlobalTensor } | { key: string; extraState: true };

export function validate(spec: ModelSpec, par: Parallel): void {
  const bad = (m: string): never => fail('E_CONFIG', m);
  for (const [k, v] of Object.entries(spec)) if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0)) bad(`${k} must be a non-negative number`);
  if (!(par.tp >= 1 && par.pp >= 1)) bad('tp and pp must be ≥ 1');
  if (spec.numAttentionHeads % spec.numQueryGroups) bad('num_attention_heads must be a multiple of num_query_groups');
  if (spec.numAttentionHeads % par.tp) bad(`tp=${par.tp} does not divide num_attention_heads=${spec.numAttentionHeads}`);
  if (spec.numQueryGroups % par.tp && par.tp % spec.numQueryGroups) bad(`tp=${par.tp} and num_query_groups=${spec.numQueryGroups} do not divide one another`);
  if (spec.ffnHiddenSize % par.tp) bad(`tp=${par.tp} does not divide ffn_hidden_size=${spec.ffnHiddenSize}`);
  if (spec.numLayers % par.pp) bad(`pp=${par.pp} does not divide num_layers=${spec.numLayers}`);
  const qkv = (spec.numAttentionHeads + 2 * spec.numQueryGroups) * spec.kvChannels;
  if (!spec.mla && qkv % par.tp) bad(`tp=${par.tp} does not divide the qkv rows (${qkv})`);
  const m = spec.mla;
  // the local spec's MLA down projections are ColumnParallelLinear: their rows split over TP too
  if (m && (m.qLoraRank % par.tp || (m.kvLoraRank + m.qkPosEmbHeadDim) % par.tp)) bad(`tp=${par.tp} does not divide the MLA down-projection rows`);
  const e = spec.moe;
  if (e && (e.ffnHiddenSize % par.tp || e.sharedExpertIntermediateSize % par.tp)) bad(`tp=${par.tp} does not divide the expert or shared-expert width`);
  if (e && (e.firstKDense > spec.numLayers || e.topk > e.numExperts)) bad('moe: firstKDense must be ≤ num_layers and topk ≤ num_experts');
  if (spec.mtpNumLayers && spec.family !== 'deepseek') bad('multi-token-prediction layers are generated for the deepseek family only');
}

/**
 * Layer entries of layer `g` (global) in the order Megatron's local-spec TransformerLayer.state_dict() lists them,
 * keyed `keyPrefix` (the stage-local name) and named `namePrefix` (the TP1 PP1 one). An MTP layer's inner layer
 * is built from the decoder's last layer spec (gpt_layer_specs.py get_gpt_mtp_block_spec_for_backend): it passes
 * g = num_layers - 1 and its own prefixes.
 */
function layerEntries(spec: ModelSpec, g: number, keyPrefix: string, namePrefix = `decoder.layers.${g}.`): Entry[] {
  const H = spec.hiddenSize;
  const Q = spec.numAttentionHeads * spec.kvChannels;
  const K = spec.numQueryGroups * spec.kvChannels;
  const F = spec.ffnHiddenSize;
  const F1 = spec.swiglu ? 2 * F : F;
  const ln = spec.normalization === 'LayerNorm';
  const out: Entry[] = [];
  const decoder = namePrefix.startsWith('decoder.');
  const t: AddTensor = (suffix, shape, split, kind = 'weight', dtype) => {
    const name = `${namePrefix}${suffix}`;
    out.push({ key: `${keyPrefix}${suffix}`, tensor: { name, shape, kind, split, layer: decoder ? g : null, valuesOf: name, ...(dtype ? { dtype } : {}) } });
  };
  const x = (module: string): void => void out.push({ key: `${keyPrefix}${module}._extra_state`, extraState: true });
  t('input_layernorm.weight', [H], 'rep', 'norm');
  if (ln) t('input_layernorm.bias', [H], 'rep');
  if (spec.mla) {
    mlaEntries(spec, spec.mla, t, x);
    moeOrDenseEntries(spec, g, t, x);
    return out;
  }
  t('self_attention.linear_proj.weight', [H, Q], 'dim1');
  if (spec.addBiasLinear) t('self_attention.linear_proj.bias', [H], 'rep');
  x('self_attention.linear_proj');
  t('self_attention.linear_qkv.weight', [Q + 2 * K, H], 'dim0');
  if (spec.addBiasLinear || spec.addQkvBias) t('self_attention.linear_qkv.bias', [Q + 2 * K], 'dim0');
  x('self_attention.linear_qkv');
  t('pre_mlp_layernorm.weight', [H], 'rep', 'norm');
  if (ln) t('pre_mlp_layernorm.bias', [H], 'rep');
  t('mlp.linear_fc1.weight', [F1, H], spec.swiglu ? 'glu' : 'dim0');
  if (spec.addBiasLinear) t('mlp.linear_fc1.bias', [F1], spec.swiglu ? 'glu' : 'dim0');
  x('mlp.linear_fc1');
  t('mlp.linear_fc2.weight', [H, F], 'dim1');
  if (spec.addBiasLinear) t('mlp.linear_fc2.bias', [H], 'rep');
  x('mlp.linear_fc2');
  return out;
}

type AddTensor = (suffix: string, shape: number[], split: TpSplit, kind?: ValueKind, dtype?: GenDType) => void;
type AddExtra = (module: string) => void;

/** MLASelfAttention of the local spec, in its state_dict order (multi_latent_attention.py at d98e8a64). */
function mlaEntries(spec: ModelSpec, m: GenMla, t: AddTensor, x: AddExtra): void {
  const H = spec.hiddenSize;
  const n = spec.numAttentionHeads;
  t('self_attention.linear_proj.weight', [H, n * m.vHeadDim], 'dim1');
  x('self_attention.linear_proj');
  t('self_attention.linear_q_down_proj.weight', [m.qLoraRank, H], 'dim0');
  x('self_attention.linear_q_down_proj');
  t('self_attention.linear_q_up_proj.weight', [n * (m.qkHeadDim + m.qkPosEmbHeadDim), m.qLoraRank], 'dim0');
  x('self_attention.linear_q_up_proj');
  t('self_attention.linear_kv_down_proj.weight', [m.kvLoraRank + m.qkPosEmbHeadDim, H], 'dim0');
  x('self_attention.linear_kv_down_proj');
  t('self_attention.linear_kv_up_proj.weight', [n * (m.qkHeadDim + m.vHeadDim), m.kvLoraRank], 'dim0');
  x('self_attention.linear_kv_up_proj');
  t('self_attention.q_layernorm.weight', [m.qLoraRank], 'rep', 'norm');
  t('self_attention.kv_layernorm.weight', [m.kvLoraRank], 'rep', 'norm');
}

/** A dense SwiGLU MLP, or (layers from moe.firstKDense on) router + routed experts + shared experts. */
function moeOrDenseEntries(spec: ModelSpec, g: number, t: AddTensor, x: AddExtra): void {
  const H = spec.hiddenSize;
  const e = spec.moe;
  t('pre_mlp_layernorm.weight', [H], 'rep', 'norm');
  if (!e || g < e.firstKDense) {
    t('mlp.linear_fc1.weight', [2 * spec.ffnHiddenSize, H], 'glu');
    x('mlp.linear_fc1');
    t('mlp.linear_fc2.weight', [H, spec.ffnHiddenSize], 'dim1');
    x('mlp.linear_fc2');
    return;
  }
  t('mlp.router.weight', [e.numExperts, H], 'rep');
  t('mlp.router.expert_bias', [e.numExperts], 'rep', 'norm', 'float32');
  for (let j = 0; j < e.numExperts; j++) {
    t(`mlp.experts.local_experts.${j}.linear_fc1.weight`, [2 * e.ffnHiddenSize, H], 'glu');
    x(`mlp.experts.local_experts.${j}.linear_fc1`);
    t(`mlp.experts.local_experts.${j}.linear_fc2.weight`, [H, e.ffnHiddenSize], 'dim1');
    x(`mlp.experts.local_experts.${j}.linear_fc2`);
  }
  t('mlp.shared_experts.linear_fc1.weight', [2 * e.sharedExpertIntermediateSize, H], 'glu');
  x('mlp.shared_experts.linear_fc1');
  t('mlp.shared_experts.linear_fc2.weight', [H, e.sharedExpertIntermediateSize], 'dim1');
  x('mlp.shared_experts.linear_fc2');
}

/** The state-dict entries of pipeline stage `stage`, in module order, with stage-local layer numbers. */
export function stageEntries(spec: ModelSpec, par: Parallel, stage: number): Entry[] {
  const V = paddedVocabSize(spec, par.tp);
  const H = spec.hiddenSize;
  const perStage = spec.numLayers / par.pp;
  const first = stage === 0;
  const last = stage === par.pp - 1;
  const g = (name: string, shape: number[], split: TpSplit, kind: ValueKind = 'weight', valuesOf = name): Entry => ({
    key: name,
    tensor: { name, shape, kind, split, layer: null, valuesOf },
  });
  const out: Entry[] = [];
  if (first) {
    out.push(g('embedding.word_embeddings.weight', [V, H], 'dim0'));
    if (spec.positionEmbeddingType === 'learned_absolute') out.push(g('embedding.position_embeddings.weight', [spec.maxPositionEmbeddings, H], 'rep'));
  }
  // the MTP stage builds the embedding too (gpt_model.py: pre_process or mtp_process), a replica of stage 0's
  const mtp = spec.mtpNumLayers ?? 0;
  if (last && !first && mtp > 0) out.push(g('embedding.word_embeddings.weight', [V, H], 'dim0'));
  for (let l = 0; l < perStage; l++) out.push(...layerEntries(spec, stage * perStage + l, `decoder.layers.${l}.`));
  if (last) {
    out.push(g('decoder.final_layernorm.weight', [H], 'rep', 'norm'));
    if (spec.normalization === 'LayerNorm') out.push(g('decoder.final_layernorm.bias', [H], 'rep'));
    for (let k = 0; k < mtp; k++) out.push(...mtpEntries(spec, k, g));
    // Tied: with PP=1 there is no output weight; with PP>1 the last stage keeps a copy of the embeddings.
    if (spec.untieEmbeddings) out.push(g('output_layer.weight', [V, H], 'dim0'));
    else if (par.pp > 1) out.push(g('output_layer.weight', [V, H], 'dim0', 'weight', 'embedding.word_embeddings.weight'));
    out.push({ key: 'output_layer._extra_state', extraState: true });
  }
  return out;
}

/**
 * MultiTokenPredictionLayer k in its state_dict order (multi_token_prediction.py at d98e8a64: enorm, hnorm,
 * eh_proj — ColumnParallelLinear [H, 2H], rows split over TP — the inner layer, named `mtp_model_layer` in the
 * module at that commit, and final_layernorm).
 */
function mtpEntries(spec: ModelSpec, k: number, g: (name: string, shape: number[], split: TpSplit, kind?: ValueKind) => Entry): Entry[] {
  const H = spec.hiddenSize;
  const p = `mtp.layers.${k}.`;
  return [
    g(`${p}enorm.weight`, [H], 'rep', 'norm'),
    g(`${p}hnorm.weight`, [H], 'rep', 'norm'),
    g(`${p}eh_proj.weight`, [H, 2 * H], 'dim0'),
    { key: `${p}eh_proj._extra_state`, extraState: true },
    ...layerEntries(spec, spec.numLayers - 1, `${p}mtp_model_layer.`, `${p}mtp_model_layer.`),
    g(`${p}final_layernorm.weight`, [H], 'rep', 'norm'),
  ];
}

/** A rectangle of a global tensor seen as 2-D ([1, n] for 1-D tensors). */
export interface Block {
  row0: number;
  nrows: number;
  col0: number;
  ncols: number;
}

/** 2-D view of a global shape: 1-D [n] → [1, n]. */
export function view2d(shape: readonly number[]): [number, number] {
  if (shape.length === 1) return [1, shape[0]!];
  if (shape.length === 2) return [shape[0]!, shape[1]!];
  return fail('E_UNSUPPORTED', `generator tensors are 1-D or 2-D, got [${shape.join(', ')}]`);
}

/** Splits range [0, n) into `t` equal parts and returns part `r`. */
const part = (n: number, t: number, r: number): [number, number] => [(r * n) / t, n / t];

/**
 * The pieces of `tensor` held by TP rank `r` of `t`, as global blocks in storage order (a legacy shard is
 * their concatenation along the split axis; a DCP chunk is one piece). Each piece: its offset and size in
 * the global shape, and its blocks.
 */
export interface Piece {
  offset: number[];
  shape: number[];
  blocks: Block[];
}

export function tpPieces(tensor: GlobalTensor, t: number, r: number): Piece[] {
  const [rows, cols] = view2d(tensor.shape);
  const oneD = tensor.shape.length === 1;
  // a split "along dim 0" of a 1-D tensor is along the columns of its [1, n] view
  const rowsOf = (row0: number, n: number): Piece =>
    oneD ? { offset: [row0], shape: [n], blocks: [{ row0: 0, nrows: 1, col0: row0, ncols: n }] } : { offset: [row0, 0], shape: [n, cols], blocks: [{ row0, nrows: n, col0: 0, ncols: cols }] };
  switch (tensor.split) {
    case 'rep':
      return [{ offset: tensor.shape.map(() => 0), shape: [...tensor.shape], blocks: [{ row0: 0, nrows: rows, col0: 0, ncols: cols }] }];
    case 'dim0': {
      const [o, n] = part(oneD ? cols : rows, t, r);
      return [rowsOf(o, n)];
    }
    case 'dim1': {
      const [o, n] = part(cols, t, r);
      return [{ offset: [0, o], shape: [rows, n], blocks: [{ row0: 0, nrows: rows, col0: o, ncols: n }] }];
    }
    case 'glu': {
      const total = oneD ? cols : rows;
      const [o, n] = part(total / 2, t, r);
      return [rowsOf(o, n), rowsOf(total / 2 + o, n)];
    }
  }
}

/** Shape of TP rank r's legacy shard (its pieces concatenated along the split axis). */
export function shardShape(tensor: GlobalTensor, t: number, r: number): number[] {
  const pieces = tpPieces(tensor, t, r);
  if (pieces.length === 1) return pieces[0]!.shape;
  const s = [...pieces[0]!.shape];
  s[0] = pieces.reduce((a, p) => a + p.shape[0]!, 0);
  return s;
}
