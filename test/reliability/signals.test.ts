// SIGINT, SIGTERM and SIGHUP sent to a real `mcore-export` process in the middle of writing a generated 1.07 GB
// checkpoint (or of an engine build) all cancel the same way: exit 130 / 143 / 129, `E_ABORTED` on stderr, no temporaries or staging
// directory left, and the output directory exactly as it was before (absent, or the previous export).
import { type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeGigabyteCheckpoint, stagingDirs } from './support/big-checkpoint.js';
import { cli, cliProcess, ROOT } from '../support/cli.js';
import { listTree, sha256File } from '../support/files.js';
import { FIXTURES } from '../support/fixtures.js';

const STAND_IN = join(ROOT, 'test', 'support', 'fake-trtllm-build', 'trtllm-build');

const work = mkdtempSync(join(tmpdir(), 'mcore-signals-'));
let ckpt = '';
afterAll(() => rmSync(work, { recursive: true, force: true }));

const EXIT = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
const hashes = (dir: string) => Object.fromEntries(listTree(dir).map((n) => [n, sha256File(join(dir, n))]));

function exited(p: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = '';
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdout!.resume();
    p.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** Resolves true once the export's staging directory holds a temporary with data in it (polled every 5 ms). */
function whenWriting(target: string, p: ChildProcess): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (p.exitCode !== null || p.signalCode !== null) {
        clearInterval(t);
        resolve(false);
        return;
      }
      for (const dir of stagingDirs(target)) {
        try {
          if (readdirSync(dir).some((n) => n.includes('.tmp-') && statSync(join(dir, n)).size > 0)) {
            clearInterval(t);
            resolve(true);
            return;
          }
        } catch {
          /* renamed or removed meanwhile */
        }
      }
    }, 5);
  });
}

describe('cancel signals on a 1 GB export', () => {
  beforeAll(() => {
    ckpt = makeGigabyteCheckpoint(work);
  }, 180_000);

  for (const [cmd, sig] of [['trtllm', 'SIGINT'], ['trtllm', 'SIGTERM'], ['trtllm', 'SIGHUP'], ['hf', 'SIGTERM'], ['hf', 'SIGHUP']] as const) {
    it(`${cmd}: ${sig} while writing a first export → exit ${EXIT[sig]}, E_ABORTED, nothing left`, async () => {
      const out = join(work, `${cmd}-${sig}-first`);
      const p = cliProcess([cmd, ckpt, '--out', out]);
      const done = exited(p);
      expect(await whenWriting(out, p), 'the export finished before the signal could be sent').toBe(true);
      p.kill(sig);
      const r = await done;
      expect(r.signal, r.stderr).toBe(null);
      expect(r.code, r.stderr).toBe(EXIT[sig]);
      expect(r.stderr).toMatch(new RegExp(`^mcore-export ${cmd}: E_ABORTED: `, 'm'));
      expect(existsSync(out)).toBe(false);
      expect(stagingDirs(out)).toEqual([]);
    }, 120_000);
  }

  it('trtllm --force over a previous export: SIGTERM mid-write keeps the previous export byte for byte', async () => {
    const out = join(work, 'previous');
    const first = cli(['trtllm', ckpt, '--out', out, '--dtype', 'float16'], { timeoutMs: 120_000 });
    expect(first.status, first.stderr).toBe(0);
    const before = hashes(out);
    const p = cliProcess(['trtllm', ckpt, '--out', out, '--force']);
    const done = exited(p);
    expect(await whenWriting(out, p)).toBe(true);
    p.kill('SIGTERM');
    const r = await done;
    expect(r.code, r.stderr).toBe(143);
    expect(hashes(out)).toEqual(before);
    expect(stagingDirs(out)).toEqual([]);
  }, 180_000);

  it('build: SIGHUP while trtllm-build runs → exit 129, the previous engine kept, trtllm-build stopped', async () => {
    const engine = join(work, 'engine');
    mkdirSync(engine);
    writeFileSync(join(engine, 'config.json'), '{"previous": true}');
    writeFileSync(join(engine, 'rank0.engine'), 'previous engine');
    const before = hashes(engine);
    const record = join(work, 'build-record.json');
    const p = cliProcess(['build', join(FIXTURES, 'reference/gpt2/tp1_pp1_bfloat16'), '--out', engine, '--overwrite', '--trtllm-build', STAND_IN],
      { env: { ...process.env, FAKE_TRTLLM_MODE: 'hang', FAKE_TRTLLM_RECORD: record } });
    const done = exited(p);
    while (!existsSync(record)) await new Promise((r) => setTimeout(r, 10)); // trtllm-build has started
    p.kill('SIGHUP');
    const r = await done;
    expect(r.code, r.stderr).toBe(129);
    expect(r.stderr).toMatch(/^mcore-export build: E_ABORTED: engine build cancelled/m);
    expect(hashes(engine)).toEqual(before);
    expect(stagingDirs(engine)).toEqual([]);
    const pid = (JSON.parse(readFileSync(record, 'utf8')) as { pid: number }).pid;
    expect(() => process.kill(pid, 0), 'trtllm-build still running').toThrow();
  }, 60_000);
});
