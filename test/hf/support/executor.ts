// Test-only: the plan executor exportHf runs with in tests. The native executePlan when it is built; until
// then the TypeScript plan evaluator (casts rounded as PyTorch does) writing whole files.
import { writeFileSync } from 'node:fs';
import { nativeExecutor, type PlanExecutor } from '../../../lib/export/executor.js';
import { loadNative } from '../../../lib/native.js';
import { referenceFile } from '../../support/reference-executor.js';

export const tsExecutor: PlanExecutor = async (plan, opts) => {
  const start = performance.now();
  const data = plan.files.map((f) => referenceFile(f));
  const total = data.reduce((a, d) => a + d.byteLength, 0);
  let done = 0;
  const files = plan.files.map((f, i) => {
    writeFileSync(f.path, data[i]!);
    done += data[i]!.byteLength;
    opts.onProgress?.({ bytesDone: done, bytesTotal: total });
    return { path: f.path, bytes: data[i]!.byteLength };
  });
  return { files, bytes: files.reduce((a, f) => a + f.bytes, 0), seconds: (performance.now() - start) / 1000 };
};

/** The native executor if lib/plan/execute.js loads and its addon works, else the TS one (with the reason). */
export async function testExecutor(): Promise<{ execute: PlanExecutor; which: string }> {
  try {
    loadNative();
    return { execute: nativeExecutor, which: 'native executePlan' };
  } catch (e) {
    return { execute: tsExecutor, which: `TS plan evaluator (native executor unavailable: ${(e as Error).message.split('\n')[0]})` };
  }
}
