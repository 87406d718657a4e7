// One storage in PyTorch's pre-zip torch.save format: what a plain `pickle.dumps(tensor)` embeds for each storage
// (`torch.storage._load_from_bytes(b)`, b = torch.save(storage, _use_new_zipfile_serialization=False)), e.g. the
// scaling-factor tensors inside a Transformer Engine 2.x `_extra_state`. Layout (torch/serialization.py
// `_legacy_save`): pickles of the magic number, the protocol version (1001) and sys_info; the pickle of the storage
// (a persistent id `('storage', <Type>Storage, key, location, numel, view_metadata)`); the pickle of the sorted key
// list; then per key an int64 element count and the raw little-endian bytes.
import { fail } from '../errors.js';
import { isDType, itemsize } from '../tensor/dtype.js';
import { unpickleFirst } from './pickle.js';
import { TorchStorageType, torchGlobals } from './pickle-torch.js';

const MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

export interface LegacyStorage {
  readonly type: TorchStorageType;
  readonly numel: number;
  /** the storage's bytes (a view of the input) */
  readonly bytes: Uint8Array;
}

/** Parses `bytes` as a legacy torch.save of exactly one storage; `name` is what errors call it. */
export function readLegacyStorage(bytes: Uint8Array, name: string): LegacyStorage {
  const bad = (m: string): never => fail('E_FORMAT', `legacy torch.save storage: ${m}`, { file: name });
  const globals = torchGlobals();
  let at = 0;
  const next = (persistentLoad?: (pid: unknown) => unknown): unknown => {
    const r = unpickleFirst(bytes.subarray(at), { file: name, globals, ...(persistentLoad ? { persistentLoad } : {}) });
    at += r.end;
    return r.value;
  };
  const magic = next();
  if (magic !== MAGIC) bad('wrong magic number');
  if (next() !== PROTOCOL_VERSION) bad(`protocol version is not ${PROTOCOL_VERSION}`);
  const sysInfo = next();
  if (sysInfo instanceof Map && sysInfo.get('little_endian') === false) fail('E_UNSUPPORTED', 'big-endian legacy torch.save', { file: name });
  let ref: { type: TorchStorageType; key: string; numel: number } | undefined;
  next((pid) => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') bad('persistent id is not a storage reference');
    const [, type, key, , numel] = pid as unknown[];
    if (!(type instanceof TorchStorageType) || typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) bad('malformed storage reference');
    if (ref) bad('more than one storage');
    ref = { type: type as TorchStorageType, key: key as string, numel: numel as number };
    return ref;
  });
  if (!ref) return bad('no storage');
  const keys = next();
  if (!Array.isArray(keys) || keys.length !== 1 || keys[0] !== ref.key) bad('storage key list does not name the one storage');
  if (at + 8 > bytes.byteLength) bad('truncated before the element count');
  const count = new DataView(bytes.buffer, bytes.byteOffset + at, 8).getBigInt64(0, true);
  at += 8;
  if (count !== BigInt(ref.numel)) bad(`element count ${count} differs from the reference's ${ref.numel}`);
  const elem = isDType(ref.type.dtype) ? itemsize(ref.type.dtype) : bad(`storage dtype ${ref.type.dtype} is not supported`);
  const n = ref.numel * elem;
  if (at + n !== bytes.byteLength) bad(`${bytes.byteLength - at} data bytes, expected ${n}`);
  return { type: ref.type, numel: ref.numel, bytes: bytes.subarray(at, at + n) };
}
