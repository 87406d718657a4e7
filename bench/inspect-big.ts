// `inspect` on big torch_dist checkpoints without big disks: every tensor's data is a hole in a sparse
// .distcp file (the zip records, pickles and .metadata are real; only the tensor bytes are never written), so a
// multi-GiB checkpoint costs a few KiB of disk. The CLI runs as a child with bench/inspect-big.hook.mjs
// preloaded, which reports its read() byte count (rchar) and lifetime.
//
//   npx vite-node bench/inspect-big.run.ts
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argsFields } from '../tools/generate/args.js';
import { dcpKey } from '../tools/generate/dist.js';
import { presetSpec, stageEntries, type GlobalTensor, type ModelSpec } from '../tools/generate/model.js';
import { pickle, py, type PyObj, type PyValue } from '../tools/generate/pickle.js';
import type { Sink } from '../tools/generate/sink.js';
import { tensorValue, torchSave, type TensorData } from '../tools/generate/torch-save.js';

const ROOT = join(import.meta.dirname, '..');
const M = 'torch.distributed.checkpoint.metadata';
/** Tensor data is fed as views of this buffer; the sink turns them into holes instead of writing them. */
const HOLE = new Uint8Array(64 << 20);

/** Writes at a known position, skipping HOLE chunks (they become unallocated file ranges). */
class SparseSink implements Sink {
  position = 0;
  private fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }
  write(chunk: Uint8Array): void {
    if (chunk.buffer !== HOLE.buffer) {
      let done = 0;
      while (done < chunk.length) done += writeSync(this.fd, chunk, done, chunk.length - done, this.position + done);
    }
    this.position += chunk.length;
  }
  close(): void {
    ftruncateSync(this.fd, this.position);
    closeSync(this.fd);
  }
}

function holeTensor(shape: number[]): TensorData {
  const bytes = shape.reduce((a, b) => a * b, 1) * 2;
  return {
    dtype: 'bfloat16',
    shape,
    location: 'cpu',
    produce: (w) => {
      for (let left = bytes; left > 0; left -= HOLE.length) w(HOLE.subarray(0, Math.min(left, HOLE.length)));
    },
  };
}

const size = (dims: readonly number[]): PyObj => py.reduce(py.global('torch', 'Size'), py.tuple(py.tuple(...dims)));

export interface SparseCheckpoint {
  root: string;
  distcp: string;
  /** apparent size of the .distcp file */
  fileBytes: number;
  /** TP1 PP1 names of the model's tensors (the generator's own list) */
  names: string[];
  chunks: number;
}

/** A one-file (TP1 PP1) bf16 torch_dist checkpoint of `spec` whose tensor bytes are all holes. */
export function writeSparseTorchDist(root: string, spec: ModelSpec): SparseCheckpoint {
  const iterDir = join(root, 'iter_0000010');
  mkdirSync(iterDir, { recursive: true });
  const rel = '__0_0.distcp';
  const distcp = join(iterDir, rel);
  const tensors = stageEntries(spec, { tp: 1, pp: 1 }, 0).flatMap((e) => ('tensor' in e ? [e.tensor] : [])) as GlobalTensor[];
  const sink = new SparseSink(distcp);
  const storage = new Map<PyValue, PyValue>();
  const keys = new Map<string, { shape: number[]; chunks: { offsets: number[]; sizes: number[] }[] }>();
  const info = (at: number) => py.newobj(py.global('torch.distributed.checkpoint.filesystem', '_StorageInfo'), [], { relative_path: rel, offset: at, length: sink.position - at });
  let chunks = 0;
  try {
    const common = new Map<PyValue, PyValue>([
      ['args', py.namespace(argsFields(spec, { tp: 1, pp: 1 }, 'torch_dist', 10, root))],
      ['checkpoint_version', py.float(3.0)],
      ['iteration', 10],
    ]);
    let at = sink.position;
    torchSave(sink, 'archive', [common], 'common');
    storage.set(py.newobj(py.global(M, 'MetadataIndex'), [], { fqn: 'common_state/shard_0_1', index: null }), info(at));
    for (const t of tensors) {
      if (t.valuesOf !== t.name) continue; // a tied copy: torch_dist keeps only the embedding
      const key = dcpKey(t);
      const stacked = t.layer !== null;
      const offsets = stacked ? [t.layer!, ...t.shape.map(() => 0)] : t.shape.map(() => 0);
      const sizes = stacked ? [1, ...t.shape] : [...t.shape];
      const k = keys.get(key) ?? { shape: stacked ? [spec.numLayers, ...t.shape] : [...t.shape], chunks: [] };
      keys.set(key, k);
      at = sink.position;
      torchSave(sink, 'archive', tensorValue(holeTensor(sizes)), key);
      k.chunks.push({ offsets, sizes });
      storage.set(py.newobj(py.global(M, 'MetadataIndex'), [], { fqn: key, offset: size(offsets), index: null }), info(at));
      chunks++;
    }
  } finally {
    sink.close();
  }
  const properties = py.newobj(py.global(M, 'TensorProperties'), [], py.tuple(py.torchDtype('bfloat16'), py.reduce(py.global('torch.serialization', '_get_layout'), py.tuple('torch.strided')), false, py.reduce(py.global(M, '_MEM_FORMAT_ENCODING'), py.tuple(0)), false));
  const sdm = new Map<PyValue, PyValue>([['common_state/shard_0_1', py.newobj(py.global(M, 'BytesStorageMetadata'))]]);
  for (const [key, k] of keys) {
    sdm.set(key, py.newobj(py.global(M, 'TensorStorageMetadata'), [], { properties, size: size(k.shape), chunks: k.chunks.map((c) => py.newobj(py.global(M, 'ChunkStorageMetadata'), [], { offsets: size(c.offsets), sizes: size(c.sizes) })) }));
  }
  const meta = py.newobj(py.global(M, 'Metadata'), [], { state_dict_metadata: sdm, planner_data: null, storage_data: storage, version: '1.0.0' });
  writeFileSync(join(iterDir, '.metadata'), pickle(meta, { protocol: 4 }));
  writeFileSync(join(iterDir, 'metadata.json'), JSON.stringify({ sharded_backend: 'torch_dist', sharded_backend_version: 1 }));
  writeFileSync(join(root, 'latest_checkpointed_iteration.txt'), '10');
  const names = tensors.filter((t) => t.valuesOf === t.name).map((t) => t.name);
  return { root, distcp, fileBytes: statSync(distcp).size, names, chunks };
}

/** A checkpoint with one ≥ 4 GiB tensor: a 2-layer llama with a tied 532 480 × 4096 bf16 embedding (4.06 GiB). */
export function bigVocabSpec(): ModelSpec {
  return presetSpec('llama', { untieEmbeddings: false, numLayers: 2, hiddenSize: 4096, ffnHiddenSize: 14336, numAttentionHeads: 32, numQueryGroups: 8, vocabSize: 532480, makeVocabSizeDivisibleBy: 128, maxPositionEmbeddings: 8192 });
}

/** Llama-3-8B's shape (32 layers, 4096 hidden, 128 256 vocabulary): ~16 GB of holes in 291 chunks. */
export function llama8bSpec(): ModelSpec {
  return presetSpec('llama', { numLayers: 32, hiddenSize: 4096, ffnHiddenSize: 14336, numAttentionHeads: 32, numQueryGroups: 8, vocabSize: 128256, makeVocabSizeDivisibleBy: 128, maxPositionEmbeddings: 8192 });
}

export interface InspectRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** /proc/self/io of the CLI process at exit, plus uptime_ms */
  io: Record<string, number>;
  wallMs: number;
}

/**
 * `npm run build:ts` into a private directory (`<dir>/dist` + a copy of `bin/`), so runs are not disturbed
 * by other builds of the shared tree's dist/. Returns `<dir>/bin/mcore-export.js`.
 */
export function buildPrivateCli(dir: string): string {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], { encoding: 'utf8', timeout: 300_000 });
  // type errors elsewhere in the tree do not stop tsc from emitting; a missing entry point does
  if (!existsSync(join(dir, 'dist/cli/main.js'))) throw new Error(`CLI build failed: ${r.stdout}${r.stderr}`);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  copyFileSync(join(ROOT, 'bin/mcore-export.js'), join(dir, 'bin/mcore-export.js'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'bin/mcore-export.js');
}

/** Runs `<cli> inspect ...args` with the I/O hook. */
export function runInspect(cli: string, ...args: string[]): InspectRun {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'bench/inspect-big.hook.mjs'), cli, 'inspect', ...args], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  const wallMs = performance.now() - t0;
  const m = /@@io (\{.*\})/.exec(r.stderr);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.replace(/\n?@@io .*\n?/, ''), io: m ? JSON.parse(m[1]!) : {}, wallMs };
}

/** Prints a markdown table: size on disk vs. apparent size, bytes read and time of `inspect --json`. */
export function main(): void {
  const work = mkdtempSync(join(tmpdir(), 'inspect-big-'));
  try {
    const rows: string[] = ['| checkpoint | .distcp apparent size | disk used | chunks | bytes read of the checkpoint | inspect process lifetime |', '|---|---|---|---|---|---|'];
    const cli = buildPrivateCli(join(work, 'cli'));
    // the same process reading no checkpoint: module loading etc., subtracted from every run
    const base = runInspect(cli, '--help').io.rchar!;
    const small = writeSparseTorchDist(join(work, 'tiny'), presetSpec('llama'));
    for (const [label, spec] of [['tiny llama (baseline)', presetSpec('llama')], ['2-layer llama, one 4.06 GiB embedding', bigVocabSpec()], ['Llama-3-8B shape', llama8bSpec()]] as const) {
      const ck = label.startsWith('tiny') ? small : writeSparseTorchDist(join(work, label.replace(/\W+/g, '-')), spec);
      const run = runInspect(cli, ck.root, '--json');
      if (run.code !== 0) throw new Error(`inspect failed: ${run.stderr}`);
      const disk = Number(spawnSync('du', ['-k', ck.distcp], { encoding: 'utf8' }).stdout.split('\t')[0]) * 1024;
      rows.push(`| ${label} | ${(ck.fileBytes / 2 ** 30).toFixed(2)} GiB | ${(disk / 1024).toFixed(0)} KiB | ${ck.chunks} | ${((run.io.rchar! - base) / 1024).toFixed(0)} KiB | ${run.io.uptime_ms} ms |`);
    }
    console.log(rows.join('\n'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
