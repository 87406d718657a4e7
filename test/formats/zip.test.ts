import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { errorOf } from '../support/errors.js';
import { readTorchSave } from '../../lib/formats/torch-save.js';
import { readZip, readZipEntry } from '../../lib/formats/zip.js';
import type { View } from '../../lib/tensor/view.js';
import { readStorage } from '../support/materialize.js';
import { FIXTURES } from '../support/fixtures.js';

const FIX = FIXTURES;
const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8'));
const GPT2_TP2_R1 = 'megatron/gpt2/torch/tp2pp1/iter_0000010/mp_rank_01/model_optim_rng.pt';
const tmp = mkdtempSync(join(tmpdir(), 'zip-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of a fixture in the tmp dir, optionally altered. */
function copyOf(rel: string, name: string, alter?: (b: Buffer) => Buffer): string {
  const out = join(tmp, name);
  const b = readFileSync(join(FIX, rel));
  writeFileSync(out, alter ? alter(Buffer.from(b)) : b);
  return out;
}

describe('zip directory of a real torch archive', () => {
  test('entries match the manifest and data lies inside the file, 64-byte aligned', () => {
    const path = join(FIX, GPT2_TP2_R1);
    const z = readZip(path);
    const info = manifest.models.gpt2.checkpoints['torch/tp2pp1'].ranks.mp_rank_01;
    expect(z.entries.size).toBe(info.zip_entries);
    const size = readFileSync(path).length;
    for (const e of z.entries.values()) {
      expect(e.name.startsWith(`${info.zip_root}/`)).toBe(true);
      expect(e.dataOffset + e.size).toBeLessThanOrEqual(size);
      if (e.name.includes('/data/')) expect(e.dataOffset % 64).toBe(0);
    }
    expect(new TextDecoder().decode(readZipEntry(z, 'model_optim_rng/byteorder'))).toBe('little');
  });

  test('a region of a larger file reads like the file itself', () => {
    const raw = readFileSync(join(FIX, GPT2_TP2_R1));
    const pad = 4099;
    const big = join(tmp, 'embedded.bin');
    writeFileSync(big, Buffer.concat([Buffer.alloc(pad, 7), raw, Buffer.alloc(333, 9)]));
    const whole = readZip(join(FIX, GPT2_TP2_R1));
    const sliced = readZip(big, { offset: pad, length: raw.length });
    expect([...sliced.entries.keys()]).toEqual([...whole.entries.keys()]);
    for (const [name, e] of sliced.entries) expect(e.dataOffset).toBe(whole.entries.get(name)!.dataOffset + pad);
    const t1 = readTorchSave(join(FIX, GPT2_TP2_R1)).value as Map<string, unknown>;
    const t2 = readTorchSave(big, { offset: pad, length: raw.length }).value as Map<string, unknown>;
    const w1 = (t1.get('model') as Map<string, View>).get('decoder.layers.1.mlp.linear_fc1.weight')!;
    const w2 = (t2.get('model') as Map<string, View>).get('decoder.layers.1.mlp.linear_fc1.weight')!;
    expect(readStorage(w2.storage, 0, 4096)).toEqual(readStorage(w1.storage, 0, 4096));
  });
});

describe('hostile zips', () => {
  test('every truncation is a coded error naming the file', () => {
    const raw = readFileSync(join(FIX, GPT2_TP2_R1));
    for (const keep of [0, 10, 21, 1000, raw.length >> 1, raw.length - 23, raw.length - 1]) {
      const p = copyOf(GPT2_TP2_R1, `trunc-${keep}.pt`, (b) => b.subarray(0, keep));
      const e = errorOf(() => readTorchSave(p));
      expect(e.code).toBe('E_FORMAT');
      expect(e.file).toBe(p);
    }
  });

  test('a central directory pointing outside the file', () => {
    const p = copyOf(GPT2_TP2_R1, 'cd-outside.pt', (b) => {
      // zip64 end record: its directory offset (u64 @48) → far past the end
      const loc = b.length - 22 - 20;
      const rec = Number(b.readBigUInt64LE(loc + 8));
      b.writeBigUInt64LE(BigInt(b.length + 1_000_000), rec + 48);
      return b;
    });
    const e = errorOf(() => readZip(p));
    expect(e.code).toBe('E_FORMAT');
    expect(e.file).toBe(p);
    expect(e.message).toContain('central directory');
  });

  test('an entry whose local header offset points outside the archive', () => {
    const p = copyOf(GPT2_TP2_R1, 'local-outside.pt', (b) => {
      const loc = b.length - 22 - 20;
      const rec = Number(b.readBigUInt64LE(loc + 8));
      const cd = Number(b.readBigUInt64LE(rec + 48));
      b.writeUInt32LE(0xfffffff0, cd + 42);
      return b;
    });
    expect(errorOf(() => readZip(p)).code).toBe('E_FORMAT');
  });

  test('an entry whose size runs past the archive', () => {
    const p = copyOf(GPT2_TP2_R1, 'size-outside.pt', (b) => {
      const loc = b.length - 22 - 20;
      const rec = Number(b.readBigUInt64LE(loc + 8));
      const cd = Number(b.readBigUInt64LE(rec + 48));
      b.writeUInt32LE(b.length, cd + 20);
      b.writeUInt32LE(b.length, cd + 24);
      return b;
    });
    const e = errorOf(() => readZip(p));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('outside');
  });

  test('a compressed entry is unsupported', () => {
    const p = copyOf(GPT2_TP2_R1, 'deflated.pt', (b) => {
      const loc = b.length - 22 - 20;
      const rec = Number(b.readBigUInt64LE(loc + 8));
      const cd = Number(b.readBigUInt64LE(rec + 48));
      b.writeUInt16LE(8, cd + 10);
      return b;
    });
    expect(errorOf(() => readZip(p)).code).toBe('E_UNSUPPORTED');
  });

  test('a region outside the file, a missing file', () => {
    const path = join(FIX, GPT2_TP2_R1);
    expect(errorOf(() => readZip(path, { offset: 100, length: 10_000_000 })).code).toBe('E_FORMAT');
    expect(errorOf(() => readZip(join(tmp, 'nope.pt'))).code).toBe('E_NOT_FOUND');
  });

  test('a storage record smaller than its tensor claims', () => {
    const p = copyOf(GPT2_TP2_R1, 'short-storage.pt', (b) => {
      // shrink the size of the first data/N record in the central directory
      const loc = b.length - 22 - 20;
      const rec = Number(b.readBigUInt64LE(loc + 8));
      let q = Number(b.readBigUInt64LE(rec + 48));
      for (;;) {
        const nameLen = b.readUInt16LE(q + 28);
        const name = b.subarray(q + 46, q + 46 + nameLen).toString();
        if (name === 'model_optim_rng/data/0') {
          b.writeUInt32LE(4, q + 20);
          b.writeUInt32LE(4, q + 24);
          return b;
        }
        q += 46 + nameLen + b.readUInt16LE(q + 30) + b.readUInt16LE(q + 32);
      }
    });
    const e = errorOf(() => readTorchSave(p));
    expect(e.code).toBe('E_FORMAT');
    expect(e.file).toBe(p);
  });
});
