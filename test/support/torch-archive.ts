// Test-only: rewrites a torch.save archive with an edited pickle (renamed keys, replaced values), writing a
// fresh STORED zip with correct CRCs. Fixtures are never edited: the copy goes to the path given.
import { readFileSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { readZip, readZipEntry } from '../../lib/formats/zip.js';

/** `extra` adds records (names relative to the archive prefix, e.g. `data/te0`). */
export function rewriteTorchSave(src: string, dst: string, edit: (pkl: Uint8Array) => Uint8Array, extra: Record<string, Uint8Array> = {}): void {
  const z = readZip(src);
  const raw = readFileSync(src);
  const prefix = z.entries.keys().next().value!.split('/')[0]!;
  const records: [string, Uint8Array][] = [...z.entries.values()].map((e) => [
    e.name,
    e.name.endsWith('/data.pkl') ? edit(readZipEntry(z, e.name)) : raw.subarray(e.dataOffset, e.dataOffset + e.size),
  ]);
  for (const [n, d] of Object.entries(extra)) records.push([`${prefix}/${n}`, d]);
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [entryName, data] of records) {
    const name = Buffer.from(entryName);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, Buffer.from(data));
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(records.length, 8);
  eocd.writeUInt16LE(records.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  writeFileSync(dst, Buffer.concat([...locals, cd, eocd]));
}

/** Renames BINUNICODE strings equal to a key of `names` (state-dict keys are pickled as BINUNICODE). */
export function renameStrings(pkl: Uint8Array, rename: (s: string) => string | undefined): Uint8Array {
  const out: number[] = [];
  const b = Buffer.from(pkl);
  let i = 0;
  while (i < b.length) {
    if (b[i] === 0x58 && i + 5 <= b.length) {
      const n = b.readUInt32LE(i + 1);
      if (n < 512 && i + 5 + n <= b.length) {
        const s = b.subarray(i + 5, i + 5 + n).toString('utf8');
        const to = /^[\w.]+$/.test(s) ? rename(s) : undefined;
        if (to !== undefined) {
          const nb = Buffer.from(to, 'utf8');
          const len = Buffer.alloc(4);
          len.writeUInt32LE(nb.length);
          out.push(0x58, ...len, ...nb);
          i += 5 + n;
          continue;
        }
      }
    }
    out.push(b[i]!);
    i++;
  }
  return Uint8Array.from(out);
}

/**
 * Replaces the `None` value pickled right after each key string matching `keyPattern` (after an optional memo
 * put) with the opcodes `replacement(key)` returns.
 */
export function replaceNoneAfterKeys(pkl: Uint8Array, keyPattern: RegExp, replacement: (key: string) => Uint8Array): Uint8Array {
  const b = Buffer.from(pkl);
  const parts: Buffer[] = [];
  let from = 0;
  let i = 0;
  while (i < b.length) {
    if (b[i] === 0x58 && i + 5 <= b.length) {
      const n = b.readUInt32LE(i + 1);
      if (n < 512 && i + 5 + n <= b.length) {
        const s = b.subarray(i + 5, i + 5 + n).toString('utf8');
        if (keyPattern.test(s)) {
          let j = i + 5 + n;
          if (b[j] === 0x71) j += 2;
          else if (b[j] === 0x72) j += 5;
          if (b[j] === 0x4e) {
            parts.push(b.subarray(from, j), Buffer.from(replacement(s)));
            from = j + 1;
            i = j + 1;
            continue;
          }
        }
      }
    }
    i++;
  }
  parts.push(b.subarray(from));
  return Uint8Array.from(Buffer.concat(parts));
}
