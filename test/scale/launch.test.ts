// Rank / world-size resolution from flags and (only with --rank auto) launcher environments, and output-rank assignment.
import { describe, expect, it } from 'vitest';
import { assignOutputRanks, deviceForLocalRank, ignoredLauncher, resolveLaunchPlace } from '../../lib/scale/launch.js';

describe('resolveLaunchPlace', () => {
  it('defaults to a single process', () => {
    expect(resolveLaunchPlace({}, {})).toEqual({ rank: 0, worldSize: 1, localRank: null, source: 'default' });
  });

  // every launcher's variables, set without the opt-in: ignored (a single process writing everything), but named
  const LAUNCHERS: [string, Record<string, string>][] = [
    ['torchrun', { RANK: '3', WORLD_SIZE: '8', LOCAL_RANK: '3' }],
    ['Open MPI', { OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_LOCAL_RANK: '1' }],
    ['PMI', { PMI_RANK: '2', PMI_SIZE: '4', MPI_LOCALRANKID: '0' }],
    ['Slurm', { SLURM_PROCID: '5', SLURM_NTASKS: '6', SLURM_LOCALID: '1' }],
  ];
  it.each(LAUNCHERS)('%s variables without --rank auto: ignored (one process, no local rank), and reported as ignored', (_, env) => {
    expect(resolveLaunchPlace({}, env)).toEqual({ rank: 0, worldSize: 1, localRank: null, source: 'default' });
    expect(resolveLaunchPlace({ rank: 0, worldSize: 1 }, env)).toMatchObject({ worldSize: 1, localRank: null, source: 'flags' });
    expect(ignoredLauncher(env)).toMatch(/say this is process \d of \d/);
  });

  it('no launcher, or a launcher of one process: nothing to report', () => {
    expect(ignoredLauncher({})).toBe(null);
    expect(ignoredLauncher({ SLURM_PROCID: '0', SLURM_NTASKS: '1' })).toBe(null);
  });

  it('--rank auto reads each launcher', () => {
    const auto = { rank: 'auto' } as const;
    expect(resolveLaunchPlace(auto, LAUNCHERS[0]![1])).toMatchObject({ rank: 3, worldSize: 8, localRank: 3, source: 'RANK/WORLD_SIZE' });
    expect(resolveLaunchPlace(auto, LAUNCHERS[1]![1])).toMatchObject({ rank: 1, worldSize: 2, localRank: 1 });
    expect(resolveLaunchPlace(auto, LAUNCHERS[2]![1])).toMatchObject({ rank: 2, worldSize: 4, localRank: 0, source: 'PMI_RANK/PMI_SIZE' });
    expect(resolveLaunchPlace(auto, LAUNCHERS[3]![1])).toMatchObject({ rank: 5, worldSize: 6, localRank: 1, source: 'SLURM_PROCID/SLURM_NTASKS' });
  });

  it('--rank auto without launcher variables, or with --world-size, is a usage error', () => {
    expect(() => resolveLaunchPlace({ rank: 'auto' }, {})).toThrow(/E_USAGE: --rank auto: no launcher variables are set/);
    expect(() => resolveLaunchPlace({ rank: 'auto', worldSize: 4 }, { RANK: '0', WORLD_SIZE: '4' })).toThrow(/E_USAGE: --rank auto takes the world size/);
  });

  it('--rank auto: a PMI launch without a local rank', () => {
    expect(resolveLaunchPlace({ rank: 'auto' }, { PMI_RANK: '2', PMI_SIZE: '4' })).toMatchObject({ rank: 2, worldSize: 4, localRank: null });
  });

  it('mpirun inside an sbatch script: MPI variables win over the inherited SLURM_PROCID=0', () => {
    const env = { SLURM_PROCID: '0', SLURM_NTASKS: '4', OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '4' };
    expect(resolveLaunchPlace({ rank: 'auto' }, env)).toMatchObject({ rank: 2, worldSize: 4, source: 'OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE' });
  });

  it('flags win over the environment', () => {
    expect(resolveLaunchPlace({ rank: 1, worldSize: 2 }, { RANK: '0', WORLD_SIZE: '8' })).toMatchObject({ rank: 1, worldSize: 2, source: 'flags' });
  });

  it('refuses half-given or out-of-range places', () => {
    expect(() => resolveLaunchPlace({ rank: 1 }, {})).toThrow(/E_USAGE.*go together/);
    expect(() => resolveLaunchPlace({ rank: 2, worldSize: 2 }, {})).toThrow(/E_USAGE.*outside world size 2/);
    expect(() => resolveLaunchPlace({ rank: -1, worldSize: 2 }, {})).toThrow(/E_USAGE/);
    expect(() => resolveLaunchPlace({ rank: 'auto' }, { RANK: '0' })).toThrow(/\$RANK is set but \$WORLD_SIZE is not/);
    expect(() => resolveLaunchPlace({ rank: 'auto' }, { RANK: 'x', WORLD_SIZE: '2' })).toThrow(/E_USAGE/);
    expect(() => resolveLaunchPlace({ rank: 'auto' }, { WORLD_SIZE: '0', RANK: '0' })).toThrow(/at least 1/);
  });
});

describe('assignOutputRanks', () => {
  it('round-robin and contiguous both cover every output rank exactly once', () => {
    for (const how of ['round-robin', 'contiguous'] as const) {
      for (const n of [1, 2, 3, 4, 7, 8]) {
        for (const w of [1, 2, 3, 4, 5, 9]) {
          const all = Array.from({ length: w }, (_, r) => assignOutputRanks(n, { rank: r, worldSize: w }, how)).flat().sort((a, b) => a - b);
          expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
        }
      }
    }
  });

  it('round-robin is r % worldSize; contiguous gives the first n % w processes one extra', () => {
    expect(assignOutputRanks(8, { rank: 1, worldSize: 3 })).toEqual([1, 4, 7]);
    expect(assignOutputRanks(8, { rank: 0, worldSize: 3 }, 'contiguous')).toEqual([0, 1, 2]);
    expect(assignOutputRanks(8, { rank: 2, worldSize: 3 }, 'contiguous')).toEqual([6, 7]);
    expect(assignOutputRanks(2, { rank: 3, worldSize: 4 })).toEqual([]);
  });

  it('maps a bare cuda device to the local GPU', () => {
    expect(deviceForLocalRank('cuda', 3)).toBe('cuda:3');
    expect(deviceForLocalRank('cuda:1', 3)).toBe('cuda:1');
    expect(deviceForLocalRank('cuda', null)).toBe('cuda');
    expect(deviceForLocalRank('cpu', 2)).toBe('cpu');
  });
});
