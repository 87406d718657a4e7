// Test-only: the Python used for cross-checks (torch, safetensors, transformers). Never used by the product.
// Order: $MCORE_INTEROP_PYTHON, the private venv scripts/interop-venv.sh makes (CI creates it before the tests),
// then a developer's .venv-interop. Tests that need it skip with a visible reason when none exists.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const PYTHON_CANDIDATES: readonly string[] = [
  process.env['MCORE_INTEROP_PYTHON'] ?? '',
  join(REPO_ROOT, 'node_modules/.cache/mcore-interop-venv/bin/python'),
  join(REPO_ROOT, '.venv-interop/bin/python'),
].filter((p) => p !== '');

/** The first candidate that exists, or the last one (so a skip message names a concrete path). */
export function interopPython(): string {
  return PYTHON_CANDIDATES.find((p) => existsSync(p)) ?? PYTHON_CANDIDATES[PYTHON_CANDIDATES.length - 1]!;
}
