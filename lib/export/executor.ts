import { fail } from '../errors.js';
import type { CopyPlan } from '../plan/plan.js';
import type { Progress } from './progress.js';

export interface ExecuteOptions {
  readonly threads?: number | undefined;
  readonly onProgress?: ((p: Progress) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly hash?: boolean | undefined;
  /** 'cpu' | 'cuda' | 'cuda:0,1' (lib/plan/device.ts) */
  readonly device?: string | undefined;
}

export interface ExecuteResult {
  readonly files: readonly { readonly path: string; readonly bytes: number; readonly sha256?: string | undefined }[];
  readonly bytes: number;
  readonly seconds: number;
}

/** Writes every file of a copy plan (atomically) — lib/plan/execute.ts's `executePlan`, or any equivalent. */
export type PlanExecutor = (plan: CopyPlan, opts: ExecuteOptions) => Promise<ExecuteResult>;

/** Reads done/total from whatever progress shape the executor reports. */
function normalizeProgress(p: unknown): Progress {
  if (typeof p === 'object' && p !== null) {
    const o = p as Record<string, unknown>;
    const num = (...keys: string[]) => keys.map((k) => o[k]).find((v): v is number => typeof v === 'number') ?? 0;
    return { bytesDone: num('bytesDone', 'done', 'bytes', 'written'), bytesTotal: num('bytesTotal', 'total', 'totalBytes') };
  }
  return { bytesDone: 0, bytesTotal: 0 };
}

/** The native plan executor (loaded on first use, so planning and --dry-run never need the addon). */
export async function nativeExecutor(): Promise<PlanExecutor> {
  const spec = '../plan/execute.js';
  let mod: { executePlan?: (plan: CopyPlan, opts: Record<string, unknown>) => Promise<ExecuteResult> };
  try {
    mod = (await import(spec)) as typeof mod;
  } catch (e) {
    return fail('E_NATIVE', `the plan executor could not be loaded: ${(e as Error).message}`, { cause: e });
  }
  const run = mod.executePlan ?? fail('E_NATIVE', 'lib/plan/execute.js has no executePlan');
  return (plan, o) =>
    run(plan, {
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.hash ? { hash: true } : {}),
      ...(o.device !== undefined ? { device: o.device } : {}),
      ...(o.onProgress ? { onProgress: (...a: unknown[]) => o.onProgress!(a.length >= 2 && typeof a[0] === 'number' ? { bytesDone: a[0], bytesTotal: Number(a[1]) } : normalizeProgress(a[0])) } : {}),
    });
}
