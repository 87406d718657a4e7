// Safetensors checkpoints made of several files: Hugging Face's sharded layout (index + shards) as transformers
// writes it, index-less directories, and broken indexes.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectExportError } from '../support/errors.js';
import { INDEX_FILE, openSafetensors } from '../../lib/formats/safetensors-dir.js';
import { fromView } from '../../lib/tensor/tensor.js';
import { materialize } from '../support/materialize.js';
import { type PyFile, pythonUnavailable, READ_WITH_PYTHON, runPython } from './safetensors-python.js';

/** Writes a minimal safetensors file of U8 tensors, each filled with its own byte value. */
function writeShard(path: string, tensors: Record<string, number>): void {
  const header: Record<string, unknown> = {};
  const chunks: Buffer[] = [];
  let at = 0;
  for (const [name, n] of Object.entries(tensors)) {
    header[name] = { dtype: 'U8', shape: [n], data_offsets: [at, at + n] };
    chunks.push(Buffer.alloc(n, n));
    at += n;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([prefix, json, ...chunks]));
}

function writeIndex(dir: string, weightMap: Record<string, string>, extra: Record<string, unknown> = {}): void {
  writeFileSync(join(dir, INDEX_FILE), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap, ...extra }));
}

let root = '';
let n = 0;
function freshDir(): string {
  const d = join(root, `d${n++}`);
  mkdirSync(d);
  return d;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'st-dir-'));
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('safetensors checkpoints on disk', () => {
  it('opens a single file, a directory holding one, and merges index-less shards', () => {
    const d = freshDir();
    writeShard(join(d, 'a.safetensors'), { x: 3, y: 5 });
    const single = openSafetensors(join(d, 'a.safetensors'));
    expect([...single.tensors.keys()]).toEqual(['x', 'y']);
    expect(single.files).toEqual([join(d, 'a.safetensors')]);
    expect(single.indexMetadata).toBeNull();
    expect(openSafetensors(d).files).toEqual([join(d, 'a.safetensors')]);

    writeShard(join(d, 'b.safetensors'), { z: 7 });
    writeFileSync(join(d, 'notes.txt'), 'ignored');
    const merged = openSafetensors(d);
    expect([...merged.tensors.keys()].sort()).toEqual(['x', 'y', 'z']);
    expect(Buffer.from(materialize(fromView(merged.tensors.get('z')!))).equals(Buffer.alloc(7, 7))).toBe(true);
  });

  it('refuses a tensor found in two index-less shards (e.g. a TensorRT-LLM rank directory)', () => {
    const d = freshDir();
    writeShard(join(d, 'rank0.safetensors'), { w: 2 });
    writeShard(join(d, 'rank1.safetensors'), { w: 2 });
    expectExportError(() => openSafetensors(d), 'E_FORMAT', /in two shards: .*rank0.safetensors and .*rank1.safetensors.*tensor w/, { file: d });
  });

  it('follows an index, opened as the directory or as the index file', () => {
    const d = freshDir();
    writeShard(join(d, 'model-00001-of-00002.safetensors'), { a: 1, b: 2 });
    writeShard(join(d, 'model-00002-of-00002.safetensors'), { c: 3 });
    writeShard(join(d, 'stray.safetensors'), { unrelated: 4 }); // not in the index: never opened
    writeIndex(d, { a: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors', b: 'model-00001-of-00002.safetensors' });
    for (const path of [d, join(d, INDEX_FILE)]) {
      const ck = openSafetensors(path);
      expect([...ck.tensors.keys()].sort()).toEqual(['a', 'b', 'c']);
      expect(ck.files).toEqual([join(d, 'model-00001-of-00002.safetensors'), join(d, 'model-00002-of-00002.safetensors')]);
      expect(ck.indexMetadata).toEqual({ total_size: 0 });
      const c = ck.tensors.get('c')!;
      expect(c.storage.kind === 'file' && c.storage.path).toBe(join(d, 'model-00002-of-00002.safetensors'));
    }
  });

  it('refuses inconsistent indexes, naming the file and tensor', () => {
    const mk = (weightMap: Record<string, string>, shards: Record<string, Record<string, number>>, raw?: string) => {
      const d = freshDir();
      for (const [f, ts] of Object.entries(shards)) writeShard(join(d, f), ts);
      if (raw !== undefined) writeFileSync(join(d, INDEX_FILE), raw);
      else writeIndex(d, weightMap);
      return d;
    };
    let d = mk({ a: 's1.safetensors', b: 's2.safetensors' }, { 's1.safetensors': { a: 1 } });
    expectExportError(() => openSafetensors(d), 'E_NOT_FOUND', /shard named by .* is missing/, { file: join(d, 's2.safetensors') });

    d = mk({ a: 's1.safetensors', b: 's1.safetensors' }, { 's1.safetensors': { a: 1 } });
    expectExportError(() => openSafetensors(d), 'E_FORMAT', /does not hold it.*tensor b/, { file: join(d, 's1.safetensors') });

    d = mk({ a: 's1.safetensors' }, { 's1.safetensors': { a: 1, extra: 2 } });
    expectExportError(() => openSafetensors(d), 'E_FORMAT', /does not list.*tensor extra/, { file: join(d, 's1.safetensors') });

    d = mk({ a: 's1.safetensors', b: 's2.safetensors' }, { 's1.safetensors': { a: 1, b: 2 }, 's2.safetensors': { b: 2 } });
    expectExportError(() => openSafetensors(d), 'E_FORMAT', /maps to s2.safetensors/, { file: join(d, 's1.safetensors') });

    d = mk({ a: '../escape.safetensors' }, {});
    writeShard(join(root, 'escape.safetensors'), { a: 1 });
    expectExportError(() => openSafetensors(d), 'E_SECURITY', /outside the checkpoint directory/, { file: join(d, INDEX_FILE) });
    d = mk({ a: join(root, 'escape.safetensors') }, {});
    expectExportError(() => openSafetensors(d), 'E_SECURITY', /outside/, { file: join(d, INDEX_FILE) });
    d = mk({ a: '.' }, {});
    expectExportError(() => openSafetensors(d), 'E_SECURITY', /outside/, { file: join(d, INDEX_FILE) });

    d = mk({}, {}, '{"weight_map": ');
    expectExportError(() => openSafetensors(d), 'E_FORMAT', /not valid UTF-8 JSON/, { file: join(d, INDEX_FILE) });
    d = mk({}, {}, '{"metadata": {}}');
    expectExportError(() => openSafetensors(d), 'E_FORMAT', /no weight_map/, { file: join(d, INDEX_FILE) });
    d = mk({}, {}, '{"weight_map": {"a": 3}}');
    expectExportError(() => openSafetensors(d), 'E_FORMAT', /not a file name/, { file: join(d, INDEX_FILE) });
    d = mk({}, {}, '{"weight_map": {}, "metadata": "x"}');
    expectExportError(() => openSafetensors(d), 'E_FORMAT', /metadata is not an object/, { file: join(d, INDEX_FILE) });
  });

  it('reports a missing path or an empty directory as E_NOT_FOUND', () => {
    expectExportError(() => openSafetensors(join(root, 'missing')), 'E_NOT_FOUND', /no such file/, { file: join(root, 'missing') });
    const d = freshDir();
    expectExportError(() => openSafetensors(d), 'E_NOT_FOUND', /no .* and no .safetensors files/, { file: d });
  });
});

const noPython = pythonUnavailable();
if (noPython) console.warn(`[safetensors-dir] Python cross-checks skipped: ${noPython}`);

describe.skipIf(noPython !== null)('a sharded checkpoint written by transformers', () => {
  let dir = '';
  let py: Record<string, PyFile> = {};
  beforeAll(() => {
    dir = join(root, 'hf');
    runPython(
      `
import json, sys, torch
from transformers import GPT2Config, GPT2LMHeadModel
torch.manual_seed(0)
m = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=100, n_positions=32))
m.to(torch.bfloat16).save_pretrained(json.load(sys.stdin), max_shard_size="20KB")
print("null")
`,
      dir,
    );
    const shards = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).map((f) => join(dir, f));
    py = runPython<Record<string, PyFile>>(READ_WITH_PYTHON, shards);
  }, 300_000);

  it('reads every tensor of every shard, as the index maps them, bit for bit', () => {
    const index = JSON.parse(readFileSync(join(dir, INDEX_FILE), 'utf8')) as { weight_map: Record<string, string> };
    expect(Object.keys(py).length).toBeGreaterThan(1); // really sharded
    const ck = openSafetensors(dir);
    expect([...ck.tensors.keys()].sort()).toEqual(Object.keys(index.weight_map).sort());
    for (const [file, r] of Object.entries(py)) {
      expect(r.ok, r.error).toBe(true);
      for (const [name, want] of Object.entries(r.tensors!)) {
        const v = ck.tensors.get(name)!;
        expect(v.storage.kind === 'file' && v.storage.path).toBe(file);
        expect(index.weight_map[name]).toBe(file.slice(dir.length + 1));
        expect([v.dtype, v.shape]).toEqual([want.dtype, want.shape]);
        expect(createHash('sha256').update(materialize(fromView(v))).digest('hex'), name).toBe(want.sha256);
      }
    }
  });
});
