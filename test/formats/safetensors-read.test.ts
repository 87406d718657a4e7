// The safetensors reader against files it did not write: the real fixtures and files written by Python's
// `safetensors` package. Python (torch + safetensors) is the reference where the interop venv exists;
// an independent parse of the JSON header is the reference everywhere.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensorsFile, readSafetensorsHeader } from '../../lib/formats/safetensors.js';
import { fromView } from '../../lib/tensor/tensor.js';
import { materialize } from '../support/materialize.js';
import { type PyFile, pythonUnavailable, READ_WITH_PYTHON, runPython } from './safetensors-python.js';
import { FIXTURES } from '../support/fixtures.js';



function findSafetensors(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findSafetensors(p));
    else if (e.name.endsWith('.safetensors')) out.push(p);
  }
  return out.sort();
}

const fixtureFiles = [...findSafetensors(join(FIXTURES, 'reference')), ...findSafetensors(join(FIXTURES, 'logits'))];

// Written here, not imported from lib: the header's dtype names as the format spells them.
const DTYPE_BY_HEADER_NAME: Record<string, string> = {
  F32: 'float32', F16: 'float16', BF16: 'bfloat16', F8_E4M3: 'float8_e4m3fn', F8_E5M2: 'float8_e5m2',
  I8: 'int8', U8: 'uint8', I32: 'int32', I64: 'int64', BOOL: 'bool',
};

/** The header as JSON.parse sees it, with no validation: the independent reference. */
function rawHeader(path: string): { dataStart: number; json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> } {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const json = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  delete json.__metadata__;
  return { dataStart: 8 + n, json };
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function expectMatchesRawHeader(path: string): number {
  const file = openSafetensorsFile(path);
  const { dataStart, json } = rawHeader(path);
  const bytes = readFileSync(path);
  expect([...file.tensors.keys()].sort()).toEqual(Object.keys(json).sort());
  for (const [name, info] of Object.entries(json)) {
    const view = file.tensors.get(name)!;
    expect(view.dtype, name).toBe(DTYPE_BY_HEADER_NAME[info.dtype]);
    expect(view.shape, name).toEqual(info.shape);
    // zero-copy: the view points at the file, nothing was read into memory
    expect(view.storage.kind).toBe('file');
    const expected = bytes.subarray(dataStart + info.data_offsets[0], dataStart + info.data_offsets[1]);
    expect(Buffer.from(materialize(fromView(view))).equals(expected), name).toBe(true);
  }
  return Object.keys(json).length;
}

function expectMatchesPython(path: string, py: PyFile): void {
  expect(py.ok, `python could not read ${path}: ${py.error}`).toBe(true);
  const file = openSafetensorsFile(path);
  expect([...file.tensors.keys()].sort()).toEqual(Object.keys(py.tensors!).sort());
  for (const [name, t] of Object.entries(py.tensors!)) {
    const view = file.tensors.get(name)!;
    expect(view.dtype, name).toBe(t.dtype);
    expect(view.shape, name).toEqual(t.shape);
    expect(sha256(materialize(fromView(view))), name).toBe(t.sha256);
  }
  expect(file.metadata).toEqual(py.metadata ?? {});
}

describe('safetensors reader on the real fixtures', () => {
  it('finds the fixture files', () => {
    expect(fixtureFiles.length).toBeGreaterThan(50);
  });

  it('agrees with an independent parse of every header, and the views read the right bytes', () => {
    let total = 0;
    for (const path of fixtureFiles) total += expectMatchesRawHeader(path);
    expect(total).toBeGreaterThan(1000);
  });

  it('reports the header layout: data block = the file after the header', () => {
    for (const path of fixtureFiles) {
      const h = readSafetensorsHeader(path);
      expect(h.dataStart).toBe(8 + h.headerLength);
      expect(h.dataStart + h.dataLength).toBe(statSync(path).size);
      expect(h.entries.at(-1)?.end ?? 0).toBe(h.dataLength);
    }
  });

  it('reads the logits files metadata', () => {
    const f = openSafetensorsFile(join(FIXTURES, 'logits', 'llama.safetensors'));
    expect(f.metadata['model']).toBe('llama');
    expect(f.tensors.get('logits')!.dtype).toBe('float32');
    expect(f.tensors.get('attention_mask')!.dtype).toBe('bool');
  });
});

const noPython = pythonUnavailable();
if (noPython) console.warn(`[safetensors-read] Python cross-checks skipped: ${noPython}`);

describe.skipIf(noPython !== null)('safetensors reader vs Python safetensors', () => {
  let dir = '';
  let written: string[] = [];
  let py: Record<string, PyFile> = {};

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'st-read-'));
    // Every dtype we support, odd shapes (scalar, empty, 1-sized), non-ASCII names and metadata, as torch writes them.
    written = runPython<string[]>(
      `
import json, sys, torch
from safetensors.torch import save_file
d = json.load(sys.stdin)
g = torch.Generator().manual_seed(7)
def rnd(shape, dtype):
    x = torch.randn(shape, generator=g) * 3
    if dtype == torch.bool: return x > 0
    if dtype in (torch.int8, torch.uint8, torch.int32, torch.int64): return (x * 20).to(dtype)
    return x.to(dtype)
dtypes = [torch.float32, torch.float16, torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2,
          torch.int8, torch.uint8, torch.int32, torch.int64, torch.bool]
shapes = [[], [0], [1], [7], [3, 5], [2, 0, 4], [2, 3, 1, 5], [65, 3]]
paths = []
for i, dt in enumerate(dtypes):
    ts = {f"{str(dt)[6:]}.s{j}": rnd(s, dt) for j, s in enumerate(shapes)}
    p = f"{d}/one_{str(dt)[6:]}.safetensors"
    save_file(ts, p, metadata={"format": "pt", "i": str(i)})
    paths.append(p)
mixed = {f"mixed.{k}.{str(dt)[6:]}": rnd([k + 1, 3], dt) for k, dt in enumerate(dtypes)}
mixed["naïve ✓ name"] = rnd([2, 2], torch.float32)
p = f"{d}/mixed.safetensors"
save_file(mixed, p, metadata={"note": "héllo ✓", "empty": ""})
paths.append(p)
p = f"{d}/nothing.safetensors"
save_file({}, p)
paths.append(p)
print(json.dumps(paths))
`,
      dir,
    );
    py = runPython<Record<string, PyFile>>(READ_WITH_PYTHON, [...written, ...fixtureFiles]);
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads files torch wrote, every dtype and odd shape, bit for bit', () => {
    expect(written.length).toBe(12);
    for (const p of written) expectMatchesPython(p, py[p]!);
    expect(openSafetensorsFile(written.at(-1)!).tensors.size).toBe(0);
  });

  it('reads every fixture file exactly as Python does', () => {
    for (const p of fixtureFiles) expectMatchesPython(p, py[p]!);
  });
});
