// Reads safetensors files: an 8-byte little-endian header length, a JSON header, then one data block.
// Only the header is read; each tensor becomes a zero-copy View over its byte range of the file.
// The file is treated as hostile: every length, offset and size is checked before use, with the same
// rules as the reference implementation (huggingface/safetensors, `SafeTensors::read_metadata` + `Metadata::validate`).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fail } from '../errors.js';
import { dtypeFromSafetensors } from '../tensor/dtype.js';
import { fmtShape } from '../tensor/shape.js';
import { contiguousView, type View } from '../tensor/view.js';

/** The reference implementation's limit on the JSON header (bytes). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bits per element of every dtype the format defines; ours (lib/tensor/dtype.ts) are a subset. */
const FORMAT_DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8,
  F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32,
  C64: 64, F64: 64, I64: 64, U64: 64,
};

/** One header entry, validated. `begin`/`end` are byte offsets inside the data block. */
export interface SafetensorsEntry {
  readonly name: string;
  /** the header's dtype name ('BF16', 'F32', ...) */
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly path: string;
  readonly fileSize: number;
  /** length of the JSON header in bytes (the u64 at the start of the file) */
  readonly headerLength: number;
  /** file offset of the data block (8 + headerLength) */
  readonly dataStart: number;
  readonly dataLength: number;
  /** entries in data-block order */
  readonly entries: readonly SafetensorsEntry[];
  /** the `__metadata__` string map (empty when absent) */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface SafetensorsFile {
  readonly path: string;
  readonly header: SafetensorsHeader;
  /** tensor name → view over the file (in data-block order) */
  readonly tensors: ReadonlyMap<string, View>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Reads and validates the header of `path` without touching the data block. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const { fileSize, json } = readHeaderBytes(path);
  return parseSafetensorsHeader(path, fileSize, json);
}

/** Opens `path`: every tensor as a bounds-checked contiguous view over its own byte range of the file. */
export function openSafetensorsFile(path: string): SafetensorsFile {
  const header = readSafetensorsHeader(path);
  const tensors = new Map<string, View>();
  for (const e of header.entries) {
    const dtype = dtypeFromSafetensors(e.dtype);
    if (dtype === undefined) fail('E_UNSUPPORTED', `safetensors dtype ${e.dtype} is not supported`, { file: path, tensor: e.name });
    // One storage per tensor: its exact byte range, so no view can reach a neighbour, and offsets need no alignment.
    const storage = { kind: 'file', path, byteOffset: header.dataStart + e.begin, byteLength: e.end - e.begin } as const;
    tensors.set(e.name, contiguousView(storage, dtype, e.shape, 0, { file: path, tensor: e.name }));
  }
  return { path, header, tensors, metadata: header.metadata };
}

function readHeaderBytes(path: string): { fileSize: number; json: Uint8Array } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return ioFail(path, e, 'cannot open');
  }
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8) fail('E_FORMAT', `not a safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`, { file: path });
    const lenBytes = readExactly(fd, path, 0, 8);
    const n = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
    if (n > BigInt(MAX_HEADER_BYTES)) fail('E_FORMAT', `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`, { file: path });
    const headerLength = Number(n);
    if (8 + headerLength > fileSize) fail('E_FORMAT', `header length ${headerLength} runs past the end of the ${fileSize}-byte file (truncated?)`, { file: path });
    return { fileSize, json: readExactly(fd, path, 8, headerLength) };
  } finally {
    closeSync(fd);
  }
}

function readExactly(fd: number, path: string, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    let got: number;
    try {
      got = readSync(fd, out, done, length - done, position + done);
    } catch (e) {
      return ioFail(path, e, 'cannot read');
    }
    if (got === 0) fail('E_FORMAT', `file ended after ${position + done} bytes while reading the header`, { file: path });
    done += got;
  }
  return out;
}

function ioFail(path: string, e: unknown, what: string): never {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') fail('E_NOT_FOUND', `${what}: no such file`, { file: path, cause: e });
  return fail('E_IO', `${what}: ${code ?? String(e)}`, { file: path, cause: e });
}

/**
 * Validates a header (the JSON bytes after the length prefix) against a file of `fileSize` bytes.
 * Exported so tests and the directory reader can check headers they built or read themselves.
 */
export function parseSafetensorsHeader(path: string, fileSize: number, json: Uint8Array): SafetensorsHeader {
  const where = { file: path };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(json);
  } catch (e) {
    return fail('E_FORMAT', 'header is not valid UTF-8', { ...where, cause: e });
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    return fail('E_FORMAT', `header is not valid JSON: ${(e as Error).message}`, { ...where, cause: e });
  }
  if (!isPlainObject(root)) fail('E_FORMAT', 'header is not a JSON object', where);

  const headerLength = json.byteLength;
  const dataStart = 8 + headerLength;
  const dataLength = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(root)) {
    if (name === '__metadata__') metadata = parseMetadata(value, path);
    else entries.push(parseEntry(name, value, path));
  }

  // The data block must be exactly the entries laid end to end, in offset order, from 0 to its last byte.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: SafetensorsEntry | undefined;
  for (const e of entries) {
    const at = { file: path, tensor: e.name };
    if (e.end > dataLength) fail('E_FORMAT', `data_offsets [${e.begin}, ${e.end}] reach past the ${dataLength}-byte data block`, at);
    if (e.begin < cursor) fail('E_FORMAT', `data_offsets [${e.begin}, ${e.end}] overlap tensor ${previous!.name} [${previous!.begin}, ${previous!.end}]`, at);
    if (e.begin > cursor) fail('E_FORMAT', `data_offsets [${e.begin}, ${e.end}] leave bytes [${cursor}, ${e.begin}) of the data block unused`, at);
    cursor = e.end;
    previous = e;
  }
  if (cursor !== dataLength) fail('E_FORMAT', `tensors cover ${cursor} bytes but the data block holds ${dataLength} (trailing bytes)`, where);
  return { path, fileSize, headerLength, dataStart, dataLength, entries, metadata };
}

function parseEntry(name: string, value: unknown, path: string): SafetensorsEntry {
  const at = { file: path, tensor: name };
  if (!isPlainObject(value)) fail('E_FORMAT', 'header entry is not an object', at);
  const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string') fail('E_FORMAT', 'header entry has no string dtype', at);
  const bits = Object.prototype.hasOwnProperty.call(FORMAT_DTYPE_BITS, dtype) ? FORMAT_DTYPE_BITS[dtype]! : undefined;
  if (bits === undefined) fail('E_FORMAT', `unknown dtype '${dtype.slice(0, 40)}'`, at);
  if (!Array.isArray(shape) || !shape.every(isCount)) fail('E_FORMAT', 'shape is not an array of non-negative integers', at);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) fail('E_FORMAT', 'data_offsets is not a pair of non-negative integers', at);
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail('E_FORMAT', `data_offsets [${begin}, ${end}] end before they begin`, at);
  // BigInt: a hostile shape must not overflow into a plausible byte count.
  const nbits = (shape as number[]).reduce((acc, d) => acc * BigInt(d), BigInt(bits));
  if (nbits % 8n !== 0n) fail('E_FORMAT', `shape ${fmtShape(shape as number[])} of ${dtype} is not a whole number of bytes`, at);
  if (nbits / 8n !== BigInt(end - begin)) {
    fail('E_FORMAT', `shape ${fmtShape(shape as number[])} of ${dtype} needs ${nbits / 8n} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`, at);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

function parseMetadata(value: unknown, path: string): Record<string, string> {
  if (value === null) return {};
  if (!isPlainObject(value)) fail('E_FORMAT', '__metadata__ is not an object', { file: path });
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail('E_FORMAT', `__metadata__ value of '${k.slice(0, 80)}' is not a string`, { file: path });
  }
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
