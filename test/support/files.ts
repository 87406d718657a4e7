// File helpers for tests: writable fixture copies, digests.
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './fixtures.js';

/** Makes a copied tree writable (the fixtures it came from may be read-only): directories 755, files 644. */
export function makeWritable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) makeWritable(p);
    else chmodSync(p, 0o644);
  }
}

/** A writable private copy of a fixture directory. */
export function copyFixture(rel: string, to: string): string {
  cpSync(join(FIXTURES, rel), to, { recursive: true });
  makeWritable(to);
  return to;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Every entry under `dir`, sorted, directories with a trailing '/' (empty when `dir` does not exist). */
export function listTree(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(`${prefix}${n}/`, ...listTree(p, `${prefix}${n}/`));
    else out.push(`${prefix}${n}`);
  }
  return out;
}
