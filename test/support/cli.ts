// Runs the CLI from source in a real child process (vite-node on test/engine/cli-entry.ts), so CLI tests need no
// build step and never race a rebuild of the shared dist/.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VITE_NODE = join(ROOT, 'node_modules/.bin/vite-node');
const ENTRY = join(ROOT, 'test/engine/cli-entry.ts');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  cwd?: string;
  /** added to this process's environment */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export function sourceCli(args: readonly string[], o: CliRunOptions = {}): CliRun {
  const r = spawnSync(VITE_NODE, [ENTRY, ...args], { cwd: o.cwd, encoding: 'utf8', env: { ...process.env, ...o.env }, timeout: o.timeoutMs ?? 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** As sourceCli, without blocking: for several CLI processes at once. */
export function sourceCliAsync(args: readonly string[], o: Omit<CliRunOptions, 'timeoutMs'> = {}): Promise<CliRun> {
  const p = spawn(VITE_NODE, [ENTRY, ...args], { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (c) => (stdout += c));
  p.stderr.on('data', (c) => (stderr += c));
  return new Promise((res) => p.on('close', (code) => res({ code, stdout, stderr })));
}
