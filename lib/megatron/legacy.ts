// Legacy `--ckpt-format torch` checkpoints: one `mp_rank_TT[_PPP][_EEE]/model_optim_rng.pt` per
// (tensor, pipeline, expert) rank in an iteration directory. Reads every rank file's pickle (small: tensors stay
// on disk as views), then merges the ranks into logical TP1 PP1 tensors (merge.ts).
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fail } from '../errors.js';
import { readTorchSave } from '../formats/torch-save.js';
import type { Tensor } from '../tensor/tensor.js';
import { type Args, configFromArgs } from './config.js';
import { mergeLegacy, type RankStateDict } from './merge.js';
import type { TrainingLayout, TransformerConfig } from './types.js';

export const LEGACY_FILE = 'model_optim_rng.pt';
const RANK_DIR = /^mp_rank_(\d{2,})(?:_(\d{3,}))?(?:_(\d{3,}))?$/;

export interface LegacyCheckpoint {
  readonly args: Args;
  readonly iteration: number | null;
  readonly checkpointVersion: number | null;
  readonly config: TransformerConfig;
  readonly layout: TrainingLayout;
  readonly tensors: Map<string, Tensor>;
  /** `_extra_state` values of a TP1 PP1 EP1 checkpoint (see Checkpoint.extraState) */
  readonly extraState?: ReadonlyMap<string, () => unknown>;
}

interface RankFile {
  readonly dir: string;
  readonly file: string;
  readonly fields: number[];
  readonly top: Map<unknown, unknown>;
  readonly args: Args;
}

/** The `mp_rank_*` directories of an iteration directory that hold a model file. */
export function listRankDirs(iterDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(iterDir);
  } catch (e) {
    return fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO', `cannot list directory: ${(e as Error).message}`, { file: iterDir, cause: e });
  }
  return names.filter((n) => RANK_DIR.test(n)).sort();
}

function readRankFile(file: string, dir: string): RankFile {
  const m = RANK_DIR.exec(dir);
  const fields = m ? m.slice(1).filter((x) => x !== undefined).map(Number) : [0];
  const top = readTorchSave(file).value;
  if (!(top instanceof Map)) fail('E_FORMAT', 'model file does not hold a dict', { file });
  const args = top.get('args');
  if (args === null || typeof args !== 'object' || args instanceof Map || Array.isArray(args)) {
    fail('E_FORMAT', "model file has no 'args' namespace (not a Megatron checkpoint?)", { file });
  }
  return { dir, file, fields, top, args: args as Args };
}

function sizeArg(args: Args, key: string, file: string): number {
  const v = args[key];
  if (v === undefined || v === null) return 1;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail('E_FORMAT', `args.${key} is ${String(v)}, not a positive integer`, { file });
  return v;
}

function optionalIntArg(args: Args, key: string): number | undefined {
  const v = args[key];
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
}

/**
 * Opens a legacy checkpoint from its iteration directory (`iter_0000010/`, `release/`) or from one
 * `model_optim_rng.pt` of a TP1 PP1 EP1 checkpoint.
 */
export function openLegacy(path: string, iteration: number | null = null): LegacyCheckpoint {
  const single = statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  const iterDir = single ? null : path;
  const dirs = iterDir ? listRankDirs(iterDir) : [];
  if (iterDir && dirs.length === 0) fail('E_NOT_FOUND', 'no mp_rank_* directories', { file: iterDir });

  const ranks: RankFile[] = single
    ? [readRankFile(path, '')]
    : dirs.map((d) => {
        const file = join(iterDir!, d, LEGACY_FILE);
        if (!statSync(file, { throwIfNoEntry: false })?.isFile()) fail('E_NOT_FOUND', `${d} holds no ${LEGACY_FILE}`, { file });
        return readRankFile(file, d);
      });
  const first = ranks[0]!;
  const args = first.args;
  const tp = sizeArg(args, 'tensor_model_parallel_size', first.file);
  const pp = sizeArg(args, 'pipeline_model_parallel_size', first.file);
  const ep = sizeArg(args, 'expert_model_parallel_size', first.file);
  const vp = sizeArg(args, 'virtual_pipeline_model_parallel_size', first.file);
  const etp = args['expert_tensor_parallel_size'];
  if (ep > 1 && typeof etp === 'number' && etp !== tp) {
    fail('E_UNSUPPORTED', `expert tensor parallelism ${etp} differs from tensor parallelism ${tp} in a legacy checkpoint; save it as torch_dist`, { file: first.file });
  }
  if (single && tp * pp * ep > 1) {
    fail('E_USAGE', `this file is one rank of a TP${tp} PP${pp} EP${ep} checkpoint; open its iteration directory`, { file: path });
  }

  // Which rank each file is: mp_rank_TT[_PPP][_EEE]; the two-field form is PP when PP > 1, else EP.
  const byRank = new Map<string, RankFile>();
  for (const r of ranks) {
    for (const key of ['tensor_model_parallel_size', 'pipeline_model_parallel_size', 'expert_model_parallel_size']) {
      if (sizeArg(r.args, key, r.file) !== sizeArg(args, key, first.file)) fail('E_FORMAT', `args.${key} differs from ${first.file}'s: files of different checkpoints mixed`, { file: r.file });
    }
    let [t = 0, p = 0, e = 0] = [0, 0, 0];
    const f = r.fields;
    if (f.length === 1) t = f[0]!;
    else if (f.length === 2) [t, p, e] = pp > 1 ? [f[0]!, f[1]!, 0] : [f[0]!, 0, f[1]!];
    else [t, p, e] = f as [number, number, number];
    const expectedFields = 1 + (pp > 1 ? 1 : 0) + (ep > 1 ? 1 : 0);
    if (!single && f.length !== expectedFields) fail('E_FORMAT', `directory ${r.dir} does not match a TP${tp} PP${pp} EP${ep} layout`, { file: r.file });
    if (t >= tp || p >= pp || e >= ep) fail('E_FORMAT', `directory ${r.dir} names a rank outside TP${tp} PP${pp} EP${ep}`, { file: r.file });
    byRank.set(`${t}/${p}/${e}`, r);
  }
  const shards: RankStateDict[] = [];
  for (let p = 0; p < pp; p++) {
    for (let t = 0; t < tp; t++) {
      for (let e = 0; e < ep; e++) {
        const r = byRank.get(`${t}/${p}/${e}`);
        if (!r) fail('E_NOT_FOUND', `rank file for tensor rank ${t}, pipeline rank ${p}, expert rank ${e} is missing (expected ${rankDirName(t, p, e, pp, ep)}/${LEGACY_FILE})`, { file: iterDir ?? path });
        for (let v = 0; v < vp; v++) {
          const key = vp > 1 ? `model${v}` : 'model';
          const entries = r.top.get(key);
          if (!(entries instanceof Map)) fail('E_FORMAT', `'${key}' state dict is missing`, { file: r.file });
          shards.push({ tp: t, pp: p, ep: e, vp: v, file: r.file, entries });
        }
      }
    }
  }

  const config = configFromArgs(args, first.file);
  const tensors = mergeLegacy(shards, {
    tp,
    pp,
    ep,
    vp,
    numLayers: config.numLayers,
    gatedLinearUnit: config.gatedLinearUnit,
    numExperts: config.numMoeExperts,
    tiedEmbeddings: args['untie_embeddings_and_output_weights'] !== true,
    // the local spec builds MLA's down projections as ColumnParallelLinear, Transformer Engine as duplicated TELinear
    mlaDownProj: args['transformer_impl'] === 'local' ? 'dim0' : 'replicated',
    firstStageLayers: optionalIntArg(args, 'decoder_first_pipeline_num_layers'),
    lastStageLayers: optionalIntArg(args, 'decoder_last_pipeline_num_layers'),
  });
  const it = first.top.get('iteration');
  // Per-rank FP8 states of a sharded legacy checkpoint would need merging: only a single shard's are offered.
  const extraState =
    shards.length === 1
      ? new Map([...shards[0]!.entries].filter(([k]) => typeof k === 'string' && k.includes('._extra_state')).map(([k, v]) => [k as string, () => v]))
      : undefined;
  const cv = first.top.get('checkpoint_version');
  return {
    args,
    iteration: iteration ?? (typeof it === 'number' ? it : iterationFromDir(iterDir)),
    checkpointVersion: typeof cv === 'number' ? cv : null,
    config,
    layout: { tp, pp, ep, vp, files: ranks.map((r) => r.file) },
    tensors,
    ...(extraState ? { extraState } : {}),
  };
}

function rankDirName(t: number, p: number, e: number, pp: number, ep: number): string {
  return `mp_rank_${String(t).padStart(2, '0')}${pp > 1 ? `_${String(p).padStart(3, '0')}` : ''}${ep > 1 ? `_${String(e).padStart(3, '0')}` : ''}`;
}

function iterationFromDir(dir: string | null): number | null {
  const m = dir ? /^iter_(\d+)$/.exec(basename(dir)) : null;
  return m ? Number(m[1]) : null;
}
