// torch.save's container, written by us: `<prefix>/data.pkl` (protocol 2, tensors as
// torch._utils._rebuild_tensor_v2 over persistent-id storages), `.format_version`, `.storage_alignment`,
// `byteorder`, `data/<key>` per storage (keys numbered in the order the pickler meets them), `version`,
// `.data/serialization_id` — the record order torch 2.x writes.
import { createHash } from 'node:crypto';
import { pickle, py, type PyObj, type PyValue } from './pickle.js';
import type { Sink } from './sink.js';
import { TorchZipWriter } from './zip-writer.js';
import { seedOf } from './values.js';

export type StorageDType = 'bfloat16' | 'float16' | 'float32' | 'uint8' | 'int64';

const STORAGE_CLASS: Record<StorageDType, string> = {
  bfloat16: 'BFloat16Storage',
  float16: 'HalfStorage',
  float32: 'FloatStorage',
  uint8: 'ByteStorage',
  int64: 'LongStorage',
};
export const STORAGE_ITEMSIZE: Record<StorageDType, number> = { bfloat16: 2, float16: 2, float32: 4, uint8: 1, int64: 8 };

/** A tensor whose bytes are produced on demand, in order, chunk by chunk. */
export interface TensorData {
  dtype: StorageDType;
  shape: number[];
  /** storage device tag written in the pickle ('cpu', 'cuda:0', ...) */
  location: string;
  /** calls `write` with consecutive chunks totalling numel·itemsize bytes */
  produce(write: (chunk: Uint8Array) => void): void;
  /** receives the sha256 (hex) of the bytes once written */
  onDigest?: (sha256: string) => void;
}

export const numelOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

const PID = Symbol('tensor');
type PidBox = { [PID]: TensorData };

/** The pickle value of a contiguous tensor over its own storage (what `torch.save(t)` writes for it). */
export function tensorValue(t: TensorData): PyObj {
  const stride: number[] = [];
  let s = 1;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    stride[i] = s;
    s *= t.shape[i]!;
  }
  const pidBox = { [PID]: t } as PidBox as unknown as PyValue;
  return py.reduce(
    py.global('torch._utils', '_rebuild_tensor_v2'),
    py.tuple(py.persid(pidBox), 0, py.tuple(...t.shape), py.tuple(...stride), false, py.odict(new Map())),
  );
}

/** Bytes already in memory, as a TensorData. */
export function bytesTensor(dtype: StorageDType, shape: number[], data: Uint8Array, location = 'cpu'): TensorData {
  return { dtype, shape, location, produce: (w) => void (data.length && w(data)) };
}

/** `.data/serialization_id`: 40 decimal digits; derived from a seed so output is reproducible. */
function serializationId(seedText: string): string {
  const h = createHash('sha256').update(seedText).digest();
  let s = '';
  for (let i = 0; i < 40; i++) s += String(h[i % h.length]! % 10);
  return s;
}

/**
 * Writes `torch.save(root)` to `sink` at its current position (a whole .pt file, or one item of a .distcp).
 * `root` may contain `tensorValue(...)` leaves; their bytes are streamed. Returns the zip's size.
 */
export function torchSave(sink: Sink, prefix: string, root: PyValue, idSeed: string): number {
  const storages: TensorData[] = [];
  const keys = new Map<TensorData, string>();
  const pkl = pickle(root, {
    protocol: 2,
    persistentId: (pid) => {
      const t = (pid as unknown as PidBox)[PID];
      let key = keys.get(t);
      if (key === undefined) {
        key = String(storages.length);
        keys.set(t, key);
        storages.push(t);
      }
      return py.tuple('storage', py.global('torch', STORAGE_CLASS[t.dtype]), key, t.location, numelOf(t.shape));
    },
  });
  const zip = new TorchZipWriter(sink, prefix);
  zip.add('data.pkl', pkl);
  zip.add('.format_version', '1');
  zip.add('.storage_alignment', '64');
  zip.add('byteorder', 'little');
  storages.forEach((t, i) => {
    const nbytes = numelOf(t.shape) * STORAGE_ITEMSIZE[t.dtype];
    zip.begin(`data/${i}`, nbytes);
    const sha = t.onDigest ? createHash('sha256') : null;
    t.produce((chunk) => {
      sha?.update(chunk);
      zip.write(chunk);
    });
    zip.end();
    if (sha) t.onDigest!(sha.digest('hex'));
  });
  zip.add('version', '3\n');
  zip.add('.data/serialization_id', serializationId(`${idSeed}:${seedOf(idSeed)}`));
  return zip.finish();
}
