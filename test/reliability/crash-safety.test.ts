// Crash safety of `mcore-export trtllm`: an export killed with SIGKILL at 10 random points, cancelled through an
// AbortSignal, or interrupted with SIGINT never leaves a directory that looks complete — the output directory
// does not exist until the staged export is complete and moved into place, and then every file is byte-identical
// to an uninterrupted export. The staging directory goes at once on abort/SIGINT, and at the next run after a
// kill (which needs no --force: nothing was put in place).
import { type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExportError } from '../../lib/errors.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { exportTrtllm } from '../../lib/trtllm/export.js';
import { Rng } from '../fuzz/rng.js';
import { isTemporary, makeBigCheckpoint, stagingDirs } from './support/big-checkpoint.js';
import { cli, cliProcess } from '../support/cli.js';
import { sha256File } from '../support/files.js';

const work = mkdtempSync(join(tmpdir(), 'mcore-crash-'));
let ckpt = '';
let reference: Map<string, string>;
let fullMs = 0;
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ARGS = ['--tp', '2'];
const hashes = (dir: string) => new Map(readdirSync(dir).sort().map((n) => [n, sha256File(join(dir, n))]));
const exited = (p: ChildProcess) => new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
  let stderr = '';
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  p.stdout!.resume();
  p.on('close', (code, signal) => resolve({ code, signal, stderr }));
});

/** A temporary file inside a staging directory of `target`. */
const writing = (target: string) => stagingDirs(target).some((d) => {
  try {
    return readdirSync(d).some(isTemporary);
  } catch {
    return false; // renamed into place meanwhile
  }
});

/** Resolves when a temporary appears in the export's staging directory (polled every 2 ms); false if the process ends first. */
function whenWriting(dir: string, p: ChildProcess): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (p.exitCode !== null || p.signalCode !== null) {
        clearInterval(t);
        resolve(false);
      } else if (writing(dir)) {
        clearInterval(t);
        resolve(true);
      }
    }, 2);
  });
}

describe('crash safety of the trtllm export', () => {
  beforeAll(() => {
    ckpt = makeBigCheckpoint(work);
    const out = join(work, 'reference');
    const t0 = performance.now();
    const r = cli(['trtllm', ckpt, '--out', out, ...ARGS]);
    fullMs = performance.now() - t0;
    expect(r.status, r.stderr).toBe(0);
    reference = hashes(out);
    expect([...reference.keys()]).toEqual(['config.json', 'rank0.safetensors', 'rank1.safetensors']);
  }, 120_000);

  it('SIGKILL at 10 random points: never a complete-looking directory; the next run cleans up and succeeds', async () => {
    const rng = new Rng(4242);
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) {
      const out = join(work, `killed-${i}`);
      const p = cliProcess(['trtllm', ckpt, '--out', out, ...ARGS]);
      const done = exited(p);
      // even points: anywhere in the run; odd points: inside the write phase (after the first temporary appears)
      if (i % 2 === 0) await new Promise((r) => setTimeout(r, rng.next() * fullMs));
      else if (await whenWriting(out, p)) await new Promise((r) => setTimeout(r, rng.next() * 150));
      p.kill('SIGKILL');
      const r = await done;
      const entries = existsSync(out) ? readdirSync(out) : [];
      const staged = stagingDirs(out).some((d) => readdirSync(d).length > 0);
      const state = r.signal !== 'SIGKILL' ? 'finished' : existsSync(out) ? (entries.length ? 'in place' : 'empty dir') : staged ? 'staged' : 'no dir';
      seen.push(state);

      if (existsSync(out)) {
        const v = cli(['verify', out]);
        if (v.status === 0) {
          // it looks complete only if it is: the same bytes as the uninterrupted export, nothing else
          expect(hashes(out), `kill ${i} left a directory verify accepts`).toEqual(reference);
        } else expect(v.stderr, `kill ${i}`).toMatch(/E_[A-Z_]+: /);
      }

      // the next run: nothing in place → it succeeds without --force and removes the killed run's staging directory
      const again = cli(['trtllm', ckpt, '--out', out, ...ARGS, ...(entries.length ? ['--force'] : [])]);
      expect(again.status, `re-run after kill ${i} (${state}): ${again.stderr}`).toBe(0);
      expect(stagingDirs(out), `staging directories after the re-run of kill ${i}`).toEqual([]);
      expect(hashes(out)).toEqual(reference);
      rmSync(out, { recursive: true, force: true });
    }
    // the kills must have hit the write phase, or this test proved nothing
    expect(seen.filter((s) => s === 'staged').length, seen.join(', ')).toBeGreaterThanOrEqual(3);
  }, 300_000);

  it('AbortSignal mid-write: E_ABORTED, no temporaries, nothing verify accepts', async () => {
    const out = join(work, 'aborted');
    const ck = openCheckpoint(ckpt);
    const ac = new AbortController();
    let sawProgress = false;
    try {
      const err = await exportTrtllm(ck, {
        outDir: out,
        tpSize: 2,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.bytesDone > 0 && !sawProgress) {
            sawProgress = true;
            expect(writing(out)).toBe(true);
            ac.abort();
          }
        },
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(sawProgress).toBe(true);
      expect(isExportError(err) && err.code, `${String(err)} ${String((err as Error)?.cause)}`).toBe('E_ABORTED');
    } finally {
      ck.close();
    }
    expect(existsSync(out)).toBe(false);
    expect(stagingDirs(out)).toEqual([]);
  }, 120_000);

  it('SIGINT to the CLI mid-write: exit 130 with E_ABORTED, no temporaries, no directory', async () => {
    const out = join(work, 'interrupted');
    const p = cliProcess(['trtllm', ckpt, '--out', out, ...ARGS]);
    const done = exited(p);
    expect(await whenWriting(out, p)).toBe(true);
    p.kill('SIGINT');
    const r = await done;
    expect(r.signal).toBe(null);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^mcore-export trtllm: E_ABORTED: /m);
    expect(existsSync(out)).toBe(false);
    expect(stagingDirs(out)).toEqual([]);
  }, 120_000);
});
