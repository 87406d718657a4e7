// Launcher variables with real `mcore-export trtllm` processes: torchrun, Open MPI, PMI and Slurm variables are
// ignored (and said to be) without --rank auto — the whole checkpoint is written — and used with it, in which case
// stderr, the summary and --json all say which share was written and that the directory is not complete yet.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sourceCli as cli } from '../support/cli.js';
import { fixture } from '../support/fixtures.js';

const CKPT = fixture('megatron/llama/torch/tp1pp1');
const work = mkdtempSync(join(tmpdir(), 'launcher-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// process 1 of 4, as each launcher says it
const LAUNCHERS: [string, Record<string, string>, string][] = [
  ['torchrun', { RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '1' }, '$RANK, $WORLD_SIZE'],
  ['Open MPI', { OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '4' }, '$OMPI_COMM_WORLD_RANK, $OMPI_COMM_WORLD_SIZE'],
  ['PMI', { PMI_RANK: '1', PMI_SIZE: '4' }, '$PMI_RANK, $PMI_SIZE'],
  ['Slurm', { SLURM_PROCID: '1', SLURM_NTASKS: '4' }, '$SLURM_PROCID, $SLURM_NTASKS'],
];
const ALL = ['config.json', 'rank0.safetensors', 'rank1.safetensors', 'rank2.safetensors', 'rank3.safetensors'];
let n = 0;
const args = (out: string, ...extra: string[]) => ['trtllm', CKPT, '--out', out, '--tp', '2', '--pp', '2', ...extra];

describe('launcher variables need --rank auto', () => {
  for (const [name, env, vars] of LAUNCHERS) {
    it(`${name}: ignored without --rank auto (whole checkpoint, a note on stderr); used with it (one share, said everywhere)`, () => {
      const whole = join(work, `whole-${n++}`);
      const a = cli(args(whole, '--json'), { env });
      expect(a.code, a.stderr).toBe(0);
      expect(readdirSync(whole).sort()).toEqual(ALL);
      expect(a.stderr).toMatch(/note: .* say this is process 1 of 4; they are ignored: this process writes the whole checkpoint \(pass --rank auto/);
      expect(JSON.parse(a.stdout).partition).toBe(null);

      const share = join(work, `share-${n++}`);
      const b = cli(args(share, '--rank', 'auto', '--json'), { env });
      expect(b.code, b.stderr).toBe(0);
      expect(readdirSync(share)).toEqual(['rank1.safetensors']);
      const note = `share 1 of 4 (from ${vars}) writes output rank 1 into ${share}; the directory is incomplete until every one of the 4 shares has finished`;
      expect(b.stderr).toContain(note);
      expect(JSON.parse(b.stdout).partition).toMatchObject({ rank: 1, worldSize: 4, outputRanks: [1], writesConfig: false, complete: false });
      expect(JSON.parse(b.stdout).partition.note).toContain(note);

      const human = cli(args(join(work, `human-${n++}`), '--rank', 'auto'), { env });
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toMatch(/^partial: share 1 of 4 .* incomplete until every one of the 4 shares has finished/m);
    }, 120_000);
  }

  it('a process beyond the output ranks writes nothing, creates nothing, and says so', () => {
    const out = join(work, `beyond-${n++}`);
    const r = cli(args(out, '--rank', 'auto'), { env: { SLURM_PROCID: '5', SLURM_NTASKS: '8' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/share 5 of 8 \(from \$SLURM_PROCID, \$SLURM_NTASKS\) writes no output ranks/);
    expect(existsSync(out)).toBe(false);
  });

  it('--rank auto without launcher variables, or with --world-size, is a usage error', () => {
    const clean = Object.fromEntries(['RANK', 'WORLD_SIZE', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'PMI_RANK', 'PMI_SIZE', 'SLURM_PROCID', 'SLURM_NTASKS'].map((k) => [k, '']));
    const r = cli(args(join(work, `none-${n++}`), '--rank', 'auto'), { env: clean });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/E_USAGE: --rank auto: no launcher variables are set/);
    const w = cli(args(join(work, `none-${n++}`), '--rank', 'auto', '--world-size', '4'), { env: { RANK: '0', WORLD_SIZE: '4' } });
    expect(w.code).toBe(2);
  });

  it('explicit --rank/--world-size: the share is announced the same way', () => {
    const out = join(work, `flags-${n++}`);
    const r = cli(args(out, '--rank', '0', '--world-size', '2', '--json'));
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'rank0.safetensors', 'rank2.safetensors']);
    expect(r.stderr).toContain(`share 0 of 2 (from --rank/--world-size) writes output ranks 0, 2 and config.json into ${out}; the directory is incomplete`);
    expect(JSON.parse(r.stdout).partition).toMatchObject({ rank: 0, worldSize: 2, outputRanks: [0, 2], writesConfig: true, complete: false });
  });

  it('a share never writes into a directory holding foreign files; it replaces only its own files', () => {
    const out = join(work, `shared-${n++}`);
    expect(cli(args(out, '--rank', '1', '--world-size', '4')).code).toBe(0);
    expect(cli(args(out, '--rank', '2', '--world-size', '4')).code).toBe(0);
    const rerun = cli(args(out, '--rank', '1', '--world-size', '4'));
    expect(rerun.code, rerun.stderr).toBe(0); // re-running a share is how a failed one is finished
    expect(readdirSync(out).sort()).toEqual(['rank1.safetensors', 'rank2.safetensors']);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const r = cli(args(out, '--rank', '3', '--world-size', '4'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/E_USAGE: the shared output directory holds 1 entry that no TensorRT-LLM checkpoint export writes \(notes\.txt\)/);
    expect(readdirSync(out).sort()).toEqual(['notes.txt', 'rank1.safetensors', 'rank2.safetensors']);
  }, 120_000);
});
