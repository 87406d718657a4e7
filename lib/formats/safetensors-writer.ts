// Layout of a safetensors file, byte-compatible with the reference Rust implementation: an 8-byte
// little-endian header length, a compact JSON header (`__metadata__` first when present, then each tensor's
// {dtype, shape, data_offsets}), padded with spaces to a multiple of 8, then the tensors back to back.
// Unlike the reference `serialize` (which sorts by dtype alignment, then name), tensors keep the order given.
import { fail } from '../errors.js';
import { DTYPES, type DType } from '../tensor/dtype.js';
import { numel } from '../tensor/shape.js';

export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export interface SafetensorsTensorLayout extends SafetensorsEntry {
  /** absolute byte offsets of the tensor's data in the file: [begin, end) */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsLayout {
  /** the first bytes of the file: length prefix, JSON, padding */
  readonly header: Uint8Array;
  readonly tensors: readonly SafetensorsTensorLayout[];
  /** total file size */
  readonly size: number;
}

/** The reference reader refuses larger headers (safetensors MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;

export function safetensorsLayout(
  entries: readonly SafetensorsEntry[],
  metadata?: Readonly<Record<string, string>>,
  where?: { file?: string },
): SafetensorsLayout {
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') fail('E_USAGE', `safetensors metadata value for '${k}' must be a string`, where);
    }
    // built by hand: JSON.stringify of an object would move integer-like keys first
    parts.push(`"__metadata__":{${Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  const seen = new Set<string>();
  let offset = 0;
  const relative: { begin: number; end: number }[] = [];
  for (const e of entries) {
    if (e.name === '' || e.name === '__metadata__') fail('E_USAGE', `invalid safetensors tensor name '${e.name}'`, where);
    if (seen.has(e.name)) fail('E_USAGE', `tensor name '${e.name}' appears twice`, { ...where, tensor: e.name });
    seen.add(e.name);
    const info = DTYPES[e.dtype];
    if (!info) fail('E_USAGE', `unknown dtype '${e.dtype}'`, { ...where, tensor: e.name });
    const bytes = numel(e.shape) * info.itemsize;
    const begin = offset;
    offset += bytes;
    if (!Number.isSafeInteger(offset)) fail('E_SHAPE', 'file too large', { ...where, tensor: e.name });
    relative.push({ begin, end: offset });
    parts.push(`${JSON.stringify(e.name)}:{"dtype":"${info.safetensors}","shape":[${e.shape.join(',')}],"data_offsets":[${begin},${offset}]}`);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded > MAX_HEADER_BYTES) fail('E_UNSUPPORTED', `safetensors header of ${padded} bytes exceeds ${MAX_HEADER_BYTES}`, where);
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  const base = header.byteLength;
  return {
    header,
    tensors: entries.map((e, i) => ({ name: e.name, dtype: e.dtype, shape: [...e.shape], begin: base + relative[i]!.begin, end: base + relative[i]!.end })),
    size: base + offset,
  };
}
