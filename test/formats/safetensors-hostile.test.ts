// The safetensors reader on broken and hostile files: each gives an ExportError with a stable code that names
// the file, nothing else escapes, and (where the interop venv exists) Python's safetensors agrees on what to reject.
import { mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ErrorCode, ExportError } from '../../lib/errors.js';
import { expectExportError } from '../support/errors.js';
import { rng } from '../support/rng.js';
import { MAX_HEADER_BYTES, openSafetensorsFile, parseSafetensorsHeader } from '../../lib/formats/safetensors.js';
import { fromView } from '../../lib/tensor/tensor.js';
import { checkInBounds } from '../../lib/tensor/view.js';
import { materialize } from '../support/materialize.js';
import { type PyFile, pythonUnavailable, READ_WITH_PYTHON, runPython } from './safetensors-python.js';

/** A safetensors file from parts; `header` may be an object (JSON-encoded) or raw bytes; `length` overrides the prefix. */
function build(header: unknown, data: Uint8Array | number, length?: bigint): Buffer {
  const json = header instanceof Uint8Array ? Buffer.from(header) : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(length ?? BigInt(json.length));
  const body = typeof data === 'number' ? Buffer.from(Array.from({ length: data }, (_, i) => (i * 37 + 11) & 255)) : Buffer.from(data);
  return Buffer.concat([prefix, json, body]);
}

const t = (dtype: string, shape: unknown, begin: unknown, end: unknown) => ({ dtype, shape, data_offsets: [begin, end] });
const GOOD_HEADER = { __metadata__: { a: 'b' }, w: t('F32', [2, 3], 0, 24), b: t('BF16', [4], 24, 32), m: t('BOOL', [3], 32, 35) };
const GOOD = build(GOOD_HEADER, 35);

interface Case {
  name: string;
  bytes: Buffer;
  code: ErrorCode;
  message: RegExp;
  tensor?: string;
  /** Python's safetensors reads the file (a valid file holding a dtype we do not support) */
  pythonReads?: boolean;
}

const rejects: Case[] = [
  { name: 'empty', bytes: Buffer.alloc(0), code: 'E_FORMAT', message: /shorter than the 8-byte/ },
  { name: 'five bytes', bytes: Buffer.from([1, 0, 0, 0, 0]), code: 'E_FORMAT', message: /shorter than the 8-byte/ },
  { name: 'header claims 2^40 bytes', bytes: build(GOOD_HEADER, 35, 1n << 40n), code: 'E_FORMAT', message: /exceeds the 100000000-byte limit/ },
  { name: 'header claims 2^64-1 bytes', bytes: build(GOOD_HEADER, 35, (1n << 64n) - 1n), code: 'E_FORMAT', message: /exceeds/ },
  { name: 'header one byte over the limit', bytes: build(GOOD_HEADER, 35, BigInt(MAX_HEADER_BYTES + 1)), code: 'E_FORMAT', message: /exceeds/ },
  { name: 'header runs past the file', bytes: build(GOOD_HEADER, 0).subarray(0, 40), code: 'E_FORMAT', message: /runs past the end/ },
  { name: 'truncated data block', bytes: GOOD.subarray(0, GOOD.length - 1), code: 'E_FORMAT', message: /reach past the 34-byte data block/, tensor: 'm' },
  { name: 'truncated in the middle', bytes: GOOD.subarray(0, GOOD.length - 20), code: 'E_FORMAT', message: /reach past/ },
  { name: 'trailing bytes', bytes: build(GOOD_HEADER, 36), code: 'E_FORMAT', message: /cover 35 bytes but the data block holds 36/ },
  { name: 'overlapping offsets', bytes: build({ a: t('F32', [4], 0, 16), b: t('F32', [2], 8, 16) }, 16), code: 'E_FORMAT', message: /overlap tensor/ },
  { name: 'identical offsets', bytes: build({ a: t('F32', [4], 0, 16), b: t('I32', [4], 0, 16) }, 16), code: 'E_FORMAT', message: /overlap tensor a/, tensor: 'b' },
  { name: 'gap between tensors', bytes: build({ a: t('F32', [2], 0, 8), b: t('F32', [2], 12, 20) }, 20), code: 'E_FORMAT', message: /leave bytes \[8, 12\)/, tensor: 'b' },
  { name: 'first tensor not at 0', bytes: build({ a: t('U8', [4], 4, 8) }, 8), code: 'E_FORMAT', message: /leave bytes \[0, 4\)/ },
  { name: 'unknown dtype', bytes: build({ a: t('F128', [1], 0, 16) }, 16), code: 'E_FORMAT', message: /unknown dtype 'F128'/, tensor: 'a' },
  { name: 'lower-case dtype', bytes: build({ a: t('f32', [1], 0, 4) }, 4), code: 'E_FORMAT', message: /unknown dtype/ },
  { name: 'dtype not a string', bytes: build({ a: t(4 as unknown as string, [1], 0, 4) }, 4), code: 'E_FORMAT', message: /no string dtype/ },
  { name: 'missing dtype', bytes: build({ a: { shape: [1], data_offsets: [0, 4] } }, 4), code: 'E_FORMAT', message: /no string dtype/ },
  { name: 'offsets outside the file', bytes: build({ a: t('F32', [1024], 0, 4096) }, 16), code: 'E_FORMAT', message: /reach past the 16-byte data block/, tensor: 'a' },
  { name: 'offsets beyond 2^53', bytes: build(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[9007199254740993,9007199254740997]}}`, 4), code: 'E_FORMAT', message: /data_offsets is not a pair/ },
  { name: 'shape does not match the byte count', bytes: build({ a: t('F32', [2, 3], 0, 20) }, 20), code: 'E_FORMAT', message: /needs 24 bytes but data_offsets \[0, 20\] hold 20/, tensor: 'a' },
  { name: 'shape product overflows', bytes: build({ a: t('F32', [2 ** 40, 2 ** 40, 2 ** 40], 0, 0) }, 0), code: 'E_FORMAT', message: /needs \d+ bytes/ },
  { name: 'shape with a zero and an overflow', bytes: build({ a: t('F32', [2 ** 52, 3], 0, 0) }, 0), code: 'E_FORMAT', message: /needs/ },
  { name: 'negative dimension', bytes: build({ a: t('F32', [-1, 4], 0, 16) }, 16), code: 'E_FORMAT', message: /shape is not an array of non-negative integers/ },
  { name: 'fractional dimension', bytes: build({ a: t('F32', [1.5, 2], 0, 12) }, 12), code: 'E_FORMAT', message: /shape is not/ },
  { name: 'shape not an array', bytes: build({ a: t('F32', '4', 0, 16) }, 16), code: 'E_FORMAT', message: /shape is not/ },
  { name: 'three data offsets', bytes: build({ a: { dtype: 'U8', shape: [4], data_offsets: [0, 4, 8] } }, 4), code: 'E_FORMAT', message: /not a pair/ },
  { name: 'end before begin', bytes: build({ a: t('U8', [0], 4, 0), b: t('U8', [4], 0, 4) }, 4), code: 'E_FORMAT', message: /end before they begin/ },
  { name: 'sub-byte dtype with an odd count', bytes: build({ a: t('F4', [3], 0, 2) }, 2), code: 'E_FORMAT', message: /not a whole number of bytes/ },
  { name: 'not JSON', bytes: build('{"a": {"dtype": "F32", ', 0), code: 'E_FORMAT', message: /not valid JSON/ },
  { name: 'JSON padded with NULs', bytes: build(Buffer.concat([Buffer.from('{}'), Buffer.alloc(6)]), 0), code: 'E_FORMAT', message: /not valid JSON/ },
  { name: 'not UTF-8', bytes: build(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 0), code: 'E_FORMAT', message: /not valid UTF-8/ },
  { name: 'a JSON array', bytes: build([], 0), code: 'E_FORMAT', message: /not a JSON object/ },
  { name: 'a JSON string', bytes: build('"hello"', 0), code: 'E_FORMAT', message: /not a JSON object/ },
  { name: 'entry is a number', bytes: build({ a: 5 }, 0), code: 'E_FORMAT', message: /entry is not an object/, tensor: 'a' },
  { name: 'metadata value not a string', bytes: build({ __metadata__: { n: 1 } }, 0), code: 'E_FORMAT', message: /__metadata__ value of 'n' is not a string/ },
  { name: 'metadata an array', bytes: build({ __metadata__: ['x'] }, 0), code: 'E_FORMAT', message: /__metadata__ is not an object/ },
  { name: 'a valid F64 tensor', bytes: build({ a: t('F64', [2], 0, 16) }, 16), code: 'E_UNSUPPORTED', message: /dtype F64 is not supported/, tensor: 'a', pythonReads: true },
  { name: 'a valid U16 tensor', bytes: build({ a: t('U16', [2], 0, 4) }, 4), code: 'E_UNSUPPORTED', message: /dtype U16/, pythonReads: true },
  { name: 'F64 tensor of the wrong size', bytes: build({ a: t('F64', [2], 0, 8) }, 8), code: 'E_FORMAT', message: /needs 16 bytes/ },
];

/** Odd but valid files: both readers accept them and agree on the bytes. */
const accepts: { name: string; bytes: Buffer; tensors: number }[] = [
  { name: 'the good file', bytes: GOOD, tensors: 3 },
  // 3 bytes of U8 then an F32: element offsets are not multiples of the itemsize
  { name: 'misaligned offsets', bytes: build({ u: t('U8', [3], 0, 3), f: t('F32', [2], 3, 11), h: t('F16', [1, 1], 11, 13) }, 13), tensors: 3 },
  { name: 'header in reverse offset order', bytes: build({ z: t('I32', [1], 8, 12), y: t('I64', [1], 0, 8) }, 12), tensors: 2 },
  { name: 'empty tensors sharing an offset', bytes: build({ e1: t('F32', [0], 4, 4), a: t('U8', [4], 0, 4), e2: t('BF16', [3, 0], 4, 4), s: t('I8', [], 4, 5) }, 5), tensors: 4 },
  { name: 'metadata null, no tensors', bytes: build({ __metadata__: null }, 0), tensors: 0 },
  { name: 'whitespace around the JSON', bytes: build(' \n{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}   ', 2), tensors: 1 },
  { name: 'unknown fields ignored', bytes: build({ a: { ...t('U8', [2], 0, 2), extra: [1, 2] } }, 2), tensors: 1 },
  { name: 'names that look like object internals', bytes: build({ __proto__x: t('U8', [1], 0, 1), constructor: t('U8', [1], 1, 2), toString: t('U8', [1], 2, 3) }, 3), tensors: 3 },
];

let dir = '';
const pathOf = (name: string) => join(dir, `${name.replace(/[^a-z0-9]+/gi, '_')}.safetensors`);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'st-hostile-'));
  for (const c of [...rejects, ...accepts]) writeFileSync(pathOf(c.name), c.bytes);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('hostile safetensors files', () => {
  for (const c of rejects) {
    it(`rejects: ${c.name}`, () => {
      const e = expectExportError(() => openSafetensorsFile(pathOf(c.name)), c.code, c.message, { file: pathOf(c.name), tensor: c.tensor });
      expect(e.message).toContain(pathOf(c.name));
    });
  }

  for (const c of accepts) {
    it(`accepts: ${c.name}`, () => {
      const f = openSafetensorsFile(pathOf(c.name));
      expect(f.tensors.size).toBe(c.tensors);
      for (const v of f.tensors.values()) {
        if (v.storage.kind !== 'file') throw new Error('expected a file storage');
        expect(v.storage.byteOffset + v.storage.byteLength).toBeLessThanOrEqual(c.bytes.length);
      }
    });
  }

  it('a missing file is E_NOT_FOUND, a directory is E_IO, both naming the path', () => {
    expectExportError(() => openSafetensorsFile(join(dir, 'nope.safetensors')), 'E_NOT_FOUND', /no such file/, { file: join(dir, 'nope.safetensors') });
    const sub = join(dir, 'a-directory.safetensors');
    mkdirSync(sub, { recursive: true });
    expectExportError(() => openSafetensorsFile(sub), 'E_IO', /EISDIR|shorter/, { file: sub });
  });

  it('random corruption of the header never escapes as anything but an ExportError', () => {
    const r = rng(0x9e3779b9); // the same mutations every run
    const rand = (n: number): number => r.int(0, n - 1);
    const headerLen = Number(GOOD.readBigUInt64LE(0));
    const fileSize = GOOD.length;
    const interesting = Buffer.from('0123456789-.,:[]{}"e \\u');
    let opened = 0;
    for (let i = 0; i < 5000; i++) {
      const json = Buffer.from(GOOD.subarray(8, 8 + headerLen));
      for (let k = 1 + rand(3); k > 0; k--) json[rand(json.length)] = rand(2) ? interesting[rand(interesting.length)]! : rand(256);
      try {
        const h = parseSafetensorsHeader('fuzz.safetensors', fileSize, json);
        opened++;
        let cursor = 0;
        for (const e of h.entries) {
          expect(e.begin).toBe(cursor);
          cursor = e.end;
        }
        expect(cursor).toBe(h.dataLength);
      } catch (e) {
        if (!(e instanceof ExportError)) throw e;
        expect(e.file).toBe('fuzz.safetensors');
        expect(['E_FORMAT', 'E_UNSUPPORTED']).toContain(e.code);
      }
    }
    expect(opened).toBeGreaterThan(0);
  });

  it('every truncation and every length prefix of a real file fails cleanly or reads in bounds', () => {
    const fuzz = join(dir, 'fuzz.safetensors');
    const lengths = new Set<bigint>([0n, 1n, 2n, 7n, 8n, 100n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 63n]);
    const headerLen = GOOD.readBigUInt64LE(0);
    for (let d = -3n; d <= 3n; d++) lengths.add(headerLen + d);
    const files: Buffer[] = [];
    for (let cut = 0; cut < GOOD.length; cut++) files.push(GOOD.subarray(0, cut));
    for (const n of lengths) {
      const b = Buffer.from(GOOD);
      b.writeBigUInt64LE(n);
      files.push(b);
    }
    for (const bytes of files) {
      writeFileSync(fuzz, bytes);
      try {
        const f = openSafetensorsFile(fuzz);
        expect(bytes.equals(GOOD)).toBe(true);
        for (const v of f.tensors.values()) checkInBounds(v);
      } catch (e) {
        if (!(e instanceof ExportError)) throw e;
        expect(e.code).toBe('E_FORMAT');
        expect(e.file).toBe(fuzz);
      }
    }
    expect(statSync(fuzz).size).toBe(GOOD.length);
  });
});

const noPython = pythonUnavailable();
if (noPython) console.warn(`[safetensors-hostile] Python cross-checks skipped: ${noPython}`);

describe.skipIf(noPython !== null)('hostile safetensors files: Python safetensors agrees', () => {
  let py: Record<string, PyFile> = {};
  beforeAll(() => {
    py = runPython<Record<string, PyFile>>(READ_WITH_PYTHON, [...rejects, ...accepts].map((c) => pathOf(c.name)));
  }, 120_000);

  it('rejects what we reject (except valid files of dtypes we do not support)', () => {
    for (const c of rejects) {
      const r = py[pathOf(c.name)]!;
      expect(r.ok, `${c.name}: python ${r.ok ? 'read it' : `said ${r.error}`}`).toBe(c.pythonReads === true);
    }
  });

  it('accepts what we accept, with the same dtypes, shapes and bytes', async () => {
    const { createHash } = await import('node:crypto');
    for (const c of accepts) {
      const r = py[pathOf(c.name)]!;
      expect(r.ok, `${c.name}: ${r.error}`).toBe(true);
      const f = openSafetensorsFile(pathOf(c.name));
      expect(Object.keys(r.tensors!).sort()).toEqual([...f.tensors.keys()].sort());
      for (const [name, want] of Object.entries(r.tensors!)) {
        const v = f.tensors.get(name)!;
        expect([v.dtype, v.shape]).toEqual([want.dtype, want.shape]);
        expect(createHash('sha256').update(materialize(fromView(v))).digest('hex'), `${c.name}: ${name}`).toBe(want.sha256);
      }
    }
  });
});
