/**
 * buildEngine: a TensorRT-LLM checkpoint directory → an engine directory, by running TensorRT-LLM's own
 * builder (`trtllm-build`, TensorRT-LLM 1.x) as a child process. We cannot build engines ourselves: the
 * network is defined in TensorRT-LLM's Python (spec §5).
 *
 * The engine appears atomically: trtllm-build writes into a sibling staging directory (also its cwd, so the
 * timing cache it drops into the cwd lands there), we check every rank engine, then rename it into place.
 * A failure or cancel removes the staging directory and leaves any previous engine directory untouched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type AtomicOutput, beginOutput, checkOutput, type OutputKind } from '../export/atomic-output.js';
import { ExportError, fail } from '../errors.js';
import { runChild, type OutputStream } from './run-child.js';
import { buildOptionsToArgv, validateBuildOptions, type EngineBuildOptions } from './options.js';
import { checkCheckpointDir, checkEngineDir, type EngineSummary } from './dirs.js';
import { INSTALL_HINT, locateTrtllmBuild } from './locate.js';
import { isEngineSerialized, logLevelOf, serializingRank, showsNoTensorrtBackend, type LogLevel } from './log.js';

export interface EngineLogLine {
  line: string;
  stream: OutputStream;
  level: LogLevel;
}

export interface EngineBuildProgress {
  /** ranks whose engine has been serialized */
  ranksDone: number;
  ranksTotal: number;
  /** the rank the event is about */
  rank: number;
  phase: 'serializing' | 'serialized';
  elapsedMs: number;
}

export interface BuildEngineControl {
  onLog?: (log: EngineLogLine) => void;
  onProgress?: (p: EngineBuildProgress) => void;
  signal?: AbortSignal;
  /** path to trtllm-build; else $MCORE_EXPORT_TRTLLM_BUILD; else PATH */
  trtllmBuild?: string;
  /** replace a non-empty engine directory (default false: E_USAGE) */
  overwrite?: boolean;
  /** extra environment for the child (e.g. CUDA_VISIBLE_DEVICES) */
  env?: NodeJS.ProcessEnv;
  /** SIGTERM → SIGKILL grace after a cancel (default 10 s) */
  killGraceMs?: number;
}

export interface EngineBuildResult extends EngineSummary {
  engineDir: string;
  trtllmBuild: string;
  /** the exact argv passed to trtllm-build */
  argv: string[];
  durationMs: number;
}

const PATH_OPTIONS = ['inputTimingCache', 'outputTimingCache', 'visualizeNetwork'] as const;

/** Paths are resolved against our cwd, since trtllm-build runs in the staging directory. */
function absolutePaths(o: EngineBuildOptions): EngineBuildOptions {
  const out: EngineBuildOptions = { ...o };
  for (const k of PATH_OPTIONS) if (typeof out[k] === 'string') out[k] = resolve(out[k]);
  if (Array.isArray(out.loraDir)) out.loraDir = out.loraDir.map((d) => resolve(d));
  return out;
}

function lastLines(tail: readonly string[], n = 15): string {
  const lines = tail.filter((l) => l.trim() !== '').slice(-n);
  return lines.length ? `\n--- last lines of its output ---\n${lines.join('\n')}` : ' (it printed nothing)';
}

/** What trtllm-build writes into its output directory (and its cwd, the staging directory): `--overwrite` replaces only these. */
export const ENGINE_OUTPUT: OutputKind = {
  what: 'TensorRT-LLM engine',
  forceFlag: '--overwrite',
  owns: (name) => name === 'config.json' || /^rank\d+\.engine$/.test(name) || name === 'model.cache',
};

function scratchOutput(target: string): AtomicOutput {
  const dir = mkdtempSync(join(tmpdir(), 'mcore-export-trtllm-dry-run-'));
  const discard = () => rmSync(dir, { recursive: true, force: true });
  return { target, dir, commit: discard, discard, abandon: (e) => (discard(), e) };
}

export async function buildEngine(
  checkpointDir: string,
  engineDir: string,
  options: EngineBuildOptions = {},
  control: BuildEngineControl = {},
): Promise<EngineBuildResult> {
  validateBuildOptions(options); // types and ranges first: no file is touched for a bad option
  const ckptDir = resolve(checkpointDir);
  const outDir = resolve(engineDir);
  const ckpt = checkCheckpointDir(ckptDir);
  const optionArgv = buildOptionsToArgv(absolutePaths(options), { architecture: ckpt.architecture, worldSize: ckpt.worldSize });
  const exe = locateTrtllmBuild(control.trtllmBuild);
  if (outDir === ckptDir) fail('E_USAGE', 'the engine directory must differ from the checkpoint directory', { file: outDir });
  checkOutput(outDir, ENGINE_OUTPUT, control.overwrite ?? false);
  if (control.signal?.aborted) fail('E_ABORTED', 'engine build cancelled before it started', { file: outDir });

  // trtllm-build's own dry run builds no engine: it gets a scratch directory under the system's temporary
  // directory, removed afterwards, and nothing is created at or beside the engine directory
  const out = options.dryRun ? scratchOutput(outDir) : beginOutput(outDir, ENGINE_OUTPUT, control.overwrite ?? false);
  const staging = out.dir;
  const argv = ['--checkpoint_dir', ckptDir, '--output_dir', staging, ...optionArgv];

  const started = Date.now();
  const done = new Set<number>();
  let current = -1;
  try {
    const run = await runChild(exe, argv, {
      cwd: staging,
      env: { ...process.env, ...control.env },
      ...(control.signal ? { signal: control.signal } : {}),
      ...(control.killGraceMs !== undefined ? { killGraceMs: control.killGraceMs } : {}),
      onLine: (line, stream) => {
        control.onLog?.({ line, stream, level: logLevelOf(line) });
        const rank = serializingRank(line);
        if (rank !== null) {
          current = rank;
          control.onProgress?.({ ranksDone: done.size, ranksTotal: ckpt.worldSize, rank, phase: 'serializing', elapsedMs: Date.now() - started });
        } else if (isEngineSerialized(line) && current >= 0 && !done.has(current)) {
          done.add(current);
          control.onProgress?.({ ranksDone: done.size, ranksTotal: ckpt.worldSize, rank: current, phase: 'serialized', elapsedMs: Date.now() - started });
        }
      },
    });
    if (run.aborted) {
      fail('E_ABORTED', `engine build cancelled; trtllm-build ${run.killed ? 'ignored SIGTERM and was killed' : 'stopped on SIGTERM'}`, { file: outDir });
    }
    if (run.code !== 0) {
      if (showsNoTensorrtBackend(run.tail)) {
        fail('E_NOT_FOUND', `${exe} belongs to a TensorRT-LLM release without the TensorRT-engine backend, so it cannot build ` +
          `engines. ${INSTALL_HINT}${lastLines(run.tail, 6)}`, { file: exe });
      }
      const how = run.code !== null ? `exit code ${run.code}` : `signal ${run.signal}`;
      fail('E_BUILD', `trtllm-build failed (${how}) building ${ckptDir}${lastLines(run.tail)}`, { file: ckptDir });
    }
    const summary = options.dryRun ? { worldSize: ckpt.worldSize, version: null, files: [] } : checkEngineDir(staging, ckpt.worldSize);
    if (control.signal?.aborted) fail('E_ABORTED', 'engine build cancelled', { file: outDir });
    if (options.dryRun) out.discard();
    else out.commit();
    return { ...summary, engineDir: outDir, trtllmBuild: exe, argv, durationMs: Date.now() - started };
  } catch (err) {
    const e = out.abandon(err);
    if (e instanceof ExportError) throw e;
    return fail('E_IO', `engine build: ${(e as Error).message}`, { file: outDir, cause: e });
  }
}
