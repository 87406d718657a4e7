// Runs a CopyPlan with the native executor: every file is written under a temporary name in its destination
// directory, flushed, optionally hashed, then renamed into place. On any error or abort the temporaries are
// removed, so no half-written file is ever left under a final name.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, openSync, closeSync, fsyncSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ExportError, fail } from '../errors.js';
import { fromNativeError, loadNative } from '../native.js';
import { type Device, parseDevice, resolveDevice } from './device.js';
import { lowerPlan } from './lower.js';
import type { CopyPlan } from './plan.js';

export interface ExecuteProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface ExecutePlanOptions {
  /** worker threads (default: all hardware threads) */
  readonly threads?: number | undefined;
  /** bytes the CPU threads' work buffers may hold together (default 1 GiB, at least 4096): bounds the memory of an export */
  readonly maxBufferBytes?: number | undefined;
  /**
   * called about ten times a second, and once at the end with bytesDone === bytesTotal (before the files are
   * renamed into place); if it throws, the export is cancelled and rejects with that error
   */
  readonly onProgress?: ((p: ExecuteProgress) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  /** also compute each file's sha256 (read back from the page cache before the rename) */
  readonly hash?: boolean | undefined;
  /** 'cpu' (default), 'cuda' (GPU 0) or 'cuda:0,1' (units shared by the listed GPUs); see ./device.ts */
  readonly device?: Device | undefined;
  /** bytes of device memory (and as much pinned host memory) each GPU may use; default 2 GiB */
  readonly deviceMemory?: number | undefined;
}

export interface ExecutePlanResult {
  readonly files: { path: string; bytes: number; sha256?: string }[];
  readonly seconds: number;
  readonly bytes: number;
}

function aborted(): never {
  return fail('E_ABORTED', 'the export was aborted');
}

/** `.<name>.tmp-<pid>-<random>` beside the final path. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

async function sha256(path: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) {
    if (signal?.aborted) aborted();
    h.update(chunk as Buffer);
  }
  return h.digest('hex');
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some file systems refuse fsync on directories; the files themselves are already flushed
  }
}

export async function executePlan(plan: CopyPlan, opts: ExecutePlanOptions = {}): Promise<ExecutePlanResult> {
  const started = performance.now();
  const { signal } = opts;
  if (signal?.aborted) aborted();
  const finals = plan.files.map((f) => resolve(f.path));
  const unique = new Set(finals);
  if (unique.size !== finals.length) fail('E_USAGE', 'the plan writes the same output file twice');
  for (const p of finals) {
    const dir = dirname(p);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) fail('E_NOT_FOUND', `output directory ${dir} does not exist`, { file: p });
  }
  const device = parseDevice(opts.device);
  if (opts.deviceMemory !== undefined && (!Number.isSafeInteger(opts.deviceMemory) || opts.deviceMemory < 8 << 20)) fail('E_USAGE', 'deviceMemory must be an integer of at least 8 MiB');
  const temps = finals.map(tempPathFor);
  const { lowered, layouts } = lowerPlan(plan, temps);
  const total = layouts.reduce((a, l) => a + l.size, 0);
  const native = loadNative();
  const gpus = resolveDevice(device, native.features());

  let settled = false;
  let lastDone = -1;
  // A throwing onProgress must not escape into the native callback (Node would only print DEP0168 and carry
  // on): it cancels the job, and the export rejects with that very error, nothing renamed into place.
  let callbackFailed = false;
  let callbackError: unknown;
  let cancelJob = (): void => {};
  const report = (done: number) => {
    if (!opts.onProgress || done <= lastDone || callbackFailed) return;
    lastDone = done;
    try {
      opts.onProgress({ bytesDone: done, bytesTotal: total });
    } catch (e) {
      callbackFailed = true;
      callbackError = e;
      cancelJob();
    }
  };
  const removeTemps = () => {
    for (const t of temps) rmSync(t, { force: true });
  };

  let job;
  try {
    job = native.execute(lowered, {
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      ...(opts.maxBufferBytes !== undefined ? { maxBufferBytes: opts.maxBufferBytes } : {}),
      ...(gpus ? { gpus, ...(opts.deviceMemory !== undefined ? { deviceMemory: opts.deviceMemory } : {}) } : {}),
      ...(opts.onProgress ? { onProgress: (done: number) => settled || report(done) } : {}),
    });
  } catch (e) {
    throw fromNativeError(e);
  }
  const cancel = () => job.cancel();
  cancelJob = cancel;
  if (callbackFailed) cancel();
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    await job.promise;
    settled = true;
    if (callbackFailed) throw callbackError;
    if (signal?.aborted) aborted();
    const hashes = opts.hash ? await Promise.all(temps.map((t) => sha256(t, signal))) : undefined;
    if (signal?.aborted) aborted();
    report(total); // the final report comes before the renames, so a callback that throws there fails the export
    if (callbackFailed) throw callbackError;
    for (let i = 0; i < temps.length; i++) renameSync(temps[i]!, finals[i]!);
    for (const dir of new Set(finals.map(dirname))) syncDirectory(dir);
    return {
      files: finals.map((path, i) => ({ path, bytes: layouts[i]!.size, ...(hashes ? { sha256: hashes[i]! } : {}) })),
      seconds: (performance.now() - started) / 1000,
      bytes: total,
    };
  } catch (e) {
    settled = true;
    removeTemps();
    if (callbackFailed) throw callbackError;
    if (e instanceof ExportError) throw e;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('E_')) throw new ExportError('E_IO', (e as Error).message, { cause: e });
    throw fromNativeError(e);
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
}
