// Test-only: re-shards a TP1 torch_dist Megatron checkpoint (a real fixture) into the chunking a TP×EP training
// run saves: every key keeps its global shape (stacked [L, ...] or per-layer, experts [E, ...]) and is cut into
// one chunk per (layer, expert, TP piece) as Megatron's sharded state dicts cut it (test/support/reshard-legacy.ts
// cutOf: column / row / gated [gate_t | up_t] as two chunks / replicated written once), each chunk in the
// `.distcp` file of the rank that owns it (TP rank t, expert rank e → file __{t + TP·e}_0.distcp), with a DCP
// `.metadata` from the generator's writer (tools/generate/dist.ts) and the args saying the new layout.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTorchSave } from '../../lib/formats/torch-save.js';
import { parseDcpMetadata } from '../../lib/megatron/dcp-metadata.js';
import { isModelWeightKey } from '../../lib/megatron/dcp-names.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { itemsize } from '../../lib/tensor/dtype.js';
import { contiguousStrides, numel } from '../../lib/tensor/shape.js';
import type { Tensor } from '../../lib/tensor/tensor.js';
import type { View } from '../../lib/tensor/view.js';
import { M, metadataValue, size, storageInfo, type KeyMeta } from '../../tools/generate/dist.js';
import { pickle, py, type PyObj, type PyValue } from '../../tools/generate/pickle.js';
import { FileSink } from '../../tools/generate/sink.js';
import { bytesTensor, tensorValue, torchSave, type StorageDType } from '../../tools/generate/torch-save.js';
import { materialize } from './materialize.js';
import { cutOf, plainArgs, type Cut } from './reshard-legacy.js';

export interface DistLayout {
  tp?: number;
  ep?: number;
}

/** The box [offset, offset + sizes) of a row-major tensor, as contiguous bytes. */
function box(bytes: Uint8Array, shape: readonly number[], offset: readonly number[], sizes: readonly number[], item: number): Uint8Array {
  const strides = contiguousStrides(shape);
  const out = new Uint8Array(numel(sizes) * item);
  const last = sizes.length - 1;
  const rowBytes = (sizes[last] ?? 1) * item;
  const outer = sizes.slice(0, last);
  let k = 0;
  const walk = (d: number, base: number) => {
    if (d === last || sizes.length === 0) {
      const start = (base + (offset[last] ?? 0) * (strides[last] ?? 1)) * item;
      out.set(bytes.subarray(start, start + rowBytes), k);
      k += rowBytes;
      return;
    }
    for (let i = 0; i < outer[d]!; i++) walk(d + 1, base + (offset[d]! + i) * strides[d]!);
  };
  walk(0, 0);
  return out;
}

/** The TP pieces of a 1-D or 2-D body held by rank t: [offset, sizes] boxes (a gated fc1 gives two). */
function bodyPieces(body: readonly number[], cut: Cut, t: number, tp: number): [number[], number[]][] {
  const zero = body.map(() => 0);
  if (tp === 1 && cut !== 'glu') return [[zero, [...body]]];
  const rowsOf = (from: number, n: number): [number[], number[]] => [[from, ...body.slice(1).map(() => 0)], [n, ...body.slice(1)]];
  switch (cut) {
    case 'replicated':
      return [[zero, [...body]]];
    case 'dim0':
      return [rowsOf((t * body[0]!) / tp, body[0]! / tp)];
    case 'dim1':
      return [[[0, (t * body[1]!) / tp], [body[0]!, body[1]! / tp]]];
    case 'glu': {
      const half = body[0]! / 2;
      const n = half / tp;
      return [rowsOf(t * n, n), rowsOf(half + t * n, n)];
    }
  }
}

/** A torch_dist tensor entry as one logical tensor (its chunks as blocks over the fixture's bytes). */
function entryTensor(iterDir: string, e: { dtype: Tensor['dtype']; size: readonly number[]; chunks: readonly { offsets: readonly number[]; storage: { relativePath: string; offset: number; length: number } }[] }): Tensor {
  const blocks = e.chunks.map((c) => ({ at: c.offsets, view: readTorchSave(join(iterDir, c.storage.relativePath), { offset: c.storage.offset, length: c.storage.length }).value as View }));
  return { dtype: e.dtype, shape: [...e.size], blocks };
}

/** Writes the TP1 torch_dist checkpoint `src` re-chunked as `layout` under `dst` (a checkpoint root). */
export function reshardDist(src: string, dst: string, layout: DistLayout): string {
  const tp = layout.tp ?? 1;
  const ep = layout.ep ?? 1;
  const ck = openCheckpoint(src);
  if (ck.format !== 'torch_dist' || ck.layout.tp * ck.layout.pp * ck.layout.ep !== 1) throw new Error('reshard: the source must be a TP1 PP1 EP1 torch_dist checkpoint');
  const E = ck.config.moe?.numExperts ?? 1;
  const meta = parseDcpMetadata(readFileSync(join(ck.path, '.metadata')), ck.path);
  const iteration = ck.iteration ?? 1;
  rmSync(dst, { recursive: true, force: true });
  const iterDir = join(dst, `iter_${String(iteration).padStart(7, '0')}`);
  mkdirSync(iterDir, { recursive: true });

  const items = new Map<number, { fqn: string; offset?: number[]; value: PyValue }[]>();
  const add = (rank: number, it: { fqn: string; offset?: number[]; value: PyValue }) => void (items.get(rank) ?? items.set(rank, []).get(rank)!).push(it);
  const keys = new Map<string, KeyMeta>();
  const args = plainArgs(ck.args as Record<string, unknown>);
  args.set('tensor_model_parallel_size', tp);
  args.set('expert_model_parallel_size', ep);
  args.set('expert_tensor_parallel_size', tp);
  add(0, { fqn: 'common_state/shard_0_1', value: [new Map<PyValue, PyValue>([['args', py.namespace(args)], ['checkpoint_version', py.float(3.0)], ['iteration', iteration]])] });
  keys.set('common_state/shard_0_1', { bytes: true, globalShape: [], chunks: [] });

  for (const e of meta.entries.values()) {
    if (e.kind !== 'tensor' || !isModelWeightKey(e.fqn)) continue;
    const bytes = materialize(entryTensor(ck.path, e));
    const item = itemsize(e.dtype);
    const stacked = /^decoder\.layers\.(?!\d)/.test(e.fqn);
    const experts = /\.experts\.experts\.linear_fc[12]\.weight$/.test(e.fqn);
    const lead = (stacked ? 1 : 0) + (experts ? 1 : 0);
    const body = e.size.slice(lead);
    const rest = e.fqn.replace(/^decoder\.layers\.(\d+\.)?/, '');
    const cut = cutOf(rest, false);
    const meta: KeyMeta = { bytes: false, globalShape: [...e.size], chunks: [], ...(e.dtype !== ck.config.paramsDtype ? { dtype: e.dtype } : {}) };
    keys.set(e.fqn, meta);
    const leads: number[][] = lead === 0 ? [[]] : lead === 1 ? Array.from({ length: e.size[0]! }, (_, i) => [i]) : Array.from({ length: e.size[0]! * e.size[1]! }, (_, i) => [Math.floor(i / e.size[1]!), i % e.size[1]!]);
    for (const idx of leads) {
      const expert = experts ? idx[idx.length - 1]! : null;
      const owner = expert === null ? 0 : Math.floor(expert / (E / ep));
      for (let t = 0; t < tp; t++) {
        if (cut === 'replicated' && t > 0) continue;
        for (const [off, sz] of bodyPieces(body, cut, t, tp)) {
          const offset = [...idx, ...off];
          const sizes = [...idx.map(() => 1), ...sz];
          meta.chunks.push({ offset, shape: sizes });
          add(t + tp * owner, { fqn: e.fqn, offset, value: tensorValue(bytesTensor(e.dtype as StorageDType, sizes, box(bytes, e.size, offset, sizes, item))) });
        }
      }
    }
  }

  const storage: [PyObj, PyObj][] = [];
  for (const [rank, list] of [...items].sort((a, b) => a[0] - b[0])) {
    const rel = `__${rank}_0.distcp`;
    const sink = new FileSink(join(iterDir, rel));
    try {
      for (const it of list) {
        const at = sink.position;
        torchSave(sink, 'archive', it.value, `${dst}:${it.fqn}:${it.offset?.join('.') ?? ''}`);
        const index: PyValue = it.offset ? { fqn: it.fqn, offset: size(it.offset), index: null } : { fqn: it.fqn, index: null };
        storage.push([py.newobj(py.global(M, 'MetadataIndex'), [], index), storageInfo(rel, at, sink.position - at)]);
      }
    } finally {
      sink.close();
    }
  }
  writeFileSync(join(iterDir, '.metadata'), pickle(metadataValue(ck.config.paramsDtype, keys, storage, iterDir), { protocol: 4 }));
  writeFileSync(join(iterDir, 'metadata.json'), JSON.stringify({ sharded_backend: 'torch_dist', sharded_backend_version: 1 }));
  writeFileSync(join(dst, 'latest_checkpointed_iteration.txt'), String(iteration));
  return iterDir;
}
