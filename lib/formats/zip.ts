// Zip central-directory reader for PyTorch archives: STORED entries only, zip64 aware, over a whole file or a
// region [offset, offset + length) of one (each item of a torch_dist .distcp file is a complete zip).
//
// Only the directory is read; an entry's bytes are located, not loaded. The data start comes from the entry's
// local header (torch pads the local extra field so data is 64-byte aligned; the central copy of that field
// differs), sizes from the central directory (torch writes zeros in local headers, with data descriptors).
// Every offset and size is checked against the region before use.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fail } from '../errors.js';

export interface Region {
  /** absolute byte offset in the file */
  readonly offset: number;
  readonly length: number;
}

export interface ZipEntry {
  readonly name: string;
  /** absolute offset of the entry's first data byte in the file */
  readonly dataOffset: number;
  readonly size: number;
}

export interface ZipArchive {
  /** the file (or, for an archive in memory, the name errors use) */
  readonly path: string;
  /** set for an archive read from memory (readZipBytes): entries' offsets index these bytes */
  readonly bytes?: Uint8Array;
  readonly region: Region;
  /** entries in central-directory order */
  readonly entries: ReadonlyMap<string, ZipEntry>;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** A torch archive's directory holds a few entries per tensor; refuse absurd sizes before allocating. */
const MAX_CENTRAL_DIRECTORY = 256 * 1024 * 1024;

/** Reads the directory of the zip stored in `path` (or in `region` of it). */
export function readZip(path: string, region?: Region): ZipArchive {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    return fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO', `cannot open: ${(e as Error).message}`, { file: path, cause: e });
  }
  try {
    const fileSize = fstatSync(fd).size;
    const r = region ?? { offset: 0, length: fileSize };
    if (!isSafeRange(r.offset, r.length) || r.offset + r.length > fileSize) {
      fail('E_FORMAT', `zip region [${r.offset}, +${r.length}) lies outside the ${fileSize}-byte file`, { file: path });
    }
    return new ZipReader((at, n) => preadExact(fd, path, at, n), path, r).read();
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the directory of a zip held in memory (a torch.save archive nested in a pickle: Transformer Engine 1.x
 * `_extra_state`). `name` is what errors call it.
 */
export function readZipBytes(bytes: Uint8Array, name: string): ZipArchive {
  const read = (at: number, n: number): Uint8Array => {
    if (at + n > bytes.byteLength) fail('E_FORMAT', `archive ends at ${bytes.byteLength} while reading ${n} bytes at ${at}`, { file: name });
    return bytes.subarray(at, at + n);
  };
  return { ...new ZipReader(read, name, { offset: 0, length: bytes.byteLength }).read(), bytes };
}

/** Reads one entry's bytes (small records: data.pkl, byteorder, version). */
export function readZipEntry(archive: ZipArchive, name: string, maxBytes = 1 << 30): Uint8Array {
  const e = archive.entries.get(name);
  if (!e) fail('E_FORMAT', `zip entry '${name}' is missing`, { file: archive.path });
  if (e.size > maxBytes) fail('E_UNSUPPORTED', `zip entry '${name}' is ${e.size} bytes, more than the ${maxBytes} allowed`, { file: archive.path });
  if (archive.bytes) return archive.bytes.subarray(e.dataOffset, e.dataOffset + e.size);
  const fd = openSync(archive.path, 'r');
  try {
    return preadExact(fd, archive.path, e.dataOffset, e.size);
  } finally {
    closeSync(fd);
  }
}

function isSafeRange(offset: number, length: number): boolean {
  return Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && Number.isSafeInteger(offset + length);
}

function preadExact(fd: number, path: string, position: number, length: number): Uint8Array {
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, length - done, position + done);
    if (n <= 0) fail('E_FORMAT', `file ends at ${position + done} while reading ${length} bytes at ${position}`, { file: path });
    done += n;
  }
  return out;
}

class ZipReader {
  constructor(
    private readonly pread: (position: number, length: number) => Uint8Array,
    private readonly path: string,
    private readonly region: Region,
  ) {}

  private bad(message: string): never {
    return fail('E_FORMAT', `zip: ${message}`, { file: this.path });
  }

  /** `length` bytes at `rel` (relative to the region), refusing anything outside it. */
  private readRel(rel: number, length: number, what: string): DataView {
    if (!isSafeRange(rel, length) || rel + length > this.region.length) {
      this.bad(`${what} at ${rel} (+${length}) lies outside the ${this.region.length}-byte archive`);
    }
    const b = this.pread(this.region.offset + rel, length);
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  read(): ZipArchive {
    const { entryCount, cdSize, cdOffset } = this.endOfDirectory();
    if (cdSize > MAX_CENTRAL_DIRECTORY) fail('E_UNSUPPORTED', `zip central directory of ${cdSize} bytes is too large`, { file: this.path });
    if (entryCount * 46 > cdSize) this.bad(`${entryCount} entries cannot fit a ${cdSize}-byte central directory`);
    const cd = this.readRel(cdOffset, cdSize, 'central directory');
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < entryCount; i++) {
      if (p + 46 > cdSize) this.bad(`central directory ends inside entry ${i}`);
      if (cd.getUint32(p, true) !== CENTRAL_SIG) this.bad(`central entry ${i} has no signature`);
      const flags = cd.getUint16(p + 8, true);
      const method = cd.getUint16(p + 10, true);
      let csize = cd.getUint32(p + 20, true);
      let usize = cd.getUint32(p + 24, true);
      const nameLen = cd.getUint16(p + 28, true);
      const extraLen = cd.getUint16(p + 30, true);
      const commentLen = cd.getUint16(p + 32, true);
      let localOffset = cd.getUint32(p + 42, true);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cdSize) this.bad(`central entry ${i} runs past the directory`);
      const name = new TextDecoder().decode(new Uint8Array(cd.buffer, cd.byteOffset + p + 46, nameLen));
      // zip64 extra (id 1): 64-bit values for whichever of usize, csize, local offset were saturated, in that order
      let q = p + 46 + nameLen;
      const extraEnd = q + extraLen;
      while (q + 4 <= extraEnd) {
        const id = cd.getUint16(q, true);
        const len = cd.getUint16(q + 2, true);
        if (q + 4 + len > extraEnd) this.bad(`extra field of '${name}' runs past its entry`);
        if (id === 1) {
          let r = q + 4;
          const take = (): number => {
            if (r + 8 > q + 4 + len) this.bad(`zip64 extra of '${name}' is too short`);
            const v = cd.getBigUint64(r, true);
            r += 8;
            if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.bad(`zip64 value ${v} of '${name}' is too large`);
            return Number(v);
          };
          if (usize === 0xffffffff) usize = take();
          if (csize === 0xffffffff) csize = take();
          if (localOffset === 0xffffffff) localOffset = take();
        }
        q += 4 + len;
      }
      if (flags & 1) fail('E_UNSUPPORTED', `zip entry '${name}' is encrypted`, { file: this.path });
      if (method !== 0) fail('E_UNSUPPORTED', `zip entry '${name}' is compressed (method ${method}); torch archives store entries uncompressed`, { file: this.path });
      if (csize !== usize) this.bad(`stored entry '${name}' has compressed size ${csize} != size ${usize}`);
      if (entries.has(name)) this.bad(`entry '${name}' appears twice`);
      entries.set(name, { name, dataOffset: this.region.offset + this.dataStart(name, localOffset, usize), size: usize });
      p = end;
    }
    return { path: this.path, region: this.region, entries };
  }

  /** Data start (relative) from the local header; checks the data lies inside the region. */
  private dataStart(name: string, localOffset: number, size: number): number {
    const h = this.readRel(localOffset, 30, `local header of '${name}'`);
    if (h.getUint32(0, true) !== LOCAL_SIG) this.bad(`local header of '${name}' at ${localOffset} has no signature`);
    const nameLen = h.getUint16(26, true);
    const extraLen = h.getUint16(28, true);
    const localName = this.readRel(localOffset + 30, nameLen, `local name of '${name}'`);
    if (new TextDecoder().decode(localName) !== name) this.bad(`local header at ${localOffset} names a different entry than '${name}'`);
    const start = localOffset + 30 + nameLen + extraLen;
    if (start + size > this.region.length) this.bad(`data of '${name}' [${start}, +${size}) lies outside the ${this.region.length}-byte archive`);
    return start;
  }

  private endOfDirectory(): { entryCount: number; cdSize: number; cdOffset: number } {
    const len = this.region.length;
    if (len < EOCD_SIZE) this.bad(`${len} bytes is too short for a zip archive`);
    // torch writes no archive comment, so the record is normally the last 22 bytes: read just those first (a
    // torch_dist checkpoint is thousands of small archives) and scan back over a possible comment otherwise
    let tailLen = EOCD_SIZE;
    let tail = this.readRel(len - tailLen, tailLen, 'archive tail');
    if (!(tail.getUint32(0, true) === EOCD_SIG && tail.getUint16(20, true) === 0)) {
      tailLen = Math.min(len, EOCD_SIZE + MAX_COMMENT);
      tail = this.readRel(len - tailLen, tailLen, 'archive tail');
    }
    let at = -1;
    for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
      if (tail.getUint32(i, true) === EOCD_SIG && i + EOCD_SIZE + tail.getUint16(i + 20, true) === tailLen) {
        at = i;
        break;
      }
    }
    if (at < 0) this.bad('no end-of-central-directory record (truncated or not a zip)');
    const eocdRel = len - tailLen + at;
    let entryCount = tail.getUint16(at + 10, true);
    let cdSize = tail.getUint32(at + 12, true);
    let cdOffset = tail.getUint32(at + 16, true);
    if (eocdRel >= 20) {
      const loc = this.readRel(eocdRel - 20, 20, 'zip64 locator');
      if (loc.getUint32(0, true) === ZIP64_LOCATOR_SIG) {
        const recOffset = this.u64(loc, 8, 'zip64 record offset');
        const rec = this.readRel(recOffset, 56, 'zip64 end record');
        if (rec.getUint32(0, true) !== ZIP64_EOCD_SIG) this.bad(`zip64 end record at ${recOffset} has no signature`);
        entryCount = this.u64(rec, 32, 'zip64 entry count');
        cdSize = this.u64(rec, 40, 'zip64 directory size');
        cdOffset = this.u64(rec, 48, 'zip64 directory offset');
      }
    }
    if (!isSafeRange(cdOffset, cdSize) || cdOffset + cdSize > eocdRel) {
      this.bad(`central directory [${cdOffset}, +${cdSize}) does not lie before the end record at ${eocdRel}`);
    }
    return { entryCount, cdSize, cdOffset };
  }

  private u64(v: DataView, at: number, what: string): number {
    const x = v.getBigUint64(at, true);
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) this.bad(`${what} ${x} is too large`);
    return Number(x);
  }
}
