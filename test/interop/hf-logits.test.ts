// Every fixture model exported to Hugging Face format (float32 and bfloat16), loaded by transformers'
// AutoModelForCausalLM on CPU in a Python child process, run on the fixture's input ids: its logits must match
// Megatron's own forward pass (fixtures/logits) over the real-vocabulary columns.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { exportHf } from '../../lib/hf/export.js';
import type { Checkpoint } from '../../lib/megatron/types.js';
import { testExecutor } from '../hf/support/executor.js';
import { FIXTURE_MODELS, FIXTURES, type FixtureModel, tp1Checkpoint } from '../hf/support/tp1-fixture.js';

const DTYPES = ['float32', 'bfloat16'] as const;
const TOLERANCE = { float32: 1e-4, bfloat16: 2e-2 } as const;
const ROOT = resolve(import.meta.dirname, '../..');

interface Result {
  dir: string;
  dtype: string;
  class: string;
  model_dtype: string;
  vocab: number;
  padded_vocab: number;
  rel_err: number;
  missing: string[];
  unexpected: string[];
  mismatched: string[];
  torch: string;
  transformers: string;
}

/** A Python with torch + safetensors + transformers: $MCORE_INTEROP_PYTHON, else the private venv (created on demand). */
function findPython(): { python?: string; reason?: string } {
  const probe = (py: string) => spawnSync(py, ['-c', 'import torch, safetensors, transformers'], { encoding: 'utf8' }).status === 0;
  const given = process.env['MCORE_INTEROP_PYTHON'];
  if (given) return probe(given) ? { python: given } : { reason: `MCORE_INTEROP_PYTHON=${given} cannot import torch, safetensors and transformers` };
  const r = spawnSync('bash', [join(ROOT, 'scripts/interop-venv.sh'), join(ROOT, 'node_modules/.cache/mcore-interop-venv')], { cwd: ROOT, encoding: 'utf8', timeout: 1_500_000 });
  if (r.status !== 0) return { reason: `no Python interop venv (scripts/interop-venv.sh exit ${r.status}): ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}` };
  return { python: r.stdout.trim().split('\n').pop()! };
}

/** The checkpoint as the product opens it when openCheckpoint exists, else the TP1 fixture read directly. */
async function open(model: FixtureModel): Promise<{ ckpt: Checkpoint; via: string }> {
  const modulePath = '../../lib/megatron/open.js';
  try {
    const mod = (await import(modulePath)) as { openCheckpoint?: (p: string) => Checkpoint | Promise<Checkpoint> };
    if (mod.openCheckpoint) return { ckpt: await mod.openCheckpoint(join(FIXTURES, 'megatron', model, 'torch/tp1pp1')), via: 'openCheckpoint' };
  } catch {
    // not built yet: fall through
  }
  return { ckpt: tp1Checkpoint(model), via: 'tp1 fixture reader' };
}

const cases = FIXTURE_MODELS.flatMap((model) => DTYPES.map((dtype) => ({ model, dtype })));
const results = new Map<string, Result>();
let skipReason: string | undefined;
let tmp: string;

beforeAll(async () => {
  const py = findPython();
  if (!py.python) {
    skipReason = py.reason;
    console.warn(`SKIPPING HF interop: ${skipReason}`);
    return;
  }
  tmp = mkdtempSync(join(tmpdir(), 'hf-interop-'));
  const { execute, which } = await testExecutor();
  const list: { dir: string; logits: string; dtype: string }[] = [];
  const vias = new Set<string>();
  for (const c of cases) {
    const { ckpt, via } = await open(c.model);
    vias.add(via);
    const dir = join(tmp, `${c.model}-${c.dtype}`);
    await exportHf(ckpt, { outDir: dir, dtype: c.dtype, execute });
    ckpt.close();
    list.push({ dir, logits: join(FIXTURES, 'logits', `${c.model}.safetensors`), dtype: c.dtype });
  }
  const casesFile = join(tmp, 'cases.json');
  writeFileSync(casesFile, JSON.stringify(list));
  const out = execFileSync(py.python, [join(ROOT, 'test/interop/hf_logits.py'), casesFile], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, TRANSFORMERS_OFFLINE: '1', HF_HUB_OFFLINE: '1', TORCHDYNAMO_DISABLE: '1' } });
  for (const line of out.split('\n').filter((l) => l.startsWith('{'))) {
    const r = JSON.parse(line) as Result;
    results.set(r.dir, r);
  }
  const rows = cases.map((c) => {
    const r = results.get(join(tmp, `${c.model}-${c.dtype}`));
    return `| ${c.model} | ${r?.class} | ${c.dtype} | cpu (${r?.model_dtype}) | ${r?.vocab}/${r?.padded_vocab} | ${r?.rel_err.toExponential(2)} | ≤ ${TOLERANCE[c.dtype]} |`;
  });
  console.log(
    [`HF interop: checkpoints via ${[...vias].join(', ')}; executor: ${which}; torch ${[...results.values()][0]?.torch}, transformers ${[...results.values()][0]?.transformers}`,
      '| model | class | export dtype | device (compute dtype) | vocab/padded | max|Δ|/max|ref| | bound |', '|---|---|---|---|---|---|---|', ...rows].join('\n'),
  );
});

afterAll(() => {
  if (tmp && existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
});

describe('transformers runs the exported checkpoints to Megatron logits', () => {
  test.for(cases)('$model $dtype', ({ model, dtype }, ctx) => {
    if (skipReason) ctx.skip();
    const r = results.get(join(tmp, `${model}-${dtype}`));
    expect(r, 'python produced no result').toBeDefined();
    expect(r!.missing, 'weights transformers expected but did not find').toEqual([]);
    expect(r!.unexpected, 'weights transformers did not expect').toEqual([]);
    expect(r!.mismatched).toEqual([]);
    expect(r!.model_dtype).toBe(dtype);
    expect(r!.rel_err).toBeLessThanOrEqual(TOLERANCE[dtype]);
  });
});
