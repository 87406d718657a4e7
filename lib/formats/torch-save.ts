// torch.save archives (model_optim_rng.pt, common.pt, every item of a .distcp file) read without Python:
// the zip directory locates `<prefix>/data.pkl` and the `<prefix>/data/<key>` storage records; the pickle is
// run by the allow-listing VM; each tensor becomes a lazy, bounds-checked `View` over its record's file bytes.
import { fail } from '../errors.js';
import { isDType, itemsize } from '../tensor/dtype.js';
import { fmtShape } from '../tensor/shape.js';
import { checkInBounds, type Storage, type View } from '../tensor/view.js';
import { type GlobalTable, type PickleContext, unpickle } from './pickle.js';
import { TorchStorageType, type TorchTensorDescriptor, torchGlobals } from './pickle-torch.js';
import { type Region, readZip, readZipBytes, readZipEntry, type ZipArchive } from './zip.js';

/** A tensor whose dtype we cannot represent (float64, int16, complex ...): kept so callers can name it. */
export class UnsupportedTensor {
  constructor(
    readonly dtype: string,
    readonly shape: readonly number[],
  ) {}
}

export interface TorchSave {
  /** the unpickled object; tensors are `View`s (or `UnsupportedTensor`) */
  readonly value: unknown;
  readonly archive: ZipArchive;
  /** the archive's record prefix (`model_optim_rng`, `archive`, ...) */
  readonly prefix: string;
}

export interface ReadTorchSaveOptions {
  /** extra or replacement globals (e.g. torch.distributed classes); defaults to the torch.save table */
  readonly globals?: (base: GlobalTable) => GlobalTable;
  /** refuse data.pkl larger than this (default 1 GiB) */
  readonly maxPickleBytes?: number;
}

/** Reads the torch.save archive at `path` (or in `region` of it). */
export function readTorchSave(path: string, region?: Region, opts: ReadTorchSaveOptions = {}): TorchSave {
  return readArchive(readZip(path, region), opts);
}

/** Reads a torch.save archive held in memory (its tensors are views of `bytes`); `name` is what errors call it. */
export function readTorchSaveBytes(bytes: Uint8Array, name: string, opts: ReadTorchSaveOptions = {}): TorchSave {
  return readArchive(readZipBytes(bytes, name), opts);
}

function readArchive(archive: ZipArchive, opts: ReadTorchSaveOptions): TorchSave {
  const path = archive.path;
  const first = archive.entries.keys().next();
  if (first.done) fail('E_FORMAT', 'torch archive has no entries', { file: path });
  // torch takes the prefix from the first record's directory, never from the file name
  const slash = first.value.indexOf('/');
  if (slash <= 0) fail('E_FORMAT', `torch archive record '${first.value}' has no '<prefix>/' directory`, { file: path });
  const prefix = first.value.slice(0, slash);
  const pkl = readZipEntry(archive, `${prefix}/data.pkl`, opts.maxPickleBytes ?? 1 << 30);
  const bigEndian = archive.entries.has(`${prefix}/byteorder`) && new TextDecoder().decode(readZipEntry(archive, `${prefix}/byteorder`, 16)).trim() === 'big';

  const storages = new Map<string, { storage: Storage; type: TorchStorageType; numel: number }>();
  const persistentLoad = (pid: unknown, ctx: PickleContext) => {
    if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') fail('E_FORMAT', 'persistent id is not a storage reference', { file: ctx.file });
    const [, type, key, , numel] = pid as unknown[];
    if (!(type instanceof TorchStorageType)) fail('E_FORMAT', 'storage reference names no storage class', { file: ctx.file });
    if (typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
      fail('E_FORMAT', 'storage reference has a bad key or element count', { file: ctx.file });
    }
    const known = storages.get(key);
    if (known) {
      // torch names one storage by one key: a second reference must agree with the first
      if (known.type !== type || known.numel !== numel) fail('E_FORMAT', `storage '${key}' is referenced as ${known.type.className}[${known.numel}] and as ${type.className}[${numel}]`, { file: ctx.file });
      return known;
    }
    const entry = archive.entries.get(`${prefix}/data/${key}`);
    if (!entry) fail('E_FORMAT', `storage record '${prefix}/data/${key}' is missing`, { file: ctx.file });
    const elem = isDType(type.dtype) ? itemsize(type.dtype) : (STORAGE_ITEMSIZE[type.dtype] ?? 1);
    if (numel * elem > entry.size) fail('E_FORMAT', `storage '${key}' claims ${numel} ${type.dtype} elements but its record holds ${entry.size} bytes`, { file: ctx.file });
    const storage: Storage = archive.bytes
      ? { kind: 'memory', bytes: archive.bytes.subarray(entry.dataOffset, entry.dataOffset + numel * elem) }
      : { kind: 'file', path, byteOffset: entry.dataOffset, byteLength: numel * elem };
    const s = { storage, type, numel };
    storages.set(key, s);
    return s;
  };

  const tensor = (d: TorchTensorDescriptor, ctx: PickleContext): unknown => {
    const s = d.storage as { storage: Storage; type: TorchStorageType } | undefined;
    if (!s || !s.type) fail('E_FORMAT', 'tensor rebuilt from something that is not a storage', { file: ctx.file });
    const dtype = d.dtype ?? s.type.dtype;
    if (d.dtype !== null && s.type.className !== 'UntypedStorage' && d.dtype !== s.type.dtype) {
      fail('E_FORMAT', `tensor dtype ${d.dtype} differs from its ${s.type.className}`, { file: ctx.file });
    }
    if (!isDType(dtype)) return new UnsupportedTensor(dtype, d.size);
    if (bigEndian && itemsize(dtype) > 1) fail('E_UNSUPPORTED', `big-endian ${dtype} tensor ${fmtShape(d.size)}: byte swapping is not supported`, { file: ctx.file });
    const v: View = { storage: s.storage, dtype, shape: d.size, strides: d.stride, offset: d.storageOffset };
    checkInBounds(v, { file: ctx.file });
    return v;
  };

  const base = torchGlobals({ tensor });
  const globals = opts.globals ? opts.globals(base) : base;
  const value = unpickle(pkl, { file: path, globals, persistentLoad });
  return { value, archive, prefix };
}

/** Element sizes of storage dtypes outside our DType set (for the record-size check only). */
const STORAGE_ITEMSIZE: Record<string, number> = { float64: 8, int16: 2, complex64: 8, complex128: 16, qint8: 1, quint8: 1, qint32: 4 };

/** True when `v` is a tensor view produced by `readTorchSave`. */
export function isView(v: unknown): v is View {
  return typeof v === 'object' && v !== null && 'storage' in v && 'strides' in v && 'dtype' in v && 'shape' in v;
}
