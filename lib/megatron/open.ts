// openCheckpoint: one entry point for every checkpoint we read. Detects the format from what is on disk and
// hands off to the reader for it:
//   <root>/latest_checkpointed_iteration.txt → the iteration directory it names (iter_%07d or release)
//   iteration dir with metadata.json / .metadata → torch_dist (torch-dist.ts)
//   iteration dir with mp_rank_* → legacy torch (legacy.ts); a single model_optim_rng.pt → legacy, TP1 PP1
//   a .safetensors file, an index json, or a directory of them → safetensors (config from the caller)
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fail } from '../errors.js';
import { INDEX_FILE, openSafetensors } from '../formats/safetensors-dir.js';
import { fromView } from '../tensor/tensor.js';
import { type Args, configFromArgs } from './config.js';
import { listRankDirs, openLegacy } from './legacy.js';
import { guessModelType } from './model-type.js';
import { notMegatron, recognizeInput } from './recognize.js';
import { openTorchDist } from './torch-dist.js';
import { TRACKER_FILE, trackedIteration } from './tracker.js';
import type { Checkpoint, ModelType, TransformerConfig } from './types.js';

export { TRACKER_FILE };

export interface OpenCheckpointOptions {
  /** overrides the guessed model type */
  readonly modelType?: ModelType;
  /** safetensors checkpoints carry no Megatron args: give the config, or the args to derive it from */
  readonly config?: TransformerConfig;
  readonly args?: Args;
}

/** Opens a Megatron checkpoint (root, iteration directory or file) or a safetensors checkpoint. */
export function openCheckpoint(path: string, opts: OpenCheckpointOptions = {}): Checkpoint {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) fail('E_NOT_FOUND', 'checkpoint path does not exist', { file: path });
  const foreign = recognizeInput(path);
  if (foreign && foreign.kind !== 'megatron') fail(foreign.kind === 'torch-dist-file' ? 'E_USAGE' : 'E_UNSUPPORTED', notMegatron(foreign), { file: path });
  if (st.isFile()) {
    if (basename(path) === TRACKER_FILE) return openCheckpoint(dirname(path), opts);
    if (path.endsWith('.safetensors') || path.endsWith('.json')) return openSafetensorsCheckpoint(path, opts);
    if (!startsWithZip(path)) fail('E_UNSUPPORTED', 'not a zip-format torch.save file (pre-1.6 PyTorch archives and other formats are not supported)', { file: path });
    return legacyCheckpoint(path, null, opts);
  }
  if (!st.isDirectory()) fail('E_FORMAT', 'checkpoint path is neither a file nor a directory', { file: path });

  const tracker = join(path, TRACKER_FILE);
  if (existsSync(tracker)) {
    const { dir, iteration } = trackedIteration(path, tracker);
    return openIterationDir(dir, iteration, opts);
  }
  return openIterationDir(path, null, opts);
}

function openIterationDir(dir: string, iteration: number | null, opts: OpenCheckpointOptions): Checkpoint {
  if (!existsSync(dir)) fail('E_NOT_FOUND', 'the tracked iteration directory does not exist', { file: dir });
  if (existsSync(join(dir, 'metadata.json')) || existsSync(join(dir, '.metadata'))) {
    const ck = openTorchDist(dir, opts.modelType ? { modelType: opts.modelType } : {});
    return iteration !== null && ck.iteration === null ? { ...ck, iteration } : ck;
  }
  if (listRankDirs(dir).length > 0) return legacyCheckpoint(dir, iteration, opts);
  if (existsSync(join(dir, INDEX_FILE)) || readdirSync(dir).some((n) => n.endsWith('.safetensors'))) return openSafetensorsCheckpoint(dir, opts);
  const iters = readdirSync(dir).filter((n) => /^iter_\d+$/.test(n) || n === 'release');
  if (iters.length) fail('E_NOT_FOUND', `no ${TRACKER_FILE}; open one of the iteration directories: ${iters.sort().slice(-5).join(', ')}`, { file: dir });
  return fail('E_NOT_FOUND', 'no Megatron checkpoint here (no tracker file, metadata.json, mp_rank_* directories or .safetensors files)', { file: dir });
}

function legacyCheckpoint(path: string, iteration: number | null, opts: OpenCheckpointOptions): Checkpoint {
  const ck = openLegacy(path, iteration);
  return {
    path,
    format: 'torch',
    iteration: ck.iteration,
    args: ck.args,
    config: ck.config,
    modelType: opts.modelType ?? guessModelType(ck.config, ck.args),
    layout: ck.layout,
    tensors: ck.tensors,
    ...(ck.extraState ? { extraState: ck.extraState } : {}),
    close() {
      // nothing is held open: views name files, the executor maps them
    },
  };
}

function openSafetensorsCheckpoint(path: string, opts: OpenCheckpointOptions): Checkpoint {
  const config = opts.config ?? (opts.args ? configFromArgs(opts.args, path) : undefined);
  if (!config) fail('E_CONFIG', 'a safetensors checkpoint carries no Megatron args: pass a TransformerConfig (config) or the args to derive it from', { file: path });
  const st = openSafetensors(path);
  return {
    path,
    format: 'safetensors',
    iteration: null,
    args: opts.args ?? null,
    config,
    modelType: opts.modelType ?? guessModelType(config, opts.args ?? null),
    layout: { tp: 1, pp: 1, ep: 1, vp: 1, files: [...st.files] },
    tensors: new Map([...st.tensors].map(([n, v]) => [n, fromView(v)])),
    close() {
      // nothing is held open
    },
  };
}

function startsWithZip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32LE(0) === 0x04034b50;
  } finally {
    closeSync(fd);
  }
}
