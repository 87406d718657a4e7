// The plan executor an export runs: the native executePlan by default, or one the caller passes (tests pass a
// TypeScript evaluator). executePlan loads the addon only when called, so planning and --dry-run never need it.
import { executePlan, type ExecutePlanOptions } from '../plan/execute.js';
import type { CopyPlan } from '../plan/plan.js';

/** What an export asks of its executor: exactly executePlan's options (one definition, in lib/plan/execute.ts). */
export type ExecuteOptions = ExecutePlanOptions;

export interface ExecuteResult {
  readonly files: readonly { readonly path: string; readonly bytes: number; readonly sha256?: string | undefined }[];
  readonly bytes: number;
  readonly seconds: number;
}

/** Writes every file of a copy plan (atomically) — lib/plan/execute.ts's `executePlan`, or any equivalent. */
export type PlanExecutor = (plan: CopyPlan, opts: ExecuteOptions) => Promise<ExecuteResult>;

export const nativeExecutor: PlanExecutor = executePlan;
