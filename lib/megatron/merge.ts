// Merges the per-rank state dicts of a legacy Megatron checkpoint (TP × PP × EP × VP files) into logical global
// tensors named as a TP1 PP1 checkpoint names them — without copying: each global tensor is a tiling of the
// ranks' views (lib/tensor/tensor.ts `cat`).
//
// Rules (spec §1.3–1.5, Megatron's tensor-parallel layers):
//   column-parallel (dim 0): linear_qkv, linear_fc1, word_embeddings, output_layer, MTP eh_proj; MLA's linear_q_proj,
//                            linear_q_up_proj, linear_kv_up_proj (ColumnParallelLinear in multi_latent_attention.py)
//   MLA down projections:    linear_q_down_proj / linear_kv_down_proj are TELinear parallel_mode='duplicated'
//                            (replicated) in the Transformer Engine spec but ColumnParallelLinear (dim 0, output
//                            gathered in _qkv_down_projection) in the local spec (gpt_layer_specs.py)
//   row-parallel (dim 1):    linear_proj.weight, linear_fc2.weight (shared experts' too)
//   replicated:              norms (q/k/kv_layernorm, TE fused layer_norm_*), row-parallel biases, position
//                            embeddings, MoE router weight and expert_bias
//   legacy GroupedMLP:       experts.weight1 [H, E_local·2F/TP] and weight2 [E_local·F/TP, H], each a view of
//                            per-expert transposed fc1/fc2 (experts.py GroupedMLP.forward: weight1.view(E, H, -1));
//                            split into SequentialMLP names local_experts.<g>.linear_fc1/fc2.weight
//   gated fc1 (SwiGLU):      each rank holds [gate_r; up_r] → global [gate_0..gate_{t-1}; up_0..up_{t-1}]
//   PP / VP:                 layer numbers are local to a model chunk; chunks are ordered vp·PP + pp and each
//                            chunk's layers follow the previous chunks' (prefix sums of the layers present)
//   EP:                      local expert j of expert rank e is global expert e·(E/EP) + j
//   tied embeddings:         the last stage's copy `output_layer.weight` is dropped
//   MTP (--mtp-num-layers):  `mtp.layers.<k>.*` live on the last stage (multi_token_prediction.py mtp_on_this_rank)
//                            with the decoder's TP rules (eh_proj column-parallel, gather_output=False); that stage
//                            also builds the embedding (gpt_model.py: pre_process or mtp_process), a replica that
//                            is dropped (tie_word_embeddings_state_dict marks it replica 1). The inner layer is
//                            `mtp_model_layer` in the module (state_dict) and `transformer_layer` in older
//                            checkpoints and in torch_dist (MultiTokenPredictionLayer.sharded_state_dict maps it
//                            back): both become `transformer_layer`. Its experts need EP1 and per-expert names.
import { ExportError, fail } from '../errors.js';
import { UnsupportedTensor } from '../formats/torch-save.js';
import { fmtShape, sameShape } from '../tensor/shape.js';
import { cat, chunk, fromView, narrow, reshape, transpose, type Tensor } from '../tensor/tensor.js';
import type { View } from '../tensor/view.js';
import { isExtraStateName } from './te-names.js';

/** One rank file's model chunk: its `model` (or `model<vp>`) state dict. */
export interface RankStateDict {
  readonly tp: number;
  readonly pp: number;
  readonly ep: number;
  readonly vp: number;
  readonly file: string;
  readonly entries: ReadonlyMap<unknown, unknown>;
}

export interface MergeOptions {
  readonly tp: number;
  readonly pp: number;
  readonly ep: number;
  readonly vp: number;
  readonly numLayers: number;
  readonly gatedLinearUnit: boolean;
  /** total routed experts (args.num_experts), when the model has MoE layers */
  readonly numExperts?: number | undefined;
  readonly tiedEmbeddings: boolean;
  /** how MLA's q/kv down projections are split over TP: 'dim0' (local spec), 'replicated' (Transformer Engine spec) */
  readonly mlaDownProj?: 'dim0' | 'replicated' | undefined;
  /** args.decoder_first/last_pipeline_num_layers, cross-checked against the layers found */
  readonly firstStageLayers?: number | undefined;
  readonly lastStageLayers?: number | undefined;
}

type Rule = 'dim0' | 'dim1' | 'glu' | 'replicated';

const COLUMN = /(?:\.linear_qkv|\.linear_fc1|\.eh_proj|\.linear_q_proj|\.linear_q_up_proj|\.linear_kv_up_proj)\.(?:weight|bias)\d*$|^embedding\.word_embeddings\.weight$|^output_layer\.(?:weight|bias)$/;
const MLA_DOWN = /\.(?:linear_q_down_proj|linear_kv_down_proj)\.weight$/;
const FC1 = /\.linear_fc1\.(?:weight|bias)\d*$/;
const ROW = /\.(?:linear_proj|linear_fc2)\.weight\d*$/;
const REPLICATED = [
  /norm[^.]*\.(?:weight|bias)$/, // input_layernorm, pre_mlp_layernorm, final_layernorm, q_layernorm, k_layernorm
  /\.layer_norm_(?:weight|bias)$/, // TE fused norms
  /\.(?:linear_proj|linear_fc2)\.bias\d*$/,
  /^embedding\.position_embeddings\.weight$/,
  /\.router\.(?:weight|bias|expert_bias)$/,
  /\.shared_experts\.gate_weight$/,
];

/** How a tensor is split across TP ranks; null for a name we do not know. */
export function tpRule(name: string, gated: boolean, mlaDownProj: 'dim0' | 'replicated' = 'replicated'): Rule | null {
  if (COLUMN.test(name)) return gated && FC1.test(name) ? 'glu' : 'dim0';
  if (MLA_DOWN.test(name)) return mlaDownProj;
  if (ROW.test(name)) return 'dim1';
  if (REPLICATED.some((r) => r.test(name))) return 'replicated';
  return null;
}

const LAYER = /^decoder\.layers\.(\d+)\.(.*)$/;
const MTP_INNER = /^(mtp\.layers\.\d+\.)(?:mtp_model_layer|transformer_layer)\.(.*)$/;

/** `mtp.layers.<k>.mtp_model_layer.X` (the module's name at d98e8a64) → `mtp.layers.<k>.transformer_layer.X`. */
export function canonicalMtpName(name: string): string {
  const m = MTP_INNER.exec(name);
  return m ? `${m[1]}transformer_layer.${m[2]}` : name;
}
/** SequentialMLP `…experts.local_experts.<j>.rest` or TE grouped GEMM `…experts.linear_fc1.weight<j>` */
const LOCAL_EXPERT = /^(mlp\.experts\.)local_experts\.(\d+)\.(.+)$/;
const GROUPED_EXPERT = /^(mlp\.experts\.)(linear_fc[12]\.(?:weight|bias))(\d+)$/;
/** legacy GroupedMLP: all local experts of a layer in one matrix per linear */
const GROUPED_MLP = /^mlp\.experts\.weight([12])$/;

interface ExpertName {
  readonly local: number;
  /** the name with expert index `g` */
  rename(g: number): string;
}

function expertName(rest: string): ExpertName | null {
  let m = LOCAL_EXPERT.exec(rest);
  if (m) {
    const [, pre, j, post] = m;
    return { local: Number(j), rename: (g) => `${pre}local_experts.${g}.${post}` };
  }
  m = GROUPED_EXPERT.exec(rest);
  if (m) {
    const [, pre, param, j] = m;
    return { local: Number(j), rename: (g) => `${pre}${param}${g}` };
  }
  return null;
}

export function mergeLegacy(shards: readonly RankStateDict[], o: MergeOptions): Map<string, Tensor> {
  const byRank = new Map<string, RankStateDict>();
  const key = (vp: number, pp: number, tp: number, ep: number) => `${vp}/${pp}/${tp}/${ep}`;
  for (const s of shards) byRank.set(key(s.vp, s.pp, s.tp, s.ep), s);
  const shard = (vp: number, pp: number, tp: number, ep: number): RankStateDict => {
    const s = byRank.get(key(vp, pp, tp, ep));
    if (!s) fail('E_NOT_FOUND', `no state dict for model chunk ${vp}, pipeline rank ${pp}, tensor rank ${tp}, expert rank ${ep}`, { file: shards[0]?.file });
    return s;
  };

  // Global layer offsets: the layers present in each chunk, in chunk order.
  const chunks: { vp: number; pp: number; layers: number }[] = [];
  for (let vp = 0; vp < o.vp; vp++) for (let pp = 0; pp < o.pp; pp++) chunks.push({ vp, pp, layers: countLayers(shard(vp, pp, 0, 0)) });
  const total = chunks.reduce((a, c) => a + c.layers, 0);
  const first = shard(0, 0, 0, 0).file;
  if (total !== o.numLayers) fail('E_FORMAT', `rank files hold ${total} decoder layers, args.num_layers is ${o.numLayers}`, { file: first });
  if (o.vp === 1 && o.pp > 1) {
    if (o.firstStageLayers !== undefined && chunks[0]!.layers !== o.firstStageLayers) {
      fail('E_FORMAT', `first pipeline stage holds ${chunks[0]!.layers} layers, args.decoder_first_pipeline_num_layers is ${o.firstStageLayers}`, { file: first });
    }
    if (o.lastStageLayers !== undefined && chunks[o.pp - 1]!.layers !== o.lastStageLayers) {
      fail('E_FORMAT', `last pipeline stage holds ${chunks[o.pp - 1]!.layers} layers, args.decoder_last_pipeline_num_layers is ${o.lastStageLayers}`, { file: first });
    }
  }

  const out = new Map<string, Tensor>();
  const put = (name: string, t: Tensor, file: string) => {
    if (out.has(name)) fail('E_FORMAT', 'tensor appears in more than one pipeline stage', { file, tensor: name });
    out.set(name, t);
  };
  let offset = 0;
  for (const c of chunks) {
    const ref = shard(c.vp, c.pp, 0, 0);
    checkSameKeys(c, o, shard);
    const expertsDone = new Set<number>();
    for (const [k, value] of ref.entries) {
      const name = k as string;
      if (isExtraStateName(name) || value === null) continue;
      if (o.tiedEmbeddings && name === 'output_layer.weight') continue;
      if ((c.pp > 0 || c.vp > 0) && name === 'embedding.word_embeddings.weight' && hasMtp(ref)) continue;
      const lm = LAYER.exec(name);
      const layer = lm ? Number(lm[1]) : -1;
      const rest = lm ? lm[2]! : name;
      const globalName = (r: string) => (lm ? `decoder.layers.${offset + layer}.${r}` : r);
      if (lm && GROUPED_MLP.test(rest)) {
        if (expertsDone.has(layer)) continue;
        expertsDone.add(layer);
        for (const [n, t, file] of groupedMlpExperts(layer, c, o, shard)) put(globalName(n), t, file);
        continue;
      }
      const ex = lm ? expertName(rest) : null;
      if (ex) {
        if (expertsDone.has(layer)) continue;
        expertsDone.add(layer);
        for (let e = 0; e < o.ep; e++) {
          const owner = shard(c.vp, c.pp, 0, e);
          const prefix = `decoder.layers.${layer}.`;
          const local = [...owner.entries.keys()].map(String).filter((n) => n.startsWith(prefix) && !isExtraStateName(n) && expertName(n.slice(prefix.length)));
          const perRank = 1 + Math.max(-1, ...local.map((n) => expertName(n.slice(prefix.length))!.local));
          if (o.numExperts !== undefined && perRank * o.ep !== o.numExperts) {
            fail('E_FORMAT', `layer ${layer} holds ${perRank} local experts on expert rank ${e}; args say ${o.numExperts} experts over ${o.ep} expert ranks`, { file: owner.file });
          }
          for (const n of local) {
            if (owner.entries.get(n) === null) continue;
            const en = expertName(n.slice(prefix.length))!;
            const g = e * perRank + en.local;
            put(globalName(en.rename(g)), mergeTp(n, c, e, o, shard), owner.file);
          }
        }
        continue;
      }
      // experts outside the decoder layers (a multi-token-prediction layer's) would need their own EP merge
      if (o.ep > 1 && !lm && /\.experts\./.test(name)) fail('E_UNSUPPORTED', `experts outside decoder.layers with expert parallelism ${o.ep} (a multi-token-prediction layer's experts are read at EP1 only)`, { file: ref.file, tensor: name });
      if (!lm && MTP_INNER.test(name) && /\.experts\.weight[12]$/.test(name)) fail('E_UNSUPPORTED', 'legacy GroupedMLP experts (experts.weight1/weight2) in a multi-token-prediction layer are not supported', { file: ref.file, tensor: name });
      if (o.ep > 1) checkExpertReplicas(name, c, o, shard);
      put(canonicalMtpName(globalName(rest)), mergeTp(name, c, 0, o, shard), ref.file);
    }
    offset += c.layers;
  }
  return out;
}

function hasMtp(s: RankStateDict): boolean {
  return [...s.entries.keys()].some((k) => typeof k === 'string' && k.startsWith('mtp.layers.'));
}

function countLayers(s: RankStateDict): number {
  const seen = new Set<number>();
  for (const k of s.entries.keys()) {
    if (typeof k !== 'string') fail('E_FORMAT', `state dict key ${String(k)} is not a string`, { file: s.file });
    const m = LAYER.exec(k);
    if (m) seen.add(Number(m[1]));
  }
  for (let i = 0; i < seen.size; i++) if (!seen.has(i)) fail('E_FORMAT', `decoder layer ${i} is missing while ${seen.size} layers are present`, { file: s.file });
  return seen.size;
}

type ShardOf = (vp: number, pp: number, tp: number, ep: number) => RankStateDict;

/** Every TP rank of a chunk must hold the same tensor names as rank 0. */
function checkSameKeys(c: { vp: number; pp: number }, o: MergeOptions, shard: ShardOf): void {
  for (let e = 0; e < o.ep; e++) {
    const ref = shard(c.vp, c.pp, 0, e);
    for (let t = 1; t < o.tp; t++) {
      const s = shard(c.vp, c.pp, t, e);
      for (const k of ref.entries.keys()) if (!s.entries.has(k)) fail('E_FORMAT', `tensor missing on tensor-parallel rank ${t} (present on rank 0)`, { file: s.file, tensor: String(k) });
      for (const k of s.entries.keys()) if (!ref.entries.has(k)) fail('E_FORMAT', `tensor on tensor-parallel rank ${t} is absent from rank 0`, { file: s.file, tensor: String(k) });
    }
  }
}

function viewOf(s: RankStateDict, name: string): View {
  const v = s.entries.get(name);
  if (v === undefined) fail('E_FORMAT', 'tensor missing from this rank file', { file: s.file, tensor: name });
  if (v instanceof UnsupportedTensor) fail('E_UNSUPPORTED', `tensor dtype ${v.dtype} is not supported`, { file: s.file, tensor: name });
  if (typeof v !== 'object' || v === null || !('storage' in v) || !('strides' in v)) fail('E_FORMAT', 'state dict value is not a tensor', { file: s.file, tensor: name });
  return v as View;
}

/** Dense weights are repeated in every expert-rank file of a (tp, pp): the copies must agree in shape and dtype. */
function checkExpertReplicas(name: string, c: { vp: number; pp: number }, o: MergeOptions, shard: ShardOf): void {
  for (let t = 0; t < o.tp; t++) {
    const ref = viewOf(shard(c.vp, c.pp, t, 0), name);
    for (let e = 1; e < o.ep; e++) {
      const s = shard(c.vp, c.pp, t, e);
      const v = viewOf(s, name);
      if (v.dtype !== ref.dtype || !sameShape(v.shape, ref.shape)) {
        fail('E_SHAPE', `expert rank ${e} holds ${v.dtype} ${fmtShape(v.shape)}, expert rank 0 holds ${ref.dtype} ${fmtShape(ref.shape)}`, { file: s.file, tensor: name });
      }
    }
  }
}

/**
 * Legacy GroupedMLP's `experts.weight1` / `weight2` of one layer, over every expert and TP rank, as SequentialMLP's
 * per-expert fc1 [2F, H] / fc2 [H, F] (global expert numbers). Each rank's weight1 is its E_local experts'
 * transposed fc1 pieces one after another (Megatron views it as [E_local, H, 2F/TP]); a gated piece holds
 * [gate_t | up_t] like a dense SwiGLU shard (GroupedMLP.sharded_state_dict chunks it in two along that dim).
 */
function groupedMlpExperts(layer: number, c: { vp: number; pp: number }, o: MergeOptions, shard: ShardOf): [string, Tensor, string][] {
  const out: [string, Tensor, string][] = [];
  const name = (w: 1 | 2) => `decoder.layers.${layer}.mlp.experts.weight${w}`;
  for (let e = 0; e < o.ep; e++) {
    const ranks = Array.from({ length: o.tp }, (_, t) => shard(c.vp, c.pp, t, e));
    const w1 = ranks.map((s) => viewOf(s, name(1)));
    const w2 = ranks.map((s) => viewOf(s, name(2)));
    const file = ranks[0]!.file;
    if (o.numExperts === undefined || o.numExperts % o.ep !== 0) fail('E_FORMAT', `legacy GroupedMLP weights but args.num_experts ${String(o.numExperts)} is not a multiple of ${o.ep} expert ranks`, { file, tensor: name(1) });
    const local = o.numExperts / o.ep;
    const hidden = w1[0]!.shape[0]!;
    const ffn = w2[0]!.shape[0]! / local;
    const fc1Rows = ffn * (o.gatedLinearUnit ? 2 : 1);
    ranks.forEach((s, t) => {
      const ok = (v: View, rows: number, cols: number) => v.shape.length === 2 && v.shape[0] === rows && v.shape[1] === cols;
      if (!Number.isInteger(ffn) || !ok(w1[t]!, hidden, local * fc1Rows) || !ok(w2[t]!, local * ffn, hidden)) {
        fail('E_SHAPE', `GroupedMLP weight1 ${fmtShape(w1[t]!.shape)} / weight2 ${fmtShape(w2[t]!.shape)} do not hold ${local} local experts of hidden ${hidden}`, { file: s.file, tensor: name(1) });
      }
    });
    const expertPiece = (v: View, j: number, rows: number, cols: number): Tensor => {
      const perExpert = reshape(fromView(v), [local, rows, cols]);
      return transpose(reshape(narrow(perExpert, 0, j, 1), [rows, cols]));
    };
    for (let j = 0; j < local; j++) {
      const g = e * local + j;
      const fc1 = w1.map((v) => expertPiece(v, j, hidden, fc1Rows));
      const fc2 = w2.map((v) => expertPiece(v, j, ffn, hidden));
      const where = { file, tensor: name(1) };
      out.push([`mlp.experts.local_experts.${g}.linear_fc1.weight`, mergePieces(fc1, o.gatedLinearUnit ? 'glu' : 'dim0', where), file]);
      out.push([`mlp.experts.local_experts.${g}.linear_fc2.weight`, mergePieces(fc2, 'dim1', { ...where, tensor: name(2) }), file]);
    }
  }
  return out;
}

/** TP pieces → the global tensor by `rule` (zero-copy tilings). */
function mergePieces(pieces: readonly Tensor[], rule: Rule, where: { file: string; tensor: string }): Tensor {
  if (pieces.length === 1 || rule === 'replicated') return pieces[0]!;
  try {
    if (rule === 'dim0' || rule === 'dim1') return cat(pieces, rule === 'dim1' ? 1 : 0);
    const halves = pieces.map((p) => chunk(p, 2, 0));
    return cat([...halves.map((h) => h[0]!), ...halves.map((h) => h[1]!)], 0);
  } catch (err) {
    if (err instanceof ExportError) fail(err.code, err.message.replace(/^E_[A-Z_]+: /, ''), { ...where, cause: err });
    throw err;
  }
}

/** The global tensor `name` of chunk `c` / expert rank `e`, from its TP pieces. */
function mergeTp(name: string, c: { vp: number; pp: number }, e: number, o: MergeOptions, shard: ShardOf): Tensor {
  const ranks = Array.from({ length: o.tp }, (_, t) => shard(c.vp, c.pp, t, e));
  const pieces = ranks.map((s) => viewOf(s, name));
  if (o.tp === 1) return fromView(pieces[0]!);
  const rule = tpRule(name, o.gatedLinearUnit, o.mlaDownProj);
  if (rule === null) fail('E_UNSUPPORTED', `no tensor-parallel merge rule for this tensor (TP ${o.tp})`, { file: ranks[0]!.file, tensor: name });
  const ref = pieces[0]!;
  const splitDim = rule === 'dim1' ? 1 : rule === 'replicated' ? -1 : 0;
  pieces.forEach((p, t) => {
    const agree = p.dtype === ref.dtype && p.shape.length === ref.shape.length && p.shape.every((d, i) => i === splitDim || d === ref.shape[i]);
    if (!agree || p.shape.length <= splitDim) {
      fail('E_SHAPE', `tensor-parallel rank ${t} holds ${p.dtype} ${fmtShape(p.shape)}, rank 0 holds ${ref.dtype} ${fmtShape(ref.shape)} (${rule})`, { file: ranks[t]!.file, tensor: name });
    }
  });
  return mergePieces(pieces.map(fromView), rule, { file: ranks[0]!.file, tensor: name });
}
