// Megatron-Core's `torch_dist` checkpoint (a torch.distributed.checkpoint directory) opened without Python:
// `.metadata` lists every tensor's global shape and chunks, each chunk is a small torch.save archive stored at a
// byte range of a `.distcp` file, and Megatron's non-tensor state (args, iteration) is a pickled byte item
// (`common_state/shard_0_1`, or `common.pt` in older Megatron). Only headers and pickles are read; tensors are
// lazy views over the .distcp bytes, assembled into global tensors and renamed as a TP1 PP1 legacy state dict.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fail } from '../errors.js';
import { isView, readTorchSave } from '../formats/torch-save.js';
import { fmtShape, sameShape } from '../tensor/shape.js';
import { checkTiling, type Block, type Tensor } from '../tensor/tensor.js';
import { type Args, configFromArgs } from './config.js';
import { type DcpEntry, type DcpStorageInfo, parseDcpMetadata } from './dcp-metadata.js';
import { isModelWeightKey, legacyEntries } from './dcp-names.js';
import { guessModelType } from './model-type.js';
import { TRACKER_FILE, trackedIteration } from './tracker.js';
import type { Checkpoint, ModelType, TrainingLayout } from './types.js';

export interface OpenTorchDistOptions {
  /** overrides the guessed model type */
  modelType?: ModelType;
}

/** `.metadata` of a big model is a few MB (it also carries every rank's save plan); refuse absurd ones. */
const MAX_METADATA_BYTES = 1 << 30;
const COMMON_STATE_KEY = 'common_state/shard_0_1';

/** The iteration directory: `dir` itself, or the one its tracker file points to. */
export function torchDistIterationDir(dir: string): { iterDir: string; trackerIteration: number | null } {
  const tracker = join(dir, TRACKER_FILE);
  if (existsSync(join(dir, '.metadata')) || !existsSync(tracker)) return { iterDir: dir, trackerIteration: null };
  const { dir: iterDir, iteration } = trackedIteration(dir, tracker);
  return { iterDir, trackerIteration: iteration };
}

function checkBackend(iterDir: string): void {
  const file = join(iterDir, 'metadata.json');
  if (!existsSync(file)) {
    if (existsSync(join(iterDir, '.metadata'))) {
      fail('E_UNSUPPORTED', 'a plain PyTorch DCP directory (no Megatron metadata.json): only Megatron torch_dist checkpoints are supported', { file: iterDir });
    }
    fail('E_NOT_FOUND', 'no metadata.json: not a torch_dist checkpoint directory', { file: iterDir });
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    fail('E_FORMAT', `metadata.json is not JSON: ${(e as Error).message}`, { file, cause: e });
  }
  const backend = (json as { sharded_backend?: unknown } | null)?.sharded_backend;
  if (backend !== 'torch_dist') fail('E_UNSUPPORTED', `sharded_backend '${String(backend)}' (only torch_dist is supported)`, { file });
}

/** A `.distcp` (or other) file named by `.metadata`: a bare file name inside the checkpoint directory. */
function itemPath(iterDir: string, s: DcpStorageInfo, metaFile: string, fqn: string): string {
  const rel = s.relativePath;
  if (rel === '' || rel === '.' || rel === '..' || basename(rel) !== rel || rel.includes('\\')) {
    fail('E_FORMAT', `storage path '${rel}' is not a file name inside the checkpoint directory`, { file: metaFile, tensor: fqn });
  }
  return join(iterDir, rel);
}

/** Megatron's common state dict (args, iteration, ...): from `common.pt`, or the pickled byte item. */
function readCommonState(iterDir: string, entries: ReadonlyMap<string, DcpEntry>, metaFile: string): { state: Map<unknown, unknown>; file: string } {
  const commonPt = join(iterDir, 'common.pt');
  if (existsSync(commonPt)) {
    const v = readTorchSave(commonPt).value;
    if (!(v instanceof Map)) fail('E_FORMAT', 'common.pt does not hold a dict', { file: commonPt });
    return { state: v, file: commonPt };
  }
  const item = entries.get(COMMON_STATE_KEY);
  if (!item || item.kind !== 'bytes') fail('E_FORMAT', `neither common.pt nor a '${COMMON_STATE_KEY}' byte item: the checkpoint's args are missing`, { file: metaFile });
  const path = itemPath(iterDir, item.storage, metaFile, COMMON_STATE_KEY);
  const where = `${path}@${item.storage.offset}+${item.storage.length}`;
  // Megatron saves ShardedObjects as torch.save([obj, ...]); the loader takes element 0
  let v = readTorchSave(path, { offset: item.storage.offset, length: item.storage.length }).value;
  if (Array.isArray(v)) v = v[0];
  if (!(v instanceof Map)) fail('E_FORMAT', `${COMMON_STATE_KEY} does not hold a dict`, { file: where });
  return { state: v, file: where };
}

function argsOf(state: Map<unknown, unknown>, file: string): Args {
  const a = state.get('args');
  if (a === null || typeof a !== 'object' || a instanceof Map || Array.isArray(a)) fail('E_FORMAT', 'common state has no args namespace', { file });
  return a as Args;
}

function positiveOr1(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : 1;
}

/** One chunk of a tensor as a lazy view: the chunk's torch.save archive is parsed, its bytes are not read. */
function chunkBlock(iterDir: string, metaFile: string, e: Extract<DcpEntry, { kind: 'tensor' }>, c: Extract<DcpEntry, { kind: 'tensor' }>['chunks'][number]): Block {
  const path = itemPath(iterDir, c.storage, metaFile, e.fqn);
  const v = readTorchSave(path, { offset: c.storage.offset, length: c.storage.length }).value;
  const where = { file: `${path}@${c.storage.offset}+${c.storage.length}`, tensor: e.fqn };
  if (!isView(v)) fail('E_FORMAT', `chunk at [${c.offsets.join(', ')}] is not a tensor`, where);
  if (v.dtype !== e.dtype || !sameShape(v.shape, c.sizes)) {
    fail('E_FORMAT', `chunk at [${c.offsets.join(', ')}] holds ${v.dtype} ${fmtShape(v.shape)}, metadata says ${e.dtype} ${fmtShape(c.sizes)}`, where);
  }
  return { at: c.offsets, view: v };
}

/** Orders entries as a legacy state dict reads: embedding, layers by number, then the rest. */
function legacyOrder(names: readonly string[]): string[] {
  const rank = (n: string): [number, number] => {
    if (n.startsWith('embedding.')) return [0, 0];
    const m = /^decoder\.layers\.(\d+)\./.exec(n);
    return m ? [1, Number(m[1])] : [2, 0];
  };
  return names
    .map((n, i) => ({ n, i, r: rank(n) }))
    .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.i - b.i)
    .map((x) => x.n);
}

/** `<module>._extra_state/shard_<layer>_<layers>` byte items → `decoder.layers.<layer>.<module>._extra_state`, read lazily. */
function dcpExtraState(iterDir: string, metaFile: string, entries: ReadonlyMap<string, DcpEntry>): Map<string, () => unknown> {
  const out = new Map<string, () => unknown>();
  for (const e of entries.values()) {
    const m = /^(.*)\._extra_state\/shard_(\d+)_(\d+)$/.exec(e.fqn);
    if (e.kind !== 'bytes' || !m) continue;
    const [, module, index] = m as unknown as [string, string, string];
    const name = module.startsWith('decoder.layers.') ? `decoder.layers.${index}.${module.slice('decoder.layers.'.length)}._extra_state` : `${module}._extra_state`;
    const path = itemPath(iterDir, e.storage, metaFile, e.fqn);
    out.set(name, () => readTorchSave(path, { offset: e.storage.offset, length: e.storage.length }).value);
  }
  return out;
}

/** Opens a torch_dist checkpoint: the checkpoint root (with the tracker file) or an iteration directory. */
export function openTorchDist(dir: string, opts: OpenTorchDistOptions = {}): Checkpoint {
  const { iterDir, trackerIteration } = torchDistIterationDir(dir);
  if (!existsSync(iterDir) || !statSync(iterDir).isDirectory()) fail('E_NOT_FOUND', 'checkpoint iteration directory does not exist', { file: iterDir });
  checkBackend(iterDir);
  const metaFile = join(iterDir, '.metadata');
  if (!existsSync(metaFile)) fail('E_NOT_FOUND', 'torch_dist checkpoint has no .metadata', { file: iterDir });
  const metaStat = statSync(metaFile);
  if (!metaStat.isFile()) fail('E_FORMAT', '.metadata is not a regular file', { file: metaFile });
  if (metaStat.size > MAX_METADATA_BYTES) fail('E_UNSUPPORTED', `.metadata is ${metaStat.size} bytes, more than ${MAX_METADATA_BYTES}`, { file: metaFile });
  const meta = parseDcpMetadata(readFileSync(metaFile), metaFile);

  const common = readCommonState(iterDir, meta.entries, metaFile);
  const args = argsOf(common.state, common.file);
  const config = configFromArgs(args, common.file);
  const naming = {
    numLayers: config.numLayers,
    localSpec: args['transformer_impl'] === 'local',
    groupedGemm: args['moe_grouped_gemm'] === true,
  };

  const tensors = new Map<string, Tensor>();
  const files = new Set<string>();
  for (const e of meta.entries.values()) {
    if (e.kind !== 'tensor' || !isModelWeightKey(e.fqn)) continue;
    const blocks = e.chunks.map((c) => chunkBlock(iterDir, metaFile, e, c));
    for (const b of blocks) if (b.view.storage.kind === 'file') files.add(b.view.storage.path);
    const global: Tensor = { dtype: e.dtype, shape: e.size, blocks };
    for (const [name, t] of legacyEntries(e.fqn, global, naming)) {
      // chunks must tile each logical tensor exactly once (Megatron writes only main replicas)
      checkTiling(t, name);
      if (tensors.has(name)) fail('E_FORMAT', `two torch_dist keys map to the same tensor name`, { file: metaFile, tensor: name });
      tensors.set(name, t);
    }
  }
  if (tensors.size === 0) fail('E_FORMAT', 'checkpoint holds no model tensors', { file: metaFile });
  const extraState = dcpExtraState(iterDir, metaFile, meta.entries);
  const ordered = new Map(legacyOrder([...tensors.keys()]).map((n) => [n, tensors.get(n)!]));

  const iteration = typeof common.state.get('iteration') === 'number' ? (common.state.get('iteration') as number) : trackerIteration;
  const layout: TrainingLayout = {
    tp: positiveOr1(args['tensor_model_parallel_size']),
    pp: positiveOr1(args['pipeline_model_parallel_size']),
    ep: positiveOr1(args['expert_model_parallel_size']),
    vp: positiveOr1(args['virtual_pipeline_model_parallel_size']),
    files: [...files].sort(),
  };
  return {
    path: iterDir,
    format: 'torch_dist',
    iteration,
    args,
    config,
    modelType: opts.modelType ?? guessModelType(config, args),
    layout,
    tensors: ordered,
    extraState,
    close() {
      // nothing is held open: views name files, the executor maps them
    },
  };
}
