// The `.metadata` file of a torch.distributed.checkpoint (DCP) directory — what Megatron's torch_dist
// format writes — read as plain records. It is a pickled dataclass tree (Metadata → TensorStorageMetadata →
// ChunkStorageMetadata, storage_data: MetadataIndex → _StorageInfo); those classes are allow-listed here as
// records (constructor never run: NEWOBJ makes an empty record, BUILD fills it from the pickled state).
import { fail } from '../errors.js';
import { type DType, isDType } from '../tensor/dtype.js';
import type { GlobalHandler, PickleContext } from '../formats/pickle.js';
import { isTuple, unpickle } from '../formats/pickle.js';
import { PyEnum, TorchDType, torchGlobals, withGlobals } from '../formats/pickle-torch.js';

/** One chunk of a tensor: the box [offsets, offsets + sizes) of the global tensor. */
export interface DcpChunk {
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
}

/** Where an item's bytes are: [offset, offset + length) of `relativePath` (relative to the checkpoint dir). */
export interface DcpStorageInfo {
  readonly relativePath: string;
  readonly offset: number;
  readonly length: number;
}

export type DcpEntry =
  | { readonly kind: 'tensor'; readonly fqn: string; readonly dtype: DType; readonly size: readonly number[]; readonly chunks: readonly (DcpChunk & { readonly storage: DcpStorageInfo })[] }
  | { readonly kind: 'bytes'; readonly fqn: string; readonly storage: DcpStorageInfo };

export interface DcpMetadata {
  /** state-dict entries in the file's order */
  readonly entries: ReadonlyMap<string, DcpEntry>;
}

const META = 'torch.distributed.checkpoint.metadata';

/** A dataclass-like object: an own-keyed record filled by BUILD (state = dict, or (dict, slots dict)). */
class DcpRecord {
  constructor(readonly className: string) {}
  readonly fields = new Map<string, unknown>();
  /** TensorProperties pickles its state as a tuple (its own __getstate__) */
  tupleState: readonly unknown[] | null = null;
}

function recordHandler(className: string): GlobalHandler {
  return {
    call: () => new DcpRecord(className),
    build: (obj, state, ctx) => {
      const rec = obj as DcpRecord;
      if (isTuple(state) && !(state.length === 2 && (state[0] === null || state[0] instanceof Map) && (state[1] === null || state[1] instanceof Map))) {
        rec.tupleState = state;
        return rec;
      }
      const dicts = isTuple(state) ? state : [state];
      for (const d of dicts) {
        if (d === null) continue;
        if (!(d instanceof Map)) fail('E_FORMAT', `${className} state is not a dict`, { file: ctx.file });
        for (const [k, v] of d) {
          if (typeof k !== 'string') fail('E_FORMAT', `${className} field name is not a string`, { file: ctx.file });
          rec.fields.set(k, v);
        }
      }
      return rec;
    },
  };
}

/** The extra globals a DCP `.metadata` pickle needs beyond torch.save's. */
function dcpGlobals() {
  const extra: [string, GlobalHandler][] = [];
  for (const cls of ['Metadata', 'TensorStorageMetadata', 'ChunkStorageMetadata', 'TensorProperties', 'BytesStorageMetadata', 'MetadataIndex', 'StorageMeta']) {
    extra.push([`${META}.${cls}`, recordHandler(cls)]);
  }
  extra.push([`${META}._MEM_FORMAT_ENCODING`, { call: (a) => new PyEnum('_MEM_FORMAT_ENCODING', a[0]) }]);
  extra.push(['torch.distributed.checkpoint.filesystem._StorageInfo', recordHandler('_StorageInfo')]);
  // Plans and Megatron's extras are carried along (all_local_plans, mcore_data) but never interpreted.
  for (const cls of ['torch.distributed.checkpoint.planner.SavePlan', 'torch.distributed.checkpoint.planner.WriteItem', 'torch.distributed.checkpoint.planner.TensorWriteData', 'torch.distributed.checkpoint.filesystem._StoragePrefix', 'megatron.core.dist_checkpointing.strategies.torch.MCoreSavePlan', 'megatron.core.dist_checkpointing.strategies.torch.MCoreMetadata']) {
    extra.push([cls, recordHandler(cls)]);
  }
  extra.push(['torch.distributed.checkpoint.planner.WriteItemType', { call: (a) => new PyEnum('WriteItemType', a[0]) }]);
  return withGlobals(torchGlobals(), extra);
}

function isRecord(v: unknown, cls: string): v is DcpRecord {
  return v instanceof DcpRecord && v.className === cls;
}

/** Parses the bytes of a `.metadata` file. Every structural surprise is E_FORMAT naming `file`. */
export function parseDcpMetadata(bytes: Uint8Array, file: string): DcpMetadata {
  const ctx: PickleContext = { file };
  const bad = (msg: string, tensor?: string): never => fail('E_FORMAT', `DCP metadata: ${msg}`, tensor === undefined ? { file } : { file, tensor });
  const root = unpickle(bytes, { file, globals: dcpGlobals() });
  if (!isRecord(root, 'Metadata')) return bad('the pickle is not a torch.distributed.checkpoint Metadata');
  const sdm = root.fields.get('state_dict_metadata');
  const sd = root.fields.get('storage_data');
  if (!(sdm instanceof Map)) return bad('state_dict_metadata is not a dict');
  if (!(sd instanceof Map)) return bad('storage_data is not a dict (a Metadata without storage data cannot be read)');

  // storage_data: MetadataIndex(fqn, offset|None) → _StorageInfo
  const storage = new Map<string, DcpStorageInfo>();
  for (const [idx, info] of sd) {
    if (!isRecord(idx, 'MetadataIndex')) bad('a storage_data key is not a MetadataIndex');
    if (!isRecord(info, '_StorageInfo')) bad('a storage_data value is not a _StorageInfo');
    const fqn = idx.fields.get('fqn');
    if (typeof fqn !== 'string') return bad('MetadataIndex.fqn is not a string');
    const offset = idx.fields.get('offset') ?? null;
    const transforms = info.fields.get('transform_descriptors');
    if (Array.isArray(transforms) && transforms.length > 0) {
      fail('E_UNSUPPORTED', `DCP item stored with transforms ${JSON.stringify(transforms)} (compressed or encoded items are not supported)`, { file, tensor: fqn });
    }
    storage.set(indexKey(fqn, offset === null ? null : intList(offset, 'MetadataIndex.offset', ctx)), {
      relativePath: str(info.fields.get('relative_path'), '_StorageInfo.relative_path', ctx, fqn),
      offset: nonNegInt(info.fields.get('offset'), '_StorageInfo.offset', ctx, fqn),
      length: nonNegInt(info.fields.get('length'), '_StorageInfo.length', ctx, fqn),
    });
  }

  const entries = new Map<string, DcpEntry>();
  for (const [fqn, md] of sdm) {
    if (typeof fqn !== 'string') return bad('a state_dict_metadata key is not a string');
    if (isRecord(md, 'BytesStorageMetadata')) {
      const s = storage.get(indexKey(fqn, null));
      if (!s) return bad('byte item has no storage_data entry', fqn);
      entries.set(fqn, { kind: 'bytes', fqn, storage: s });
      continue;
    }
    if (!isRecord(md, 'TensorStorageMetadata')) return bad(`entry is neither TensorStorageMetadata nor BytesStorageMetadata`, fqn);
    const size = intList(md.fields.get('size'), 'TensorStorageMetadata.size', ctx, fqn);
    const props = md.fields.get('properties');
    if (!isRecord(props, 'TensorProperties')) return bad('TensorStorageMetadata.properties is not a TensorProperties', fqn);
    const dtype = dtypeOf(props, ctx, fqn);
    const chunksRaw = md.fields.get('chunks');
    if (!Array.isArray(chunksRaw)) return bad('TensorStorageMetadata.chunks is not a list', fqn);
    const chunks = chunksRaw.map((c) => {
      if (!isRecord(c, 'ChunkStorageMetadata')) return bad('a chunk is not a ChunkStorageMetadata', fqn);
      const offsets = intList(c.fields.get('offsets'), 'chunk offsets', ctx, fqn);
      const sizes = intList(c.fields.get('sizes'), 'chunk sizes', ctx, fqn);
      if (offsets.length !== size.length || sizes.length !== size.length) bad(`chunk rank differs from the tensor's [${size.join(', ')}]`, fqn);
      offsets.forEach((o, i) => {
        if (o + sizes[i]! > size[i]!) bad(`chunk at [${offsets.join(', ')}] size [${sizes.join(', ')}] lies outside [${size.join(', ')}]`, fqn);
      });
      const s = storage.get(indexKey(fqn, offsets));
      if (!s) return bad(`chunk at [${offsets.join(', ')}] has no storage_data entry`, fqn);
      return { offsets, sizes, storage: s };
    });
    entries.set(fqn, { kind: 'tensor', fqn, dtype, size, chunks });
  }
  return { entries };
}

function indexKey(fqn: string, offset: readonly number[] | null): string {
  return offset === null ? `${fqn}\u0000` : `${fqn}\u0000${offset.join(',')}`;
}

function dtypeOf(props: DcpRecord, ctx: PickleContext, fqn: string): DType {
  // TensorProperties state: (dtype, layout, requires_grad, memory_format, pin_memory); older torch: a dict
  const d = props.tupleState ? props.tupleState[0] : props.fields.get('dtype');
  if (!(d instanceof TorchDType)) fail('E_FORMAT', 'DCP metadata: TensorProperties has no torch dtype', { file: ctx.file, tensor: fqn });
  if (!isDType(d.name)) fail('E_UNSUPPORTED', `tensor dtype torch.${d.name}`, { file: ctx.file, tensor: fqn });
  const layout = props.tupleState ? props.tupleState[1] : props.fields.get('layout');
  if (layout !== undefined && layout !== null && layout !== 'torch.strided') fail('E_UNSUPPORTED', `tensor layout ${String(layout)} (only strided tensors)`, { file: ctx.file, tensor: fqn });
  return d.name;
}

function intList(v: unknown, what: string, ctx: PickleContext, fqn?: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    return fail('E_FORMAT', `DCP metadata: ${what} is not a list of non-negative integers`, { file: ctx.file, ...(fqn === undefined ? {} : { tensor: fqn }) });
  }
  return [...(v as number[])];
}

function nonNegInt(v: unknown, what: string, ctx: PickleContext, fqn: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail('E_FORMAT', `DCP metadata: ${what} is not a non-negative integer`, { file: ctx.file, tensor: fqn });
  return v;
}

function str(v: unknown, what: string, ctx: PickleContext, fqn: string): string {
  if (typeof v !== 'string') fail('E_FORMAT', `DCP metadata: ${what} is not a string`, { file: ctx.file, tensor: fqn });
  return v;
}
