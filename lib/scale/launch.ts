/**
 * Which process am I in a multi-process export: rank and world size from flags, or — only when asked with
 * `--rank auto` (`{ rank: 'auto' }`) — from the environment a launcher sets. Launcher variables are never read
 * otherwise: a plain export inside `salloc` or an `sbatch` script must not silently write a quarter of a
 * checkpoint. No communication happens between processes; each writes its own share of output files.
 *
 * Order of the environment sources matters: inside an `sbatch` script every process started by mpirun
 * inherits SLURM_PROCID=0 and SLURM_NTASKS=N from the batch step, so the MPI variables are consulted before
 * Slurm's, and torchrun's RANK/WORLD_SIZE before both.
 */
import { fail } from '../errors.js';

export interface LaunchPlace {
  rank: number;
  worldSize: number;
  /** index among the processes on this machine, when the launcher says (selects the GPU) */
  localRank: number | null;
  /** where rank/worldSize came from */
  source: 'flags' | 'default' | 'RANK/WORLD_SIZE' | 'OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE' | 'PMI_RANK/PMI_SIZE' | 'SLURM_PROCID/SLURM_NTASKS';
}

const ENV_SOURCES = [
  ['RANK', 'WORLD_SIZE'], // torchrun, and anyone by hand
  ['OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE'], // Open MPI mpirun
  ['PMI_RANK', 'PMI_SIZE'], // MPICH / Intel MPI hydra
  ['SLURM_PROCID', 'SLURM_NTASKS'], // srun
] as const;

const LOCAL_RANK_VARS = ['LOCAL_RANK', 'OMPI_COMM_WORLD_LOCAL_RANK', 'MPI_LOCALRANKID', 'SLURM_LOCALID'] as const;

function intFrom(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim())) fail('E_USAGE', `${what} must be a non-negative integer, got '${text}'`);
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n)) fail('E_USAGE', `${what} is too large: ${text}`);
  return n;
}

function checked(rank: number, worldSize: number, what: string): void {
  if (worldSize < 1) fail('E_USAGE', `${what}: world size must be at least 1, got ${worldSize}`);
  if (rank >= worldSize) fail('E_USAGE', `${what}: rank ${rank} is outside world size ${worldSize}`);
}

/** `--rank R --world-size W` (both or neither), or `--rank auto` (the launcher's variables; no --world-size). */
export interface LaunchFlags {
  rank?: number | 'auto' | undefined;
  worldSize?: number | undefined;
}

/** The first launcher variable pair that is set, or null. A pair set only half (RANK without WORLD_SIZE) is an error. */
function fromEnvironment(env: NodeJS.ProcessEnv): Omit<LaunchPlace, 'localRank'> | null {
  for (const [rv, wv] of ENV_SOURCES) {
    const r = env[rv];
    const w = env[wv];
    const hasR = r !== undefined && r !== '';
    const hasW = w !== undefined && w !== '';
    if (!hasR && !hasW) continue;
    if (!hasR || !hasW) fail('E_USAGE', `$${hasR ? rv : wv} is set but $${hasR ? wv : rv} is not`);
    const rank = intFrom(r, `$${rv}`);
    const worldSize = intFrom(w, `$${wv}`);
    checked(rank, worldSize, `$${rv}/$${wv}`);
    return { rank, worldSize, source: `${rv}/${wv}` as LaunchPlace['source'] };
  }
  return null;
}

/**
 * Launcher variables that say this process is one of several, when they are not used (no `--rank auto`): the
 * CLI mentions them, so a user who meant a partitioned export learns how to ask for one. Null when there are none.
 */
export function ignoredLauncher(env: NodeJS.ProcessEnv = process.env): string | null {
  try {
    const p = fromEnvironment(env);
    return p && p.worldSize > 1 ? `$${p.source.replace('/', ' and $')} say this is process ${p.rank} of ${p.worldSize}` : null;
  } catch {
    return null;
  }
}

/**
 * `flags` with numbers: exactly that place. `rank: 'auto'`: the first launcher variable pair that is set
 * (E_USAGE when none is). No flags: a single process, whatever the environment says.
 */
export function resolveLaunchPlace(flags: LaunchFlags = {}, env: NodeJS.ProcessEnv = process.env): LaunchPlace {
  // the local rank picks a GPU: a launcher variable like the others, read only with --rank auto
  const localRank = flags.rank !== 'auto' ? null : (() => {
    for (const v of LOCAL_RANK_VARS) {
      const t = env[v];
      if (t !== undefined && t !== '') return intFrom(t, `$${v}`);
    }
    return null;
  })();
  if (flags.rank === 'auto') {
    if (flags.worldSize !== undefined) fail('E_USAGE', '--rank auto takes the world size from the launcher too; leave --world-size out');
    const p = fromEnvironment(env);
    if (p === null) fail('E_USAGE', `--rank auto: no launcher variables are set (${ENV_SOURCES.map(([r, w]) => `${r}/${w}`).join(', ')})`);
    return { ...p, localRank };
  }
  if (flags.rank !== undefined || flags.worldSize !== undefined) {
    if (flags.rank === undefined || flags.worldSize === undefined) fail('E_USAGE', '--rank and --world-size go together (or --rank auto alone)');
    for (const [n, v] of [['--rank', flags.rank], ['--world-size', flags.worldSize]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) fail('E_USAGE', `${n} must be a non-negative integer, got ${v}`);
    }
    checked(flags.rank, flags.worldSize, '--rank/--world-size');
    return { rank: flags.rank, worldSize: flags.worldSize, localRank, source: 'flags' };
  }
  return { rank: 0, worldSize: 1, localRank, source: 'default' };
}

export type RankAssignment = 'round-robin' | 'contiguous';

/**
 * Output ranks (0..outputRanks-1) this process writes. round-robin: r % worldSize == rank (what trtllm-build
 * does under MPI; spreads PP stages, which differ in size, over processes). contiguous: blocks in order, the
 * first (outputRanks % worldSize) processes take one more. Processes beyond outputRanks get none.
 */
export function assignOutputRanks(outputRanks: number, place: { rank: number; worldSize: number }, how: RankAssignment = 'round-robin'): number[] {
  if (!Number.isSafeInteger(outputRanks) || outputRanks < 1) fail('E_USAGE', `output rank count must be a positive integer, got ${outputRanks}`);
  const { rank, worldSize } = place;
  const mine: number[] = [];
  if (how === 'round-robin') {
    for (let r = rank; r < outputRanks; r += worldSize) mine.push(r);
    return mine;
  }
  if (how !== 'contiguous') fail('E_USAGE', `rank assignment must be round-robin or contiguous, got '${String(how)}'`);
  const base = Math.floor(outputRanks / worldSize);
  const extra = outputRanks % worldSize;
  const start = rank * base + Math.min(rank, extra);
  const count = base + (rank < extra ? 1 : 0);
  for (let r = start; r < start + count; r++) mine.push(r);
  return mine;
}

/** 'cuda' without an index → this process's local GPU (LOCAL_RANK); anything else is kept. */
export function deviceForLocalRank(device: string, localRank: number | null): string {
  if (device === 'cuda' && localRank !== null) return `cuda:${localRank}`;
  return device;
}
