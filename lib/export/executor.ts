// The plan executor an export runs: the native executePlan by default, or one the caller passes (tests pass a
// TypeScript evaluator). executePlan loads the addon only when called, so planning and --dry-run never need it.
import { executePlan } from '../plan/execute.js';
import type { CopyPlan } from '../plan/plan.js';
import type { Progress } from './progress.js';

export interface ExecuteOptions {
  readonly threads?: number | undefined;
  readonly onProgress?: ((p: Progress) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly hash?: boolean | undefined;
  /** 'cpu' | 'cuda' | 'cuda:0,1' (lib/plan/device.ts) */
  readonly device?: string | undefined;
  /** the CPU executor's buffer budget (default 1 GiB): peak memory stays near this whatever the model size */
  readonly maxBufferBytes?: number | undefined;
}

export interface ExecuteResult {
  readonly files: readonly { readonly path: string; readonly bytes: number; readonly sha256?: string | undefined }[];
  readonly bytes: number;
  readonly seconds: number;
}

/** Writes every file of a copy plan (atomically) — lib/plan/execute.ts's `executePlan`, or any equivalent. */
export type PlanExecutor = (plan: CopyPlan, opts: ExecuteOptions) => Promise<ExecuteResult>;

export const nativeExecutor: PlanExecutor = executePlan;
