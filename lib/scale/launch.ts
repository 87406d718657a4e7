/**
 * Which process am I in a multi-process export: rank and world size from flags, else from the environment a
 * launcher sets. No communication happens between processes; each writes its own share of output files.
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

/**
 * `flags` win (both or neither); else the first environment pair that is set; else a single process.
 * A pair set only half (RANK without WORLD_SIZE) is an error rather than a silent single-process run.
 */
export function resolveLaunchPlace(flags: { rank?: number | undefined; worldSize?: number | undefined } = {}, env: NodeJS.ProcessEnv = process.env): LaunchPlace {
  const localRank = (() => {
    for (const v of LOCAL_RANK_VARS) {
      const t = env[v];
      if (t !== undefined && t !== '') return intFrom(t, `$${v}`);
    }
    return null;
  })();
  if (flags.rank !== undefined || flags.worldSize !== undefined) {
    if (flags.rank === undefined || flags.worldSize === undefined) fail('E_USAGE', '--rank and --world-size go together');
    for (const [n, v] of [['--rank', flags.rank], ['--world-size', flags.worldSize]] as const) {
      if (!Number.isSafeInteger(v) || v < 0) fail('E_USAGE', `${n} must be a non-negative integer, got ${v}`);
    }
    checked(flags.rank, flags.worldSize, '--rank/--world-size');
    return { rank: flags.rank, worldSize: flags.worldSize, localRank, source: 'flags' };
  }
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
    return { rank, worldSize, localRank, source: `${rv}/${wv}` as LaunchPlace['source'] };
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
