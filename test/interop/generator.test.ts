// Real PyTorch reads what tools/generate writes: torch.load (weights_only=False, and weights_only=True with
// argparse.Namespace + signal.Signals allow-listed) of every legacy model_optim_rng.pt, and
// torch.distributed.checkpoint.load of every torch_dist directory into pre-allocated global tensors. Every
// tensor torch sees must have the dtype, shape and sha256 the generator's sidecar records, be finite and
// non-zero. Also: a > 4 GiB torch.save file (zip64) loads with torch.load(mmap=True); and our reader
// (openCheckpoint) and PyTorch (torch.load + Megatron's TP merge rules, or DCP load) see the same global tensors.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCheckpoint } from '../../tools/generate/generate.js';
import { presetSpec, type Family, type ModelSpec } from '../../tools/generate/model.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { BIG, writeBigZip } from '../generate/big-zip.js';
import { materialize } from '../support/materialize.js';
import { PYTHON_CANDIDATES } from '../support/python.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CHECK = join(ROOT, 'test/interop/generator_check.py');

/** A Python that imports torch: $MCORE_INTEROP_PYTHON, else the repo's .venv-interop, else the cached venv. */
function findPython(): { python?: string; reason?: string } {
  const candidates = [...PYTHON_CANDIDATES];
  const tried: string[] = [];
  for (const py of candidates) {
    if (!py || !existsSync(py)) continue;
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return { python: py };
    tried.push(`${py}: ${(r.stderr || '').trim().split('\n').pop()}`);
  }
  return { reason: tried.length ? `no Python with torch (${tried.join('; ')})` : 'no Python interop venv (.venv-interop or $MCORE_INTEROP_PYTHON)' };
}

const { python, reason } = findPython();
if (!python) console.warn(`SKIPPED generator interop: ${reason}`);

const work = mkdtempSync(join(tmpdir(), 'gen-interop-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Check {
  torch: string;
  loaded_files: number;
  weights_only_files: number;
  tensors: number;
  errors: string[];
}

function check(root: string): Check {
  const r = spawnSync(python!, [CHECK, root], { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`generator_check.py failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Check;
}

// odd per-rank column counts (linear_proj: 15 columns per rank, fc2: 17) exercise the unpaired 16-bit value path
const ODD: Partial<ModelSpec> = { hiddenSize: 50, numAttentionHeads: 6, numQueryGroups: 2, kvChannels: 5, ffnHiddenSize: 34 };
const CASES: [string, Family, 'torch' | 'torch_dist', number, number, Partial<ModelSpec>][] = [
  ['llama bf16', 'llama', 'torch', 2, 2, {}],
  ['llama bf16', 'llama', 'torch_dist', 2, 2, {}],
  ['gpt fp32 tied', 'gpt', 'torch', 1, 2, {}],
  ['gpt fp32 tied', 'gpt', 'torch_dist', 2, 2, {}],
  ['llama fp16 odd shapes', 'llama', 'torch', 2, 1, { ...ODD, dtype: 'float16' }],
  ['llama bf16 odd shapes', 'llama', 'torch_dist', 2, 1, ODD],
];

describe.skipIf(!python)('PyTorch loads generated checkpoints', () => {
  it.each(CASES)('%s (%s, %s, tp%i pp%i)', (_name, family, format, tp, pp, over) => {
    const root = join(work, `${family}-${format}-${tp}-${pp}-${Object.keys(over).length}`);
    const man = generateCheckpoint({ root, spec: presetSpec(family, { numLayers: 4, ...over }), tp, pp, format });
    const got = check(root);
    expect(got.errors).toEqual([]);
    expect(got.loaded_files).toBe(tp * pp);
    if (format === 'torch') expect(got.weights_only_files).toBe(tp * pp);
    expect(got.tensors).toBe(man.files.reduce((a, f) => a + f.tensors.length, 0));
    expect(got.tensors).toBeGreaterThan(20);
  });

  it('loads a > 4 GiB zip64 torch.save file with mmap', () => {
    const path = join(work, 'big.pt');
    const { afterValues } = writeBigZip(path);
    const code = `
import json, sys, zipfile, torch
p = sys.argv[1]
z = zipfile.ZipFile(p)
sizes = {i.filename: i.file_size for i in z.infolist()}
d = torch.load(p, mmap=True, weights_only=True)
big, after = d['big'], d['after']
print(json.dumps({'sizes': sizes, 'big_shape': list(big.shape), 'big_dtype': str(big.dtype),
  'big_ends': [int(big[:4096].sum()), int(big[-4096:].sum())], 'after': after.tolist()}))`;
    const r = spawnSync(python!, ['-c', code, path], { encoding: 'utf8', timeout: 600_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { sizes: Record<string, number>; big_shape: number[]; big_dtype: string; big_ends: number[]; after: number[] };
    expect(out.sizes['big/data/0']).toBe(BIG);
    expect(out.big_shape).toEqual([BIG]);
    expect(out.big_dtype).toBe('torch.uint8');
    expect(out.big_ends).toEqual([0, 0]);
    expect(out.after).toEqual(afterValues);
  });
});

describe.skipIf(!python)('our reader and PyTorch agree on every global tensor', () => {
  const READER_CASES: [Family, 'torch' | 'torch_dist', number, number][] = [
    ['llama', 'torch', 2, 2],
    ['llama', 'torch_dist', 2, 2],
    ['gpt', 'torch', 2, 2],
    ['gpt', 'torch_dist', 2, 1],
  ];
  it.each(READER_CASES)('%s %s tp%i pp%i', (family, format, tp, pp) => {
    const root = join(work, `agree-${family}-${format}-${tp}-${pp}`);
    generateCheckpoint({ root, spec: presetSpec(family, { numLayers: 4 }), tp, pp, format, digests: false });
    const r = spawnSync(python!, [join(ROOT, 'test/interop/generator_globals.py'), root], { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    const torchSees = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, { dtype: string; shape: number[]; sha256: string }>;
    const ck = openCheckpoint(root);
    try {
      const ours: Record<string, { dtype: string; shape: number[]; sha256: string }> = {};
      for (const [name, t] of ck.tensors) ours[name] = { dtype: t.dtype, shape: [...t.shape], sha256: createHash('sha256').update(materialize(t)).digest('hex') };
      expect(Object.keys(ours).length).toBeGreaterThan(20);
      expect(ours).toEqual(torchSees);
    } finally {
      ck.close();
    }
  });
});
