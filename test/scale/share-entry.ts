// One process of a partitioned export, for the multi-process tests: RANK/WORLD_SIZE come from the environment
// exactly as a launcher sets them (read because the entry asks for them: place 'auto', the CLI's --rank auto). Usage: share-entry.ts CKPT OUT_DIR TP PP [round-robin|contiguous]
// The plan executor is the test suite's TypeScript one made atomic (temporary name, fsync, rename), as the
// native executor is. SHARE_TEST_HANG=1: write this share's first file halfway as a temporary, then wait
// forever (the test SIGKILLs it: what a crashed node leaves behind).
import { openSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { writeFileAtomic } from '../../lib/export/out-dir.js';
import type { PlanExecutor } from '../../lib/export/executor.js';
import { exportTrtllmShare } from '../../lib/scale/partitioned-export.js';
import { referenceFile } from '../support/reference-executor.js';

const [ckptPath, outDir, tp, pp, assignment] = process.argv.slice(2);
const hang = process.env.SHARE_TEST_HANG === '1';

const atomicExecutor: PlanExecutor = async (plan) => {
  const files = [];
  for (const f of plan.files) {
    const bytes = referenceFile(f);
    if (hang) {
      const fd = openSync(join(dirname(f.path), `.${basename(f.path)}.tmp-${process.pid}-hang`), 'wx');
      writeSync(fd, bytes, 0, bytes.byteLength >> 1);
      process.stdout.write('HANGING\n');
      await new Promise(() => {});
    }
    writeFileAtomic(f.path, bytes);
    files.push({ path: f.path, bytes: bytes.byteLength });
  }
  return { files, bytes: files.reduce((a, f) => a + f.bytes, 0), seconds: 0 };
};

const ckpt = openCheckpoint(ckptPath!);
const res = await exportTrtllmShare(ckpt, {
  place: process.env.RANK || process.env.SLURM_PROCID ? 'auto' : { rank: 0, worldSize: 1, localRank: null, source: 'default' }, outDir: outDir!, tpSize: Number(tp), ppSize: Number(pp), executor: atomicExecutor,
  ...(assignment ? { assignment: assignment as 'round-robin' | 'contiguous' } : {}),
});
process.stdout.write(JSON.stringify({ rank: res.place.rank, worldSize: res.place.worldSize, source: res.place.source, ranks: res.ranks, writesConfig: res.writesConfig }) + '\n');
