// Entry point of the Megatron checkpoint generator (benchmarks and tests; not part of the runtime library).
// Writes a checkpoint root (latest_checkpointed_iteration.txt + iter_XXXXXXX/) and a sidecar
// `mcore-generate.json` with what was intended: the spec, every stored tensor piece with its sha256, and
// optionally the sha256 of every global tensor in its TP1 layout.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fail } from '../../lib/errors.js';
import type { CkptFormat } from './args.js';
import { writeDist } from './dist.js';
import { writeLegacy } from './legacy.js';
import { paddedVocabSize, stageEntries, validate, type GlobalTensor, type ModelSpec, type Parallel } from './model.js';
import { globalDigest, makeContext } from './tensors.js';

export const MANIFEST_NAME = 'mcore-generate.json';

export interface GenerateOptions {
  /** checkpoint root directory (created; must be empty or absent unless `overwrite`) */
  root: string;
  spec: ModelSpec;
  tp?: number;
  pp?: number;
  format: CkptFormat;
  iteration?: number;
  seed?: number;
  /** storage device tags in legacy files: 'cuda' (as trained, default) or 'cpu' */
  location?: 'cuda' | 'cpu';
  /** sha256 of every stored tensor piece (default true; costs ~0.6 s/GB) */
  digests?: boolean;
  /** sha256 of every global tensor, re-generated whole (default false; small models) */
  globalDigests?: boolean;
  /** replace an existing generated checkpoint at `root` */
  overwrite?: boolean;
}

export interface WriteOptions {
  root: string;
  par: Parallel;
  iteration: number;
  location: 'cuda' | 'cpu';
  digests: boolean;
}

export interface TensorRecord {
  /** state-dict key (legacy, stage-local layer numbers) or DCP fqn (torch_dist) */
  key: string;
  /** torch_dist: the chunk's offset in the global (stacked) tensor */
  offset?: number[];
  /** the global tensor (TP1 PP1 legacy name) this piece belongs to */
  global: string;
  dtype: string;
  shape: number[];
  sha256: string;
}

export interface FileRecord {
  /** relative to the iteration directory */
  path: string;
  bytes: number;
  tensors: TensorRecord[];
}

export interface GenerateManifest {
  generator: 'mcore-export tools/generate';
  format: CkptFormat;
  tp: number;
  pp: number;
  iteration: number;
  seed: number;
  spec: ModelSpec;
  paddedVocabSize: number;
  iterationDir: string;
  files: FileRecord[];
  /** global tensors (TP1 PP1 names), with sha256 when globalDigests */
  globals: { name: string; dtype: string; shape: number[]; sha256?: string }[];
  totalBytes: number;
  seconds: number;
}

export function iterDirName(iteration: number): string {
  return `iter_${String(iteration).padStart(7, '0')}`;
}

/** All global tensors of the model, in TP1 PP1 state-dict order (the vocabulary padded for `tp`). */
export function globalTensors(spec: ModelSpec, tp = 1): GlobalTensor[] {
  return stageEntries(spec, { tp, pp: 1 }, 0).flatMap((e) => ('tensor' in e ? [e.tensor] : []));
}

export function generateCheckpoint(o: GenerateOptions): GenerateManifest {
  const t0 = performance.now();
  const par: Parallel = { tp: o.tp ?? 1, pp: o.pp ?? 1 };
  validate(o.spec, par);
  // torch_dist would stack the experts into 3-D tensors and keep mixed dense/MoE layers per layer: not written yet
  if (o.format === 'torch_dist' && (o.spec.mla || o.spec.moe)) fail('E_UNSUPPORTED', 'the generator writes MLA / MoE models in the legacy torch format only');
  const iteration = o.iteration ?? 10;
  if (!Number.isSafeInteger(iteration) || iteration < 0) fail('E_USAGE', `iteration must be a non-negative integer, got ${iteration}`);
  const root = resolve(o.root);
  const iterName = iterDirName(iteration);
  const iterDir = join(root, iterName);
  if (existsSync(root) && readdirSync(root).length > 0) {
    if (!o.overwrite) fail('E_USAGE', 'checkpoint root exists and is not empty (pass overwrite)', { file: root });
    if (!existsSync(join(root, MANIFEST_NAME))) fail('E_USAGE', `refusing to overwrite a directory the generator did not write (no ${MANIFEST_NAME})`, { file: root });
    for (const name of readdirSync(root)) rmSync(join(root, name), { recursive: true, force: true });
  }
  mkdirSync(iterDir, { recursive: true });
  const ctx = makeContext(o.spec, o.seed ?? 0);
  const w: WriteOptions = { root, par, iteration, location: o.location ?? 'cuda', digests: o.digests ?? true };
  const files = o.format === 'torch' ? writeLegacy(ctx, w, iterDir) : writeDist(ctx, w, iterDir);
  // Megatron writes the tracker last, once every rank is done.
  writeFileSync(join(root, 'latest_checkpointed_iteration.txt'), String(iteration));
  const globals = globalTensors(o.spec, par.tp).map((t) => ({
    name: t.name,
    dtype: t.dtype ?? o.spec.dtype,
    shape: t.shape,
    ...(o.globalDigests ? { sha256: globalDigest(ctx, t) } : {}),
  }));
  const manifest: GenerateManifest = {
    generator: 'mcore-export tools/generate',
    format: o.format,
    tp: par.tp,
    pp: par.pp,
    iteration,
    seed: o.seed ?? 0,
    spec: o.spec,
    paddedVocabSize: paddedVocabSize(o.spec, par.tp),
    iterationDir: iterName,
    files,
    globals,
    totalBytes: files.reduce((a, f) => a + f.bytes, 0),
    seconds: (performance.now() - t0) / 1000,
  };
  writeFileSync(join(root, MANIFEST_NAME), JSON.stringify(manifest, null, 1));
  return manifest;
}
