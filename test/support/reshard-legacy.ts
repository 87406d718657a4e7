// Test-only: re-shards a TP1 PP1 legacy Megatron checkpoint (a real fixture) into another training layout —
// TP, PP and EP ranks, the grouped-GEMM expert spellings (TEGroupedMLP `linear_fc1.weight<j>`, legacy GroupedMLP
// `experts.weight1/weight2`) and the Transformer Engine norm spellings — writing real `mp_rank_*` torch.save
// files with the generator's writer (tools/generate). The cuts follow Megatron's layers, written out here on
// their own (not the reader's rule table), so a reader that opens the result and gets the TP1 tensors back
// has inverted Megatron's sharding:
//   column-parallel (dim 0): linear_qkv, linear_fc1 (gated: each rank [gate_t; up_t]), word embeddings, output
//     layer, MLA linear_q_proj / linear_q_up_proj / linear_kv_up_proj; MLA down projections in the local spec
//     (ColumnParallelLinear), replicated in the TE spec (TELinear parallel_mode='duplicated')
//   row-parallel (dim 1): linear_proj, linear_fc2 (experts and shared experts too)
//   replicated: norms, router weight and expert_bias
//   PP: stage s holds layers [offset_s, offset_s + n_s) renumbered from 0, embedding on the first stage, final
//     norm and output layer on the last; EP: expert rank e holds global experts [e·E/EP, (e+1)·E/EP) renumbered
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTorchSave } from '../../lib/formats/torch-save.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { itemsize } from '../../lib/tensor/dtype.js';
import { py, type PyValue } from '../../tools/generate/pickle.js';
import { FileSink } from '../../tools/generate/sink.js';
import { bytesTensor, tensorValue, torchSave, type StorageDType } from '../../tools/generate/torch-save.js';
import { materialize } from './materialize.js';

export type ExpertStyle = 'sequential' | 'te-grouped' | 'legacy-grouped';

export interface LegacyLayout {
  tp?: number;
  pp?: number;
  ep?: number;
  experts?: ExpertStyle;
  /** Transformer Engine names: norms fused into the next linear (`linear_qkv.layer_norm_weight`, MLA's
   * `linear_q_up_proj.layer_norm_weight` ...), MLA down projections replicated */
  te?: boolean;
  /** layers on the first pipeline stage (default: an even split, the first stage taking the remainder) */
  firstStageLayers?: number;
  /** a tensor no rule knows, added to every last-stage rank file (a copy of the final norm) */
  unknownTensor?: string;
}

interface Dense {
  name: string;
  dtype: StorageDType;
  shape: number[];
  bytes: Uint8Array;
}

/** Rows [from, from+count) of a row-major tensor (dim 0). */
function rows(t: Dense, from: number, count: number): Dense {
  const rowBytes = (t.bytes.length / t.shape[0]!) | 0;
  return { ...t, shape: [count, ...t.shape.slice(1)], bytes: t.bytes.slice(from * rowBytes, (from + count) * rowBytes) };
}

/** Columns [from, from+count) of a 2-D row-major tensor (dim 1). */
function cols(t: Dense, from: number, count: number): Dense {
  const size = itemsize(t.dtype);
  const [r, c] = t.shape as [number, number];
  const out = new Uint8Array(r * count * size);
  for (let i = 0; i < r; i++) out.set(t.bytes.subarray((i * c + from) * size, (i * c + from + count) * size), i * count * size);
  return { ...t, shape: [r, count], bytes: out };
}

function catRows(parts: Dense[]): Dense {
  const bytes = new Uint8Array(parts.reduce((a, p) => a + p.bytes.length, 0));
  let at = 0;
  for (const p of parts) bytes.set(p.bytes, (at += p.bytes.length) - p.bytes.length);
  return { ...parts[0]!, shape: [parts.reduce((a, p) => a + p.shape[0]!, 0), ...parts[0]!.shape.slice(1)], bytes };
}

/** A 2-D tensor transposed (row-major in, row-major out). */
function transposed(t: Dense): Dense {
  const size = itemsize(t.dtype);
  const [r, c] = t.shape as [number, number];
  const out = new Uint8Array(t.bytes.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out.set(t.bytes.subarray((i * c + j) * size, (i * c + j + 1) * size), (j * r + i) * size);
  return { ...t, shape: [c, r], bytes: out };
}

export type Cut = 'dim0' | 'glu' | 'dim1' | 'replicated';

/** How Megatron splits a (layer-relative or top-level) tensor name over TP; `te`: the Transformer Engine spec. */
export function cutOf(rest: string, te: boolean): Cut {
  if (/\.layer_norm_(weight|bias)$/.test(rest)) return 'replicated';
  if (/(^|\.)linear_fc1\.weight$/.test(rest)) return 'glu';
  if (/(^|\.)(linear_qkv|linear_q_proj|linear_q_up_proj|linear_kv_up_proj)\.(weight|bias)$/.test(rest)) return 'dim0';
  if (/^(embedding\.word_embeddings|output_layer)\.weight$/.test(rest)) return 'dim0';
  if (/(linear_q_down_proj|linear_kv_down_proj)\.weight$/.test(rest)) return te ? 'replicated' : 'dim0';
  if (/(^|\.)(linear_proj|linear_fc2)\.weight$/.test(rest)) return 'dim1';
  if (/norm[^.]*\.(weight|bias)$|router\.(weight|expert_bias)$/.test(rest)) return 'replicated';
  throw new Error(`reshard: no TP cut for ${rest}`);
}

function cut(t: Dense, how: Cut, rank: number, tp: number): Dense {
  if (tp === 1 || how === 'replicated') return t;
  if (how === 'dim0') return rows(t, (rank * t.shape[0]!) / tp, t.shape[0]! / tp);
  if (how === 'dim1') return cols(t, (rank * t.shape[1]!) / tp, t.shape[1]! / tp);
  const half = t.shape[0]! / 2;
  const n = half / tp;
  return catRows([rows(t, rank * n, n), rows(t, half + rank * n, n)]);
}

/** The Transformer Engine spelling of a local-spec layer tensor (gpt_layer_specs.py: norms fused into the next linear). */
function teName(rest: string, moeLayer: boolean, mla: boolean): string {
  if (mla) {
    // MLA with TE: input_layernorm stays a TENorm; the latent norms live in the up projections
    if (rest === 'self_attention.q_layernorm.weight') return 'self_attention.linear_q_up_proj.layer_norm_weight';
    if (rest === 'self_attention.kv_layernorm.weight') return 'self_attention.linear_kv_up_proj.layer_norm_weight';
  } else if (rest.startsWith('input_layernorm.')) {
    return `self_attention.linear_qkv.layer_norm_${rest.slice('input_layernorm.'.length)}`;
  }
  // an MoE layer keeps a separate pre-MLP norm; a dense layer fuses it into linear_fc1
  if (!moeLayer && rest.startsWith('pre_mlp_layernorm.')) return `mlp.linear_fc1.layer_norm_${rest.slice('pre_mlp_layernorm.'.length)}`;
  return rest;
}

/** JSON-like args fields copied as they are; torch dtypes and other objects are left out (bf16/fp16 flags say the dtype). */
export function plainArgs(args: Record<string, unknown>): Map<string, PyValue> {
  const out = new Map<string, PyValue>();
  const plain = (v: unknown): v is PyValue => v === null || ['boolean', 'number', 'string'].includes(typeof v) || (Array.isArray(v) && v.every(plain));
  for (const [k, v] of Object.entries(args)) if (plain(v)) out.set(k, typeof v === 'number' && !Number.isInteger(v) ? py.float(v) : v);
  return out;
}

function rankDir(t: number, p: number, e: number, pp: number, ep: number): string {
  return `mp_rank_${String(t).padStart(2, '0')}${pp > 1 ? `_${String(p).padStart(3, '0')}` : ''}${ep > 1 ? `_${String(e).padStart(3, '0')}` : ''}`;
}

/**
 * Writes the TP1 PP1 legacy checkpoint `src` (a checkpoint root or iteration dir) re-sharded as `layout` under
 * `dst` (a checkpoint root: tracker file + iter_XXXXXXX/). Returns the iteration directory.
 */
export function reshardLegacy(src: string, dst: string, layout: LegacyLayout): string {
  const tp = layout.tp ?? 1;
  const pp = layout.pp ?? 1;
  const ep = layout.ep ?? 1;
  const style = layout.experts ?? 'sequential';
  const te = layout.te ?? false;
  const ck = openCheckpoint(src);
  if (ck.format !== 'torch') throw new Error('reshard: the source must be a legacy torch checkpoint');
  if (ck.layout.tp * ck.layout.pp * ck.layout.ep !== 1) throw new Error('reshard: the source must be TP1 PP1 EP1');
  const cfg = ck.config;
  const L = cfg.numLayers;
  const first = layout.firstStageLayers ?? L - (pp - 1) * Math.floor(L / pp);
  const perStage = Array.from({ length: pp }, (_, s) => (pp === 1 ? L : s === 0 ? first : (L - first) / (pp - 1)));
  if (!perStage.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`reshard: ${L} layers do not split over PP${pp}`);
  const offsets = perStage.map((_, s) => perStage.slice(0, s).reduce((a, b) => a + b, 0));
  const stageOf = (layer: number) => offsets.filter((o) => o <= layer).length - 1;
  const E = cfg.moe?.numExperts ?? 0;
  const local = ep > 1 ? E / ep : E;

  const dense = (name: string): Dense => {
    const t = ck.tensors.get(name)!;
    return { name, dtype: t.dtype as StorageDType, shape: [...t.shape], bytes: materialize(t) };
  };

  // state dict per (pp, tp, ep): key → tensor
  const files = new Map<string, Map<string, PyValue>>();
  const put = (p: number, t: number, e: number, key: string, d: Dense) => {
    const k = `${p}/${t}/${e}`;
    if (!files.has(k)) files.set(k, new Map());
    files.get(k)!.set(key, tensorValue(bytesTensor(d.dtype, d.shape, d.bytes)));
  };
  const everyRank = (fn: (t: number, e: number) => void) => {
    for (let t = 0; t < tp; t++) for (let e = 0; e < ep; e++) fn(t, e);
  };
  const groupedDone = new Set<number>();
  for (const name of ck.tensors.keys()) {
    const m = /^decoder\.layers\.(\d+)\.(.+)$/.exec(name);
    if (!m) {
      const stage = name.startsWith('embedding.') ? 0 : pp - 1;
      const d = dense(name);
      everyRank((t, e) => put(stage, t, e, name, cut(d, cutOf(name, te), t, tp)));
      if (pp > 1 && name === 'embedding.word_embeddings.weight' && cfg.shareEmbeddingsAndOutputWeights) {
        // the last stage keeps its own copy of the tied embedding as output_layer.weight
        everyRank((t, e) => put(pp - 1, t, e, 'output_layer.weight', cut(d, 'dim0', t, tp)));
      }
      continue;
    }
    const layer = Number(m[1]);
    const rest = m[2]!;
    const stage = stageOf(layer);
    const localName = (r: string) => `decoder.layers.${layer - offsets[stage]!}.${r}`;
    const moeLayer = cfg.moe?.layers[layer] ?? false;
    const expert = /^mlp\.experts\.local_experts\.(\d+)\.(linear_fc[12])\.weight$/.exec(rest);
    if (!expert) {
      const d = dense(name);
      const r = te ? teName(rest, moeLayer, cfg.mla !== undefined) : rest;
      everyRank((t, e) => put(stage, t, e, localName(r), cut(d, cutOf(r, te), t, tp)));
      continue;
    }
    if (style === 'legacy-grouped') {
      if (groupedDone.has(layer)) continue;
      groupedDone.add(layer);
      // GroupedMLP: weight1 [H, E_local·2F/TP] = the local experts' fc1 TP pieces, each transposed, one after another
      for (let e = 0; e < ep; e++) {
        for (let t = 0; t < tp; t++) {
          const fc1 = Array.from({ length: local }, (_, j) => transposed(cut(dense(`decoder.layers.${layer}.mlp.experts.local_experts.${e * local + j}.linear_fc1.weight`), 'glu', t, tp)));
          const fc2 = Array.from({ length: local }, (_, j) => transposed(cut(dense(`decoder.layers.${layer}.mlp.experts.local_experts.${e * local + j}.linear_fc2.weight`), 'dim1', t, tp)));
          const w1 = catRows(fc1.map((x) => ({ ...x, shape: [1, x.bytes.length / itemsize(x.dtype)] })));
          const h = fc1[0]!.shape[0]!;
          put(stage, t, e, localName('mlp.experts.weight1'), { ...w1, shape: [h, w1.bytes.length / itemsize(w1.dtype) / h] });
          put(stage, t, e, localName('mlp.experts.weight2'), catRows(fc2));
        }
      }
      continue;
    }
    const g = Number(expert[1]);
    const owner = Math.floor(g / local);
    const j = g % local;
    const key = style === 'te-grouped' ? `mlp.experts.${expert[2]}.weight${j}` : `mlp.experts.local_experts.${j}.${expert[2]}.weight`;
    const d = dense(name);
    for (let t = 0; t < tp; t++) put(stage, t, owner, localName(key), cut(d, expert[2] === 'linear_fc1' ? 'glu' : 'dim1', t, tp));
  }

  if (layout.unknownTensor) {
    const d = dense('decoder.final_layernorm.weight');
    everyRank((t, e) => put(pp - 1, t, e, layout.unknownTensor!, d));
  }

  const top = readTorchSave(ck.layout.files[0]!).value as Map<unknown, unknown>;
  const args = plainArgs(ck.args as Record<string, unknown>);
  args.set('tensor_model_parallel_size', tp);
  args.set('pipeline_model_parallel_size', pp);
  args.set('expert_model_parallel_size', ep);
  args.set('expert_tensor_parallel_size', tp);
  // Megatron needs the first stage's size spelt out when the layers do not divide evenly
  args.set('decoder_first_pipeline_num_layers', first * pp === L ? null : first);
  args.set('moe_grouped_gemm', style !== 'sequential');
  if (te) args.set('transformer_impl', 'transformer_engine');
  const iteration = ck.iteration ?? 1;
  rmSync(dst, { recursive: true, force: true });
  const iterDir = join(dst, `iter_${String(iteration).padStart(7, '0')}`);
  for (const [k, model] of files) {
    const [p, t, e] = k.split('/').map(Number) as [number, number, number];
    const dir = join(iterDir, rankDir(t, p, e, pp, ep));
    mkdirSync(dir, { recursive: true });
    const root = new Map<PyValue, PyValue>([
      ['args', py.namespace(args)],
      ['checkpoint_version', py.float(typeof top.get('checkpoint_version') === 'number' ? (top.get('checkpoint_version') as number) : 3)],
      ['iteration', iteration],
      ['model', py.odict(model)],
    ]);
    const sink = new FileSink(join(dir, 'model_optim_rng.pt'));
    try {
      torchSave(sink, 'model_optim_rng', root, `${dst}:${k}`);
    } finally {
      sink.close();
    }
  }
  writeFileSync(join(dst, 'latest_checkpointed_iteration.txt'), String(iteration));
  return iterDir;
}
