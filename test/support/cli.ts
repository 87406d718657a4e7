// The one way tests run the CLI: `node bin/mcore-export.js` (the published entry point, on dist/) in a real child
// process. dist/ is rebuilt from lib/ once at the start of every vitest run (test/support/build-once.ts), so it
// is never stale and no test needs to skip when it is missing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'mcore-export.js');

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** default: the repository root */
  cwd?: string;
  /** added to (or, with undefined, removed from) the environment */
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
}

// A test run inside torchrun, mpirun or srun must not turn every export into a share of one.
const LAUNCHER_VARS = ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_RANK', 'PMI_RANK', 'PMI_SIZE', 'SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID'];

function environment(extra: CliOptions['env'] = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of LAUNCHER_VARS) delete env[k];
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs the CLI to completion. */
export function cli(args: readonly string[], o: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: o.cwd ?? ROOT, encoding: 'utf8', env: environment(o.env), timeout: o.timeoutMs ?? 120_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The running CLI process, for tests that signal or kill it. */
export function cliProcess(args: readonly string[], o: Omit<CliOptions, 'timeoutMs'> = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: o.cwd ?? ROOT, env: environment(o.env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** As cli, without blocking: for several CLI processes at once. */
export function cliAsync(args: readonly string[], o: Omit<CliOptions, 'timeoutMs'> = {}): Promise<CliResult> {
  const p = cliProcess(args, o);
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (c) => (stdout += c));
  p.stderr!.on('data', (c) => (stderr += c));
  return new Promise((res) => p.on('close', (status, signal) => res({ status, signal, stdout, stderr })));
}
