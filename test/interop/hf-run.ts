// Test-only helpers of the HF interop tests: find the Python with torch + transformers, export with the real CLI,
// run test/interop/hf_logits.py on a list of exports and collect its one-line JSON results.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { loadNative } from '../../lib/native.js';

export const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/mcore-export.js');
// async children only: a blocked event loop starves vitest's worker RPC during the minute this takes
export const run = promisify(execFile);

export interface HfLogitsResult {
  dir: string;
  dtype: string;
  class: string;
  model_dtype: string;
  vocab: number;
  padded_vocab: number;
  rel_err: number;
  argmax_agree: number;
  missing: string[];
  unexpected: string[];
  mismatched: string[];
  torch: string;
  transformers: string;
}

/** A Python with torch + safetensors + transformers: $MCORE_INTEROP_PYTHON, else the private venv (created on demand). */
export async function findPython(): Promise<{ python?: string; reason?: string }> {
  const given = process.env['MCORE_INTEROP_PYTHON'];
  if (given) {
    const ok = await run(given, ['-c', 'import torch, safetensors, transformers']).then(() => true, () => false);
    return ok ? { python: given } : { reason: `MCORE_INTEROP_PYTHON=${given} cannot import torch, safetensors and transformers` };
  }
  try {
    const r = await run('bash', [join(ROOT, 'scripts/interop-venv.sh'), join(ROOT, 'node_modules/.cache/mcore-interop-venv')], { cwd: ROOT, timeout: 1_500_000, maxBuffer: 1 << 24 });
    return { python: r.stdout.trim().split('\n').pop()! };
  } catch (e) {
    const err = e as { code?: unknown; stderr?: string; message: string };
    return { reason: `no Python interop venv (scripts/interop-venv.sh exit ${String(err.code)}): ${(err.stderr || err.message).trim().split('\n').slice(-3).join(' | ')}` };
  }
}

/** Why the interop tests cannot run here (no Python, no dist/, no addon), or undefined with the Python to use. */
export async function interopSetup(): Promise<{ python?: string; skip?: string }> {
  const py = await findPython();
  if (!py.python) return { skip: py.reason! };
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) return { skip: 'dist/ is not built (npm run test:interop builds it; or run npm run build:ts)' };
  try {
    loadNative();
  } catch (e) {
    return { skip: `the CLI cannot write without the native addon: ${(e as Error).message}` };
  }
  return { python: py.python };
}

/** Runs `mcore-export hf` as a user would; returns its --json result. */
export async function exportWithCli(src: string, out: string, dtype: string, modelType?: string): Promise<{ architecture: string; dtype: string; tensors: number }> {
  const r = await run(process.execPath, [CLI, 'hf', src, '--out', out, '--dtype', dtype, '--json', ...(modelType ? ['--model-type', modelType] : [])]);
  return JSON.parse(r.stdout) as { architecture: string; dtype: string; tensors: number };
}

/** hf_logits.py over the exports; results by export directory (`dir@compute` where a case names a compute dtype). */
export async function hfLogits(python: string, tmp: string, list: { dir: string; logits: string; dtype: string; compute?: string }[]): Promise<Map<string, HfLogitsResult>> {
  const casesFile = join(tmp, 'cases.json');
  writeFileSync(casesFile, JSON.stringify(list));
  const { stdout: out } = await run(python, [join(ROOT, 'test/interop/hf_logits.py'), casesFile], { maxBuffer: 1 << 26, env: { ...process.env, TRANSFORMERS_OFFLINE: '1', HF_HUB_OFFLINE: '1', TORCHDYNAMO_DISABLE: '1' } });
  const results = new Map<string, HfLogitsResult>();
  for (const line of out.split('\n').filter((l) => l.startsWith('{'))) {
    const r = JSON.parse(line) as HfLogitsResult;
    results.set(r.dir, r);
  }
  return results;
}
