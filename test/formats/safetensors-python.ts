// Test support: runs the interop virtualenv's Python (torch + safetensors) as the independent reference.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { interopPython } from '../support/python.js';

export const PYTHON = interopPython();

/** Why Python cannot be used, or null when it can. */
export function pythonUnavailable(): string | null {
  if (!existsSync(PYTHON)) return `no interop virtualenv at ${PYTHON}`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, safetensors'], { encoding: 'utf8', timeout: 120_000 });
  return r.status === 0 ? null : `the interop virtualenv cannot import torch/safetensors: ${r.stderr.trim().split('\n').pop()}`;
}

/** Runs `code` with `input` as JSON on stdin; returns its stdout parsed as JSON. */
export function runPython<T>(code: string, input: unknown): T {
  const r = spawnSync(PYTHON, ['-c', code], { input: JSON.stringify(input), encoding: 'utf8', timeout: 300_000, maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** What Python's `safetensors.safe_open` sees in a file: per tensor dtype, shape, sha256 of its bytes; or the error. */
export interface PyFile {
  ok: boolean;
  error?: string;
  metadata?: Record<string, string> | null;
  tensors?: Record<string, { dtype: string; shape: number[]; sha256: string }>;
}

export const READ_WITH_PYTHON = `
import hashlib, json, sys, torch
from safetensors import safe_open
out = {}
for path in json.load(sys.stdin):
    try:
        tensors = {}
        with safe_open(path, framework="pt") as f:
            md = f.metadata()
            for k in f.keys():
                t = f.get_tensor(k)
                raw = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
                tensors[k] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "sha256": hashlib.sha256(raw).hexdigest()}
        out[path] = {"ok": True, "metadata": md, "tensors": tensors}
    except Exception as e:
        out[path] = {"ok": False, "error": type(e).__name__ + ": " + str(e)[:200]}
print(json.dumps(out))
`;
