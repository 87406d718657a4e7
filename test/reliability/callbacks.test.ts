// A user onProgress callback that throws — at its first call, in the middle, or at the final report — cancels
// the export: the promise rejects with that very error, Node prints no uncaught N-API callback exception
// (DEP0168), and nothing is moved into place (no output directory, or the previous export untouched).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Progress } from '../../lib/export/progress.js';
import { exportHf } from '../../lib/hf/export.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import type { Checkpoint } from '../../lib/megatron/types.js';
import { exportTrtllm } from '../../lib/trtllm/export.js';
import { makeBigCheckpoint, stagingDirs } from './support/big-checkpoint.js';
import { listTree, sha256File } from './support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'mcore-callbacks-'));
let ckpt: Checkpoint;
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
beforeAll(() => {
  ckpt = openCheckpoint(makeBigCheckpoint(work));
  process.on('warning', onWarning);
}, 120_000);
afterAll(() => {
  process.off('warning', onWarning);
  ckpt?.close();
  rmSync(work, { recursive: true, force: true });
});

class CallbackFailure extends Error {}

const WHEN: Record<string, (p: Progress, calls: number) => boolean> = {
  start: (_p, calls) => calls === 1,
  middle: (p) => p.bytesDone > p.bytesTotal / 2 && p.bytesDone < p.bytesTotal,
  end: (p) => p.bytesDone === p.bytesTotal,
};

const tree = (dir: string) => Object.fromEntries(listTree(dir).map((p) => [p, sha256File(join(dir, p))]));

const run = (kind: 'trtllm' | 'hf', outDir: string, onProgress: (p: Progress) => void, force = false) =>
  kind === 'trtllm'
    ? exportTrtllm(ckpt, { outDir, tpSize: 2, onProgress, force, threads: 2, maxBufferBytes: 4 << 20 })
    : exportHf(ckpt, { outDir, onProgress, force, threads: 2, maxBufferBytes: 4 << 20 });

describe('a throwing onProgress', () => {
  for (const kind of ['trtllm', 'hf'] as const) {
    for (const [when, hit] of Object.entries(WHEN)) {
      it(`${kind}, at the ${when}: rejects with that error, nothing in place, no warning`, async () => {
        const out = join(work, `${kind}-${when}`);
        const thrown = new CallbackFailure(`thrown at the ${when}`);
        let calls = 0;
        let threw = false;
        let callsAfter = 0;
        const err = await run(kind, out, (p) => {
          calls++;
          if (threw) callsAfter++;
          if (!threw && hit(p, calls)) {
            threw = true;
            throw thrown;
          }
        }).then(() => null, (e: unknown) => e);
        expect(threw, `the callback never saw the ${when}`).toBe(true);
        expect(err).toBe(thrown);
        expect(callsAfter, 'called again after it threw').toBe(0);
        expect(existsSync(out)).toBe(false);
        expect(stagingDirs(out)).toEqual([]);
        expect(warnings).toEqual([]);
      }, 120_000);
    }

    it(`${kind} --force over a previous export, throwing in the middle: the previous export is untouched`, async () => {
      const out = join(work, `${kind}-previous`);
      await run(kind, out, () => {});
      const before = tree(out);
      const thrown = new CallbackFailure('middle');
      const err = await run(kind, out, (p) => {
        if (WHEN.middle!(p, 0)) throw thrown;
      }, true).then(() => null, (e: unknown) => e);
      expect(err).toBe(thrown);
      expect(tree(out)).toEqual(before);
      expect(stagingDirs(out)).toEqual([]);
    }, 120_000);
  }
});
