// Runs the built CLI (bin/mcore-export.js → dist/) as a real child process.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, chmodSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURES } from '../../support/fixtures.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'mcore-export.js');
export { FIXTURES };
export const BUILT = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function cli(args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

export function cliAsync(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A writable private copy of a fixture directory. */
export function copyFixture(rel: string, to: string): string {
  cpSync(join(FIXTURES, rel), to, { recursive: true });
  const fix = (d: string) => {
    chmodSync(d, 0o755);
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) fix(p);
      else chmodSync(p, 0o644);
    }
  };
  fix(to);
  return to;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Every entry under `dir` (relative paths, directories with a trailing slash). */
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
