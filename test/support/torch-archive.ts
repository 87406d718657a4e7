// Test-only: the one rewriter of torch.save archives. Rebuilds a torch zip with records replaced (an edited pickle,
// a spliced-in payload) or added, written by the generator's torch-style zip writer so CRCs, offsets and
// alignment are right. Fixtures are never edited: callers write the bytes to a copy.
import { readFileSync } from 'node:fs';
import { readZip } from '../../lib/formats/zip.js';
import type { Sink } from '../../tools/generate/sink.js';
import { TorchZipWriter } from '../../tools/generate/zip-writer.js';

class MemorySink implements Sink {
  private parts: Buffer[] = [];
  position = 0;
  write(chunk: Uint8Array): void {
    this.parts.push(Buffer.from(chunk));
    this.position += chunk.length;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** New bytes for a record, or a function of its old bytes. */
export type RecordEdit = Uint8Array | ((old: Uint8Array) => Uint8Array);

/**
 * The torch zip at `src` rebuilt with `edits` (record names relative to the archive prefix, e.g. `data.pkl`,
 * `data/te0`): a named record that exists is replaced in place, one that does not is appended (bytes only).
 */
export function rewriteTorchZip(src: string, edits: Readonly<Record<string, RecordEdit>>): Buffer {
  const z = readZip(src);
  const file = readFileSync(src);
  const prefix = [...z.entries.keys()][0]!.split('/')[0]!;
  const sink = new MemorySink();
  const w = new TorchZipWriter(sink, prefix);
  const seen = new Set<string>();
  for (const [name, e] of z.entries) {
    const rec = name.slice(prefix.length + 1);
    const old = file.subarray(e.dataOffset, e.dataOffset + e.size);
    const edit = edits[rec];
    seen.add(rec);
    w.add(rec, edit === undefined ? old : typeof edit === 'function' ? edit(old) : edit);
  }
  for (const [rec, edit] of Object.entries(edits)) {
    if (seen.has(rec)) continue;
    if (typeof edit === 'function') throw new Error(`rewriteTorchZip: ${src} has no record ${rec} to edit`);
    w.add(rec, edit);
  }
  w.finish();
  return sink.bytes();
}

/** The BINUNICODE string (opcode `X`, u32 length, UTF-8; under 512 bytes, as state-dict keys) at `i`, if any. */
function binUnicodeAt(b: Buffer, i: number): { s: string; end: number } | null {
  if (b[i] !== 0x58 || i + 5 > b.length) return null;
  const n = b.readUInt32LE(i + 1);
  if (n >= 512 || i + 5 + n > b.length) return null;
  return { s: b.subarray(i + 5, i + 5 + n).toString('utf8'), end: i + 5 + n };
}

/** Renames BINUNICODE strings for which `rename` answers (state-dict keys are pickled as BINUNICODE). */
export function renameStrings(pkl: Uint8Array, rename: (s: string) => string | undefined): Uint8Array {
  const out: number[] = [];
  const b = Buffer.from(pkl);
  let i = 0;
  while (i < b.length) {
    const str = binUnicodeAt(b, i);
    const to = str && /^[\w.]+$/.test(str.s) ? rename(str.s) : undefined;
    if (str && to !== undefined) {
      const nb = Buffer.from(to, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(nb.length);
      out.push(0x58, ...len, ...nb);
      i = str.end;
      continue;
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
    const str = binUnicodeAt(b, i);
    if (str && keyPattern.test(str.s)) {
      let j = str.end;
      if (b[j] === 0x71) j += 2;
      else if (b[j] === 0x72) j += 5;
      if (b[j] === 0x4e) {
        parts.push(b.subarray(from, j), Buffer.from(replacement(str.s)));
        from = j + 1;
        i = j + 1;
        continue;
      }
    }
    i++;
  }
  parts.push(b.subarray(from));
  return Uint8Array.from(Buffer.concat(parts));
}
