// Test-only, independent of tools/generate: walks a zip's end records and central directory the way
// PyTorch's reader does (zip64 end record preferred, zip64 extras applied, data offset from the local header).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface ZipEntryLayout {
  name: string;
  flags: number;
  method: number;
  crc: number;
  size: number;
  compressedSize: number;
  headerOffset: number;
  dataOffset: number;
  /** ids of the local header's extra blocks, in order */
  localExtraIds: number[];
}

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let done = 0;
  while (done < len) {
    const n = readSync(fd, b, done, len - done, pos + done);
    if (n <= 0) throw new Error(`short read at ${pos + done}`);
    done += n;
  }
  return b;
}

function extraBlocks(b: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (let p = 0; p + 4 <= b.length; ) {
    const id = b.readUInt16LE(p);
    const n = b.readUInt16LE(p + 2);
    m.set(id, b.subarray(p + 4, p + 4 + n));
    p += 4 + n;
  }
  return m;
}

/** Entries of the zip occupying [base, base+length) of `path`. */
export function zipLayout(path: string, base = 0, length?: number): { entries: ZipEntryLayout[]; zip64Eocd: boolean } {
  const fd = openSync(path, 'r');
  try {
    const end = base + (length ?? fstatSync(fd).size - base);
    const eocd = readAt(fd, end - 22, 22);
    if (eocd.readUInt32LE(0) !== 0x06054b50) throw new Error('no end record in the last 22 bytes');
    let count = eocd.readUInt16LE(10);
    let cdOffset = eocd.readUInt32LE(16);
    const loc = readAt(fd, end - 42, 20);
    const zip64Eocd = loc.readUInt32LE(0) === 0x07064b50;
    if (zip64Eocd) {
      const z = readAt(fd, base + Number(loc.readBigUInt64LE(8)), 56);
      if (z.readUInt32LE(0) !== 0x06064b50) throw new Error('bad zip64 end record');
      count = Number(z.readBigUInt64LE(32));
      cdOffset = Number(z.readBigUInt64LE(48));
    }
    const entries: ZipEntryLayout[] = [];
    let p = base + cdOffset;
    for (let i = 0; i < count; i++) {
      const c = readAt(fd, p, 46);
      if (c.readUInt32LE(0) !== 0x02014b50) throw new Error(`bad central header ${i}`);
      const nameLen = c.readUInt16LE(28);
      const extraLen = c.readUInt16LE(30);
      const commentLen = c.readUInt16LE(32);
      const rest = readAt(fd, p + 46, nameLen + extraLen);
      const name = rest.subarray(0, nameLen).toString('utf8');
      let size = c.readUInt32LE(24);
      let compressedSize = c.readUInt32LE(20);
      let headerOffset = c.readUInt32LE(42);
      const z64 = extraBlocks(rest.subarray(nameLen)).get(0x0001);
      if (z64) {
        let q = 0;
        if (size === 0xffffffff) (size = Number(z64.readBigUInt64LE(q))), (q += 8);
        if (compressedSize === 0xffffffff) (compressedSize = Number(z64.readBigUInt64LE(q))), (q += 8);
        if (headerOffset === 0xffffffff) headerOffset = Number(z64.readBigUInt64LE(q));
      }
      const l = readAt(fd, base + headerOffset, 30);
      if (l.readUInt32LE(0) !== 0x04034b50) throw new Error(`bad local header for ${name}`);
      const lName = l.readUInt16LE(26);
      const lExtra = l.readUInt16LE(28);
      const localExtra = readAt(fd, base + headerOffset + 30 + lName, lExtra);
      entries.push({
        name,
        flags: c.readUInt16LE(8),
        method: c.readUInt16LE(10),
        crc: c.readUInt32LE(16),
        size,
        compressedSize,
        headerOffset,
        dataOffset: headerOffset + 30 + lName + lExtra,
        localExtraIds: [...extraBlocks(localExtra).keys()],
      });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return { entries, zip64Eocd };
  } finally {
    closeSync(fd);
  }
}

/** Reads `len` bytes at `pos` of `path`. */
export function readBytes(path: string, pos: number, len: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    return readAt(fd, pos, len);
  } finally {
    closeSync(fd);
  }
}
