// A PyTorch-style zip writer (what torch.save's PyTorchStreamWriter + miniz produce): STORED entries,
// data 64-byte aligned by an `FB` padding extra field, general flag 0x0808 with CRC/sizes left zero in the
// local header and a data descriptor after the data, zip64 mode always on (zip64 EOCD + locator), a zip64
// extra (0x0001) on entries whose size or header offset reaches 4 GiB. Data is streamed: records are
// written chunk by chunk, never held whole.
import { crc32 } from 'node:zlib';
import type { Sink } from './sink.js';
import { fail } from '../../lib/errors.js';

const U32_MAX = 0xffffffff;
const ALIGN = 64;

interface CentralEntry {
  name: Buffer;
  crc: number;
  size: number;
  headerOffset: number;
  flags: number;
}

export class TorchZipWriter {
  private entries: CentralEntry[] = [];
  private open: { entry: CentralEntry; remaining: number } | null = null;
  /** byte offset (from the zip's first byte) of each finished record's data */
  readonly dataOffsets = new Map<string, number>();

  /** `sink.position` at construction is the zip's offset 0 (a DCP item starts mid-file). */
  private readonly base: number;
  constructor(
    private readonly sink: Sink,
    readonly prefix: string,
  ) {
    this.base = sink.position;
  }

  private get cursor(): number {
    return this.sink.position - this.base;
  }

  /** Starts a record of exactly `size` bytes; feed it with `write`, close it with `end`. */
  begin(record: string, size: number): void {
    if (this.open) fail('E_USAGE', `zip record ${record} started before the previous one ended`);
    const name = Buffer.from(`${this.prefix}/${record}`, 'utf8');
    const headerOffset = this.cursor;
    const big = size >= U32_MAX;
    const farOut = headerOffset >= U32_MAX;
    const flags = size > 0 ? 0x0808 : 0x0800; // UTF-8 names; data descriptor only when there is data
    // zip64 extra in the local header: miniz writes (usize, csize=0 since not yet known, offset) as needed
    const zip64 = Buffer.alloc(big || farOut ? 4 + (big ? 16 : 0) + (farOut ? 8 : 0) : 0);
    if (zip64.length) {
      zip64.writeUInt16LE(0x0001, 0);
      zip64.writeUInt16LE(zip64.length - 4, 2);
      let p = 4;
      if (big) {
        zip64.writeBigUInt64LE(BigInt(size), p);
        zip64.writeBigUInt64LE(0n, p + 8);
        p += 16;
      }
      if (farOut) zip64.writeBigUInt64LE(BigInt(headerOffset), p);
    }
    // Pad with an `FB` extra so the data starts on a 64-byte boundary (as PyTorch's getPadding does).
    const start = headerOffset + 30 + name.length + zip64.length + 4;
    const pad = (ALIGN - (start % ALIGN)) % ALIGN;
    const fb = Buffer.alloc(4 + pad, 'Z'.charCodeAt(0));
    fb.write('FB', 0, 'latin1');
    fb.writeUInt16LE(pad, 2);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(0, 4); // version needed (miniz: 0 for STORED)
    h.writeUInt16LE(flags, 6);
    // method, time, date, crc, sizes: all zero (sizes follow in the data descriptor)
    h.writeUInt16LE(name.length, 26);
    h.writeUInt16LE(zip64.length + fb.length, 28);
    this.sink.write(h);
    this.sink.write(name);
    if (zip64.length) this.sink.write(zip64);
    this.sink.write(fb);
    this.dataOffsets.set(record, this.cursor);
    this.open = { entry: { name, crc: 0, size, headerOffset, flags }, remaining: size };
  }

  write(chunk: Uint8Array): void {
    const o = this.open;
    if (!o) fail('E_USAGE', 'zip write outside a record');
    if (chunk.length > o.remaining) fail('E_USAGE', `zip record ${o.entry.name} overflows its declared size`);
    o.entry.crc = crc32(chunk, o.entry.crc);
    o.remaining -= chunk.length;
    this.sink.write(chunk);
  }

  end(): void {
    const o = this.open;
    if (!o) fail('E_USAGE', 'zip end outside a record');
    if (o.remaining !== 0) fail('E_USAGE', `zip record ${o.entry.name} is ${o.remaining} bytes short`);
    const e = o.entry;
    if (e.size > 0) {
      const zip64 = e.size >= U32_MAX || e.headerOffset >= U32_MAX;
      const d = Buffer.alloc(zip64 ? 24 : 16);
      d.writeUInt32LE(0x08074b50, 0);
      d.writeUInt32LE(e.crc >>> 0, 4);
      if (zip64) {
        d.writeBigUInt64LE(BigInt(e.size), 8);
        d.writeBigUInt64LE(BigInt(e.size), 16);
      } else {
        d.writeUInt32LE(e.size, 8);
        d.writeUInt32LE(e.size, 12);
      }
      this.sink.write(d);
    }
    this.entries.push(e);
    this.open = null;
  }

  /** A whole small record at once. */
  add(record: string, data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    this.begin(record, bytes.length);
    if (bytes.length) this.write(bytes);
    this.end();
  }

  /** Writes the central directory, zip64 end records and the classic end record. Returns the zip's size. */
  finish(): number {
    if (this.open) fail('E_USAGE', 'zip finished with a record still open');
    const cdOffset = this.cursor;
    for (const e of this.entries) {
      const big = e.size >= U32_MAX;
      const farOut = e.headerOffset >= U32_MAX;
      const extra = Buffer.alloc(big || farOut ? 4 + (big ? 16 : 0) + (farOut ? 8 : 0) : 0);
      if (extra.length) {
        extra.writeUInt16LE(0x0001, 0);
        extra.writeUInt16LE(extra.length - 4, 2);
        let p = 4;
        if (big) {
          extra.writeBigUInt64LE(BigInt(e.size), p);
          extra.writeBigUInt64LE(BigInt(e.size), p + 8);
          p += 16;
        }
        if (farOut) extra.writeBigUInt64LE(BigInt(e.headerOffset), p);
      }
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      // version made by / needed: 0 (miniz for STORED)
      c.writeUInt16LE(e.flags, 8);
      c.writeUInt32LE(e.crc >>> 0, 16);
      c.writeUInt32LE(Math.min(e.size, U32_MAX), 20);
      c.writeUInt32LE(Math.min(e.size, U32_MAX), 24);
      c.writeUInt16LE(e.name.length, 28);
      c.writeUInt16LE(extra.length, 30);
      c.writeUInt32LE(Math.min(e.headerOffset, U32_MAX), 42);
      this.sink.write(c);
      this.sink.write(e.name);
      if (extra.length) this.sink.write(extra);
    }
    const cdSize = this.cursor - cdOffset;
    const eocd64Offset = this.cursor;
    const z = Buffer.alloc(56 + 20 + 22);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4); // size of the rest of the record
    z.writeUInt16LE(0x031e, 12); // made by: unix, 3.0 (miniz)
    z.writeUInt16LE(0x002d, 14); // needed: 4.5 (zip64)
    z.writeBigUInt64LE(BigInt(this.entries.length), 24);
    z.writeBigUInt64LE(BigInt(this.entries.length), 32);
    z.writeBigUInt64LE(BigInt(cdSize), 40);
    z.writeBigUInt64LE(BigInt(cdOffset), 48);
    z.writeUInt32LE(0x07064b50, 56); // zip64 locator
    z.writeBigUInt64LE(BigInt(eocd64Offset), 64);
    z.writeUInt32LE(1, 72); // total disks
    z.writeUInt32LE(0x06054b50, 76); // classic end record
    z.writeUInt16LE(Math.min(this.entries.length, 0xffff), 84);
    z.writeUInt16LE(Math.min(this.entries.length, 0xffff), 86);
    z.writeUInt32LE(Math.min(cdSize, U32_MAX), 88);
    z.writeUInt32LE(Math.min(cdOffset, U32_MAX), 92);
    this.sink.write(z);
    return this.cursor;
  }
}
