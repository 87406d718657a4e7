// The checkpoint generator's own guarantees, checked without Python: torch.save's zip layout (record order,
// 64-byte alignment, CRCs, data descriptors, zip64 end records and extras past 4 GiB), the sidecar's digests
// matching the bytes on disk, deterministic output, and the same global values whatever the sharding.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCheckpoint, type GenerateManifest } from '../../tools/generate/generate.js';
import { presetSpec } from '../../tools/generate/model.js';
import { fillBlock, type GenDType } from '../../tools/generate/values.js';
import { BIG, writeBigZip } from './big-zip.js';
import { readBytes, zipLayout } from './zip-layout.js';

const work = mkdtempSync(join(tmpdir(), 'gen-unit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const small = (family: 'llama' | 'gpt') => presetSpec(family, { numLayers: 2 });

describe('legacy model_optim_rng.pt', () => {
  const root = join(work, 'legacy');
  const man = generateCheckpoint({ root, spec: small('llama'), tp: 2, pp: 1, format: 'torch' });
  const file = join(root, 'iter_0000010', 'mp_rank_01', 'model_optim_rng.pt');

  it('has the records torch.save writes, in its order, stored and 64-byte aligned, with valid CRCs', () => {
    const { entries, zip64Eocd } = zipLayout(file);
    expect(zip64Eocd).toBe(true);
    const names = entries.map((e) => e.name);
    const nData = names.filter((n) => n.startsWith('model_optim_rng/data/')).length;
    expect(names).toEqual([
      'model_optim_rng/data.pkl',
      'model_optim_rng/.format_version',
      'model_optim_rng/.storage_alignment',
      'model_optim_rng/byteorder',
      ...Array.from({ length: nData }, (_, i) => `model_optim_rng/data/${i}`),
      'model_optim_rng/version',
      'model_optim_rng/.data/serialization_id',
    ]);
    for (const e of entries) {
      expect(e.method, e.name).toBe(0);
      expect(e.compressedSize).toBe(e.size);
      expect(e.dataOffset % 64, e.name).toBe(0);
      expect(e.flags, e.name).toBe(e.size > 0 ? 0x0808 : 0x0800);
      const data = readBytes(file, e.dataOffset, e.size);
      expect(crc32(data) >>> 0, e.name).toBe(e.crc);
      const desc = readBytes(file, e.dataOffset + e.size, 16);
      expect(desc.readUInt32LE(0)).toBe(0x08074b50);
      expect(desc.readUInt32LE(4)).toBe(e.crc);
      expect(desc.readUInt32LE(8)).toBe(e.size);
      expect(desc.readUInt32LE(12)).toBe(e.size);
    }
    const text = (n: string) => readBytes(file, entries.find((e) => e.name === `model_optim_rng/${n}`)!.dataOffset, entries.find((e) => e.name === `model_optim_rng/${n}`)!.size).toString();
    expect(text('version')).toBe('3\n');
    expect(text('byteorder')).toBe('little');
    expect(text('.format_version')).toBe('1');
    expect(text('.storage_alignment')).toBe('64');
    expect(text('.data/serialization_id')).toMatch(/^\d{40}$/);
    const pkl = readBytes(file, entries[0]!.dataOffset, entries[0]!.size);
    expect([...pkl.subarray(0, 2)]).toEqual([0x80, 0x02]);
    expect(pkl[pkl.length - 1]).toBe(0x2e);
  });

  it("sidecar digests are the bytes of the file's storages", () => {
    const rec = man.files.find((f) => f.path === 'mp_rank_01/model_optim_rng.pt')!;
    const { entries } = zipLayout(file);
    const storages = entries.filter((e) => e.name.includes('/data/'));
    const storageDigests = new Set(storages.map((e) => createHash('sha256').update(readBytes(file, e.dataOffset, e.size)).digest('hex')));
    expect(rec.tensors.length).toBeGreaterThan(10);
    for (const t of rec.tensors) expect(storageDigests.has(t.sha256), t.key).toBe(true);
    // 5 more storages: the rng state's uint8 tensors; no two storages alike
    expect(storages.length).toBe(rec.tensors.length + 5);
    expect(storageDigests.size).toBe(storages.length);
  });

  it('is byte-for-byte reproducible', () => {
    const before = readFileSync(file);
    generateCheckpoint({ root, spec: small('llama'), tp: 2, pp: 1, format: 'torch', overwrite: true });
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});

describe('torch_dist directory', () => {
  it('has the files Megatron writes', () => {
    const root = join(work, 'dist');
    const man = generateCheckpoint({ root, spec: small('gpt'), tp: 2, pp: 2, format: 'torch_dist' });
    const it = join(root, 'iter_0000010');
    expect(readFileSync(join(root, 'latest_checkpointed_iteration.txt'), 'utf8')).toBe('10');
    expect(JSON.parse(readFileSync(join(it, 'metadata.json'), 'utf8'))).toEqual({ sharded_backend: 'torch_dist', sharded_backend_version: 1 });
    const md = readFileSync(join(it, '.metadata'));
    expect([...md.subarray(0, 3)]).toEqual([0x80, 0x04, 0x95]); // protocol 4, framed
    expect(Number(md.readBigUInt64LE(3))).toBe(md.length - 11);
    expect(man.files.map((f) => f.path).sort()).toEqual(['__0_0.distcp', '__1_0.distcp', '__2_0.distcp', '__3_0.distcp']);
    // every chunk is a complete torch.save zip ('archive/' prefix) whose single storage is the chunk's bytes
    const rec = man.files[0]!;
    const f = join(it, rec.path);
    // the last item's end records close the file; its zip64 locator gives the item's start
    const size = statSync(f).size;
    const base = size - 22 - 20 - 56 - Number(readBytes(f, size - 42 + 8, 8).readBigUInt64LE(0));
    const last = zipLayout(f, base, size - base);
    expect(last.entries.map((e) => e.name)).toEqual([
      'archive/data.pkl',
      'archive/.format_version',
      'archive/.storage_alignment',
      'archive/byteorder',
      'archive/data/0',
      'archive/version',
      'archive/.data/serialization_id',
    ]);
    const data = last.entries[4]!;
    const lastChunk = rec.tensors[rec.tensors.length - 1]!;
    expect(data.size).toBe(lastChunk.shape.reduce((a, b) => a * b, 1) * 4);
    expect(createHash('sha256').update(readBytes(f, base + data.dataOffset, data.size)).digest('hex')).toBe(lastChunk.sha256);
    expect((base + data.dataOffset) % 64).toBe(base % 64); // aligned relative to the item, as DCP items are
  });
});

describe('values', () => {
  const dtypes: GenDType[] = ['bfloat16', 'float16', 'float32'];
  const decode = (dtype: GenDType, b: Uint8Array): number[] => {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const out: number[] = [];
    for (let i = 0; i < b.byteLength; i += dtype === 'float32' ? 4 : 2) {
      if (dtype === 'float32') out.push(dv.getFloat32(i, true));
      else if (dtype === 'bfloat16') out.push(new Float32Array(new Uint32Array([dv.getUint16(i, true) << 16]).buffer)[0]!);
      else {
        const h = dv.getUint16(i, true);
        const e = (h >> 10) & 31;
        out.push((h & 0x8000 ? -1 : 1) * (e === 0 ? (h & 0x3ff) * 2 ** -24 : e === 31 ? Infinity : (1 + (h & 0x3ff) / 1024) * 2 ** (e - 15)));
      }
    }
    return out;
  };

  it.each(dtypes)('%s: sub-blocks equal slices of the whole (any column parity), finite, never zero', (dtype) => {
    const es = dtype === 'float32' ? 4 : 2;
    const rows = 7;
    const cols = 10;
    const whole = new Uint8Array(rows * cols * es);
    fillBlock(1234, dtype, 'weight', 0, rows, 0, cols, whole);
    const vals = decode(dtype, whole);
    expect(vals.every((v) => Number.isFinite(v) && v !== 0 && Math.abs(v) < 0.07)).toBe(true);
    expect(new Set(vals).size).toBeGreaterThan(vals.length * 0.8);
    for (const [r0, nr, c0, nc] of [
      [2, 3, 3, 5],
      [0, 7, 4, 6],
      [6, 1, 1, 1],
    ] as const) {
      const part = new Uint8Array(nr * nc * es);
      fillBlock(1234, dtype, 'weight', r0, nr, c0, nc, part);
      for (let r = 0; r < nr; r++)
        expect(Buffer.from(part.subarray(r * nc * es, (r + 1) * nc * es)).equals(Buffer.from(whole.subarray(((r0 + r) * cols + c0) * es, ((r0 + r) * cols + c0 + nc) * es)))).toBe(true);
    }
    const norms = new Uint8Array(64 * es);
    fillBlock(99, dtype, 'norm', 0, 1, 0, 64, norms);
    expect(decode(dtype, norms).every((v) => Math.abs(v) >= 0.5 && Math.abs(v) < 2)).toBe(true);
  });

  it('gives every layout of a model the same global tensors (the vocabulary padding aside)', () => {
    const a = generateCheckpoint({ root: join(work, 'g1'), spec: small('gpt'), tp: 1, pp: 1, format: 'torch', digests: false, globalDigests: true });
    const b = generateCheckpoint({ root: join(work, 'g2'), spec: small('gpt'), tp: 2, pp: 2, format: 'torch_dist', digests: false, globalDigests: true });
    const digests = (m: GenerateManifest) => new Map(m.globals.filter((g) => !g.name.startsWith('embedding.word') && !g.name.startsWith('output_layer')).map((g) => [g.name, g.sha256]));
    expect(digests(a).size).toBeGreaterThan(10);
    expect(digests(b)).toEqual(digests(a));
  });
});

describe('errors', () => {
  it('rejects shardings Megatron would reject, naming the setting', () => {
    expect(() => generateCheckpoint({ root: join(work, 'bad'), spec: small('llama'), tp: 3, format: 'torch' })).toThrow(/E_CONFIG: tp=3 does not divide num_attention_heads=8/);
    expect(() => generateCheckpoint({ root: join(work, 'bad'), spec: small('llama'), pp: 4, format: 'torch' })).toThrow(/E_CONFIG: pp=4 does not divide num_layers=2/);
  });
  it('never overwrites a directory it did not write', () => {
    const d = join(work, 'foreign');
    mkdirSync(d);
    writeFileSync(join(d, 'precious.txt'), 'x');
    expect(() => generateCheckpoint({ root: d, spec: small('llama'), format: 'torch', overwrite: true })).toThrow(/E_USAGE: refusing to overwrite/);
    expect(readFileSync(join(d, 'precious.txt'), 'utf8')).toBe('x');
  });
});

describe('zip64', () => {
  it('marks a > 4 GiB record and a record past 4 GiB with zip64 extras, keeping alignment', () => {
    const path = join(work, 'big.pt');
    const { afterValues } = writeBigZip(path);
    const { entries } = zipLayout(path);
    const big = entries.find((e) => e.name === 'big/data/0')!;
    const after = entries.find((e) => e.name === 'big/data/1')!;
    expect(big.size).toBe(BIG);
    expect(big.localExtraIds).toEqual([0x0001, 0x4246]); // zip64 block before the 'FB' padding, as torch writes
    expect(after.headerOffset).toBeGreaterThan(2 ** 32);
    expect(after.localExtraIds).toEqual([0x0001, 0x4246]);
    for (const e of entries) expect(e.dataOffset % 64, e.name).toBe(0);
    const desc = readBytes(path, big.dataOffset + big.size, 24); // zip64 data descriptor: 64-bit sizes
    expect(desc.readUInt32LE(0)).toBe(0x08074b50);
    expect(Number(desc.readBigUInt64LE(8))).toBe(BIG);
    const got = readBytes(path, after.dataOffset, 16);
    expect([...new Float32Array(got.buffer, got.byteOffset, 4)]).toEqual(afterValues);
    expect(crc32(got) >>> 0).toBe(after.crc);
  }, 120_000);
});
