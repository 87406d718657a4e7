// Test-only: the plan executor exportHf runs with in tests. The native executePlan when it is built; until
// then the TypeScript plan evaluator (casts rounded as PyTorch does) writing whole files.
import { writeFileSync } from 'node:fs';
import type { PlanExecutor } from '../../../lib/hf/export.js';
import { planFileBytes } from '../../trtllm/support/plan-eval.js';

export const tsExecutor: PlanExecutor = async (plan) => {
  const files = plan.files.map((f) => {
    const bytes = planFileBytes(f);
    writeFileSync(f.path, bytes);
    return { path: f.path, bytes: bytes.byteLength };
  });
  return { files };
};

/** The native executor if lib/plan/execute.js loads and its addon works, else the TS one (with the reason). */
export async function testExecutor(): Promise<{ execute: PlanExecutor; which: string }> {
  const modulePath = '../../../lib/plan/execute.js';
  try {
    const mod = (await import(modulePath)) as { executePlan?: PlanExecutor };
    if (mod.executePlan) return { execute: mod.executePlan, which: 'native executePlan' };
  } catch (e) {
    return { execute: tsExecutor, which: `TS plan evaluator (native executor unavailable: ${(e as Error).message.split('\n')[0]})` };
  }
  return { execute: tsExecutor, which: 'TS plan evaluator' };
}
