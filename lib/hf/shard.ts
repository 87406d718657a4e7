// Splitting a state dict into safetensors shards the way transformers' save_pretrained does, plus the index.
import { itemsize } from '../tensor/dtype.js';
import type { DType } from '../tensor/dtype.js';
import { numel } from '../tensor/shape.js';

export const INDEX_NAME = 'model.safetensors.index.json';

export interface ShardTensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export interface Shard<T extends ShardTensor> {
  readonly file: string;
  readonly tensors: readonly T[];
  /** tensor data bytes (headers not counted, as transformers counts) */
  readonly bytes: number;
}

export function tensorBytes(t: ShardTensor): number {
  return numel(t.shape) * itemsize(t.dtype);
}

/**
 * Fills shards in order, starting a new one when the next tensor would push the current past `maxBytes`.
 * A tensor larger than `maxBytes` gets a shard of its own (it cannot be split). Files are named
 * model-0000i-of-0000N.safetensors.
 */
export function planShards<T extends ShardTensor>(tensors: readonly T[], maxBytes: number): Shard<T>[] {
  const groups: { tensors: T[]; bytes: number }[] = [];
  let cur: { tensors: T[]; bytes: number } | undefined;
  for (const t of tensors) {
    const b = tensorBytes(t);
    if (!cur || (cur.tensors.length > 0 && cur.bytes + b > maxBytes)) {
      cur = { tensors: [], bytes: 0 };
      groups.push(cur);
    }
    cur.tensors.push(t);
    cur.bytes += b;
  }
  if (groups.length === 0) groups.push({ tensors: [], bytes: 0 });
  const n = groups.length;
  const pad = (i: number) => String(i).padStart(5, '0');
  return groups.map((g, i) => ({ file: `model-${pad(i + 1)}-of-${pad(n)}.safetensors`, tensors: g.tensors, bytes: g.bytes }));
}

/** model.safetensors.index.json: total tensor bytes and which shard holds each tensor (keys sorted, as transformers writes). */
export function shardIndex(shards: readonly Shard<ShardTensor>[]): { metadata: { total_size: number }; weight_map: Record<string, string> } {
  const entries: [string, string][] = [];
  let total = 0;
  for (const s of shards) {
    total += s.bytes;
    for (const t of s.tensors) entries.push([t.name, s.file]);
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { metadata: { total_size: total }, weight_map: Object.fromEntries(entries) };
}
