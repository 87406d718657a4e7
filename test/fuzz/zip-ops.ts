// Structure-aware zip mutations: the end records, central directory entries and local headers of every zip in a
// file (a legacy .pt is one zip; a .distcp holds one zip per item) get boundary values in their count, size,
// offset and length fields, names are renamed or duplicated, signatures broken. (Splicing in a pickle of another
// length rebuilds the zip: rewriteTorchZip in test/support/torch-archive.ts.)
import { type Rng, interestingInt } from './rng.js';

export interface ZipLayout {
  /** absolute offset of the zip's first byte */
  readonly start: number;
  readonly eocd: number;
  readonly zip64Eocd: number | null;
  readonly zip64Locator: number | null;
  /** absolute offsets of central entries and their local headers */
  readonly central: number[];
  readonly local: number[];
}

/** Every zip found in `b` (by its end record), with where its structures lie. */
export function findZips(b: Buffer): ZipLayout[] {
  const out: ZipLayout[] = [];
  for (let e = b.indexOf('PK\x05\x06', 0, 'latin1'); e >= 0 && e + 22 <= b.length; e = b.indexOf('PK\x05\x06', e + 1, 'latin1')) {
    const count = b.readUInt16LE(e + 10);
    const cdSize = b.readUInt32LE(e + 12);
    const cdOff = b.readUInt32LE(e + 16);
    const loc = e >= 20 && b.readUInt32LE(e - 20) === 0x07064b50 ? e - 20 : null;
    const z64 = loc !== null && loc >= 56 && b.readUInt32LE(loc - 56) === 0x06064b50 ? loc - 56 : null;
    const start = (z64 ?? e) - cdSize - cdOff;
    if (start < 0) continue;
    const central: number[] = [];
    const local: number[] = [];
    let p = start + cdOff;
    for (let i = 0; i < count && p + 46 <= b.length && b.readUInt32LE(p) === 0x02014b50; i++) {
      central.push(p);
      const lo = start + b.readUInt32LE(p + 42);
      if (lo + 30 <= b.length) local.push(lo);
      p += 46 + b.readUInt16LE(p + 28) + b.readUInt16LE(p + 30) + b.readUInt16LE(p + 32);
    }
    out.push({ start, eocd: e, zip64Eocd: z64, zip64Locator: loc, central, local });
  }
  return out;
}

type Width = 2 | 4 | 8;
function put(b: Buffer, at: number, w: Width, v: number): void {
  if (w === 2) b.writeUInt16LE(v & 0xffff, at);
  else if (w === 4) b.writeUInt32LE(v >>> 0, at);
  else b.writeBigUInt64LE(BigInt(Math.max(0, Math.min(v, Number.MAX_SAFE_INTEGER))), at);
}
function get(b: Buffer, at: number, w: Width): number {
  return w === 2 ? b.readUInt16LE(at) : w === 4 ? b.readUInt32LE(at) : Number(b.readBigUInt64LE(at));
}

const EOCD_FIELDS: [string, number, Width][] = [['disk', 4, 2], ['count on disk', 8, 2], ['count', 10, 2], ['cd size', 12, 4], ['cd offset', 16, 4], ['comment length', 20, 2]];
const Z64_FIELDS: [string, number, Width][] = [['z64 count', 32, 8], ['z64 cd size', 40, 8], ['z64 cd offset', 48, 8], ['z64 record size', 4, 8]];
const CENTRAL_FIELDS: [string, number, Width][] = [['flags', 8, 2], ['method', 10, 2], ['csize', 20, 4], ['usize', 24, 4], ['name length', 28, 2], ['extra length', 30, 2], ['comment length', 32, 2], ['local offset', 42, 4]];
const LOCAL_FIELDS: [string, number, Width][] = [['signature', 0, 4], ['name length', 26, 2], ['extra length', 28, 2]];

/** One structural edit of one zip in `b` (in place on a copy). */
export function mutateZip(rng: Rng, input: Buffer): { bytes: Buffer; what: string } | null {
  const zips = findZips(input);
  if (zips.length === 0) return null;
  const b = Buffer.from(input);
  const z = rng.pick(zips);
  const where = `zip@${z.start}`;
  const k = rng.int(6);
  if (k === 0 || (k === 1 && z.zip64Eocd === null)) {
    const [name, off, w] = rng.pick(EOCD_FIELDS);
    const v = interestingInt(rng, get(b, z.eocd + off, w));
    put(b, z.eocd + off, w, v);
    return { bytes: b, what: `${where} eocd ${name} → ${v}` };
  }
  if (k === 1) {
    const [name, off, w] = rng.pick(Z64_FIELDS);
    const v = interestingInt(rng, get(b, z.zip64Eocd! + off, w));
    put(b, z.zip64Eocd! + off, w, v);
    return { bytes: b, what: `${where} ${name} → ${v}` };
  }
  if (k === 2 && z.central.length) {
    const i = rng.int(z.central.length);
    const [name, off, w] = rng.pick(CENTRAL_FIELDS);
    const v = interestingInt(rng, get(b, z.central[i]! + off, w));
    put(b, z.central[i]! + off, w, v);
    return { bytes: b, what: `${where} central[${i}] ${name} → ${v}` };
  }
  if (k === 3 && z.local.length) {
    const i = rng.int(z.local.length);
    const [name, off, w] = rng.pick(LOCAL_FIELDS);
    const v = interestingInt(rng, get(b, z.local[i]! + off, w));
    put(b, z.local[i]! + off, w, v);
    return { bytes: b, what: `${where} local[${i}] ${name} → ${v}` };
  }
  if (k === 4 && z.central.length >= 2) {
    // an entry renamed to another's name (same length: the first name bytes copied) or one byte of a name changed
    const i = rng.int(z.central.length);
    const p = z.central[i]! + 46;
    const len = b.readUInt16LE(z.central[i]! + 28);
    if (len > 0) {
      b[p + rng.int(len)] = rng.pick([0x2f, 0x2e, 0x00, 0x41, 0x30, 0x31]);
      return { bytes: b, what: `${where} central[${i}] name byte changed` };
    }
  }
  // the central directory moved or cut: part of it zeroed
  const i = rng.int(Math.max(1, z.central.length));
  const at = z.central[i] ?? z.eocd;
  b.fill(rng.pick([0, 0xff]), at, Math.min(b.length, at + 1 + rng.int(64)));
  return { bytes: b, what: `${where} bytes at central[${i}] overwritten` };
}
