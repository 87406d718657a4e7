// `--ckpt-format torch_dist` (Megatron-Core ≥ 0.19 layout): iter_XXXXXXX/ with `__<rank>_0.distcp` per
// global rank (rank = tp_rank + tp·pp_stage), `.metadata` (a pickled torch.distributed.checkpoint Metadata,
// protocol 4), `metadata.json`. Layers are stacked under `decoder.layers.<name>` with a leading layer axis,
// one chunk per (layer, TP piece); local-spec norms are renamed to the fused `layer_norm_*` keys; each item
// is its own torch.save (tensors) or torch.save([obj]) (ShardedObjects: _extra_state, rng_state,
// common_state) written back to back, byte items first.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { argsFields } from './args.js';
import { stageEntries, tpPieces, type GlobalTensor } from './model.js';
import { pickle, py, type PyObj, type PyValue } from './pickle.js';
import { rngState } from './rng-state.js';
import { FileSink } from './sink.js';
import { generated, type GenContext } from './tensors.js';
import { tensorValue, torchSave } from './torch-save.js';
import type { FileRecord, WriteOptions } from './generate.js';

const NORM_RENAMES: [string, string][] = [
  ['input_layernorm.', 'self_attention.linear_qkv.layer_norm_'],
  ['pre_mlp_layernorm.', 'mlp.linear_fc1.layer_norm_'],
];

/** DCP key of a global tensor: stacked layer keys drop the layer number; local-spec norms are renamed. */
export function dcpKey(t: GlobalTensor): string {
  if (t.layer === null) return t.name;
  let suffix = t.name.slice(`decoder.layers.${t.layer}.`.length);
  for (const [from, to] of NORM_RENAMES) if (suffix.startsWith(from)) suffix = to + suffix.slice(from.length);
  return `decoder.layers.${suffix}`;
}

type Item =
  | { fqn: string; kind: 'bytes'; value: PyValue }
  | { fqn: string; kind: 'tensor'; tensor: GlobalTensor; offset: number[]; shape: number[]; blocks: ReturnType<typeof tpPieces>[number]['blocks'] };

export interface KeyMeta {
  bytes: boolean;
  globalShape: number[];
  chunks: { offset: number[]; shape: number[] }[];
  /** the tensor's dtype when it differs from the model's */
  dtype?: string;
}

export const M = 'torch.distributed.checkpoint.metadata';
export const size = (dims: readonly number[]): PyObj => py.reduce(py.global('torch', 'Size'), py.tuple(py.tuple(...dims)));

export function writeDist(ctx: GenContext, opt: WriteOptions, iterDir: string): FileRecord[] {
  const { par, spec } = { par: opt.par, spec: ctx.spec };
  const L = spec.numLayers;
  const keys = new Map<string, KeyMeta>();
  const storage: [PyObj, PyObj][] = [];
  const files: FileRecord[] = [];
  const args = py.namespace(argsFields(spec, par, 'torch_dist', opt.iteration, opt.root));

  for (let stage = 0; stage < par.pp; stage++) {
    const entries = stageEntries(spec, par, stage);
    for (let r = 0; r < par.tp; r++) {
      const rank = r + par.tp * stage;
      const items: Item[] = [];
      // ShardedObjects: _extra_state per layer (written by TP rank 0 of the stage), rng per rank, common by rank 0
      if (r === 0)
        for (const e of entries)
          if ('extraState' in e && e.key.startsWith('decoder.layers.')) {
            const [, , l, ...rest] = e.key.split('.');
            const g = stage * (L / par.pp) + Number(l);
            items.push({ fqn: `decoder.layers.${rest.join('.')}/shard_${g}_${L}`, kind: 'bytes', value: [null] });
          }
      items.push({ fqn: `rng_state/shard_${stage}.${r}_${par.pp}.${par.tp}`, kind: 'bytes', value: [rngState(rank, ctx.seed)] });
      if (rank === 0)
        items.push({
          fqn: 'common_state/shard_0_1',
          kind: 'bytes',
          value: [
            new Map<PyValue, PyValue>([
              ['args', args],
              ['checkpoint_version', py.float(3.0)],
              ['iteration', opt.iteration],
              ['num_floating_point_operations_so_far', 0],
              ['content_metadata', { singleton_local_shards: false, chained_optim_avoid_prefix: true }],
            ]),
          ],
        });
      // Tensors grouped by DCP key, layers in order. Tied output copies are non-main replicas: not written.
      const byKey = new Map<string, GlobalTensor[]>();
      for (const e of entries) {
        if ('extraState' in e) continue;
        if (e.tensor.valuesOf !== e.tensor.name) continue;
        const k = dcpKey(e.tensor);
        byKey.set(k, [...(byKey.get(k) ?? []), e.tensor]);
      }
      for (const [fqn, tensors] of byKey)
        for (const t of tensors) {
          if (t.split === 'rep' && r !== 0) continue;
          for (const p of tpPieces(t, par.tp, r)) {
            const stacked = t.layer !== null;
            items.push({
              fqn,
              kind: 'tensor',
              tensor: t,
              offset: stacked ? [t.layer!, ...p.offset] : p.offset,
              shape: stacked ? [1, ...p.shape] : p.shape,
              blocks: p.blocks,
            });
          }
        }

      const rel = `__${rank}_0.distcp`;
      const record: FileRecord = { path: rel, bytes: 0, tensors: [] };
      const sink = new FileSink(join(iterDir, rel));
      try {
        for (const it of items) {
          const at = sink.position;
          let meta = keys.get(it.fqn);
          if (it.kind === 'bytes') {
            torchSave(sink, 'archive', it.value, `${opt.root}:${it.fqn}`);
            if (!meta) keys.set(it.fqn, (meta = { bytes: true, globalShape: [], chunks: [] }));
            storage.push([py.newobj(py.global(M, 'MetadataIndex'), [], { fqn: it.fqn, index: null }), storageInfo(rel, at, sink.position - at)]);
            continue;
          }
          const t = it.tensor;
          const rec = { key: it.fqn, offset: it.offset, global: t.name, dtype: spec.dtype, shape: it.shape, sha256: '' };
          record.tensors.push(rec);
          const onDigest = opt.digests ? (sha: string) => void (rec.sha256 = sha) : undefined;
          torchSave(sink, 'archive', tensorValue(generated(ctx, t, it.blocks, it.shape, 'cpu', onDigest)), `${opt.root}:${it.fqn}:${it.offset.join('.')}`);
          if (!meta) keys.set(it.fqn, (meta = { bytes: false, globalShape: t.layer !== null ? [L, ...t.shape] : [...t.shape], chunks: [] }));
          meta.chunks.push({ offset: it.offset, shape: it.shape });
          storage.push([py.newobj(py.global(M, 'MetadataIndex'), [], { fqn: it.fqn, offset: size(it.offset), index: null }), storageInfo(rel, at, sink.position - at)]);
        }
        record.bytes = sink.position;
      } finally {
        sink.close();
      }
      files.push(record);
    }
  }

  writeFileSync(join(iterDir, '.metadata'), pickle(metadataValue(spec.dtype, keys, storage, iterDir), { protocol: 4 }));
  writeFileSync(join(iterDir, 'metadata.json'), JSON.stringify({ sharded_backend: 'torch_dist', sharded_backend_version: 1 }));
  mkdirSync(join(iterDir, 'tokenizer'), { recursive: true });
  return files;
}

export function storageInfo(rel: string, offset: number, length: number): PyObj {
  return py.newobj(py.global('torch.distributed.checkpoint.filesystem', '_StorageInfo'), [], { relative_path: rel, offset, length });
}

/** The pickled DCP Metadata: every key's global shape and chunks, and where each item's bytes are. */
export function metadataValue(dtype: string, keys: Map<string, KeyMeta>, storage: [PyObj, PyObj][], iterDir: string): PyObj {
  const properties = (d: string) =>
    py.newobj(
      py.global(M, 'TensorProperties'),
      [],
      py.tuple(
        py.torchDtype(d),
        py.reduce(py.global('torch.serialization', '_get_layout'), py.tuple('torch.strided')),
        false,
        py.reduce(py.global(M, '_MEM_FORMAT_ENCODING'), py.tuple(0)),
        false,
      ),
    );
  const sdm = new Map<PyValue, PyValue>();
  for (const [fqn, k] of keys) {
    if (k.bytes) sdm.set(fqn, py.newobj(py.global(M, 'BytesStorageMetadata')));
    else
      sdm.set(
        fqn,
        py.newobj(py.global(M, 'TensorStorageMetadata'), [], {
          properties: properties(k.dtype ?? dtype),
          size: size(k.globalShape),
          chunks: k.chunks.map((c) => py.newobj(py.global(M, 'ChunkStorageMetadata'), [], { offsets: size(c.offset), sizes: size(c.shape) })),
        }),
      );
  }
  return py.newobj(py.global(M, 'Metadata'), [], {
    state_dict_metadata: sdm,
    planner_data: null,
    storage_data: new Map<PyValue, PyValue>(storage),
    storage_meta: py.newobj(py.global(M, 'StorageMeta'), [], { checkpoint_id: iterDir, save_id: uuidFrom(iterDir), load_id: null, modules: [] }),
    version: '1.0.0',
  });
}

/** A UUID-shaped save id derived from the path, so that generating twice gives identical files. */
function uuidFrom(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
