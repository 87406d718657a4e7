// Writes what TRTLLMHelper.getTrtllmPretrainedConfigAndModelWeights returns (lazy plan tensors and configs) as a
// TensorRT-LLM checkpoint directory: rank{N}.safetensors through the plan executor, then config.json. This is
// the last step of exportTrtllm, and of Megatron's own flow (its users then `save_checkpoint`).
import { rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fail } from '../errors.js';
import { beginOutput, beginSharedOutput, type OutputKind } from '../export/atomic-output.js';
import { type ExecuteOptions, type ExecuteResult, nativeExecutor, type PlanExecutor } from '../export/executor.js';
import { writeFileAtomic } from '../export/out-dir.js';
import type { ExportSummary } from '../export/summary.js';
import type { CopyPlan } from '../plan/plan.js';
import type { TrtllmPretrainedConfig, TrtllmRankWeights } from './helper.js';

export interface SaveTrtllmOptions extends Omit<ExecuteOptions, 'deviceMemory'> {
  /** replace the files of an earlier export in `dir` (other files are never touched) */
  readonly force?: boolean;
  /** plan executor; default the native one (lib/plan/execute.ts) */
  readonly executor?: PlanExecutor;
}

export interface SaveTrtllmResult extends ExportSummary {
  /** the output ranks written (config.json goes with rank 0) */
  readonly ranks: readonly number[];
}

export const RANK_FILE = /^rank\d+\.safetensors$/;

/** Files an export owns in its directory (replaced by `force`; verify expects nothing else). */
export function isTrtllmOutputFile(name: string): boolean {
  return name === 'config.json' || RANK_FILE.test(name);
}

/** Files a TensorRT-LLM checkpoint export writes (the only ones `force` replaces; verify expects nothing else). */
export const TRTLLM_OUTPUT: OutputKind = { what: 'TensorRT-LLM checkpoint', owns: isTrtllmOutputFile };

/** The copy plan of the rank files: one file per entry of `weights`. */
export function trtllmRankPlan(weights: readonly TrtllmRankWeights[], dir: string): CopyPlan {
  return { files: weights.map((w) => ({ path: join(dir, `rank${w.rank}.safetensors`), tensors: w.tensors })) };
}

/**
 * Writes `weights` as `dir/rank{N}.safetensors` and, when rank 0 is among them, `configs`' config.json. Weights
 * for only some ranks (one process per rank, as Megatron's on-device conversion) write only those files, so
 * several processes can fill one directory: such a share replaces its own files and leaves the others'.
 * Every file appears atomically; a failure or abort leaves none.
 */
export async function saveTrtllmCheckpoint(
  configs: readonly TrtllmPretrainedConfig[],
  weights: readonly TrtllmRankWeights[],
  dir: string,
  o: SaveTrtllmOptions = {},
): Promise<SaveTrtllmResult> {
  const t0 = performance.now();
  if (typeof dir !== 'string' || dir === '') fail('E_USAGE', 'saveTrtllmCheckpoint needs an output directory');
  const ranks = weights.map((w) => w.rank);
  if (new Set(ranks).size !== ranks.length) fail('E_USAGE', `the weights list rank ${ranks.find((r, i) => ranks.indexOf(r) !== i)} twice`);
  const writesConfig = ranks.includes(0);
  const config = configs.find((c) => c.rank === 0) ?? configs[0];
  if (writesConfig && !config) fail('E_USAGE', 'saveTrtllmCheckpoint needs the configs that came with the weights');
  const layout = config?.mapping ?? weights[0]?.mapping;
  const world = layout ? layout.tpSize * layout.ppSize : 0;
  for (const w of weights) {
    if (w.mapping.tpSize * w.mapping.ppSize !== world) fail('E_USAGE', `rank ${w.rank}'s weights are for a different layout than the configs (tp ${w.mapping.tpSize} × pp ${w.mapping.ppSize})`);
    if (!Number.isInteger(w.rank) || w.rank < 0 || w.rank >= world) fail('E_USAGE', `rank ${w.rank} is outside 0..${world - 1}`);
  }
  if (o.signal?.aborted) fail('E_ABORTED', 'the export was aborted before it started');

  const plan = trtllmRankPlan(weights, dir);
  // a share with no output ranks (more processes than ranks) has nothing to write, not even the directory
  if (weights.length === 0) return { outDir: dir, files: [], bytes: 0, seconds: (performance.now() - t0) / 1000, ranks };
  const whole = ranks.length === world;
  const mine = new Set(plan.files.map((f) => basename(f.path)));
  if (writesConfig) mine.add('config.json');
  // One process: the whole directory is staged and swapped in. A share of a partitioned export: the directory is
  // shared, so only this share's files are replaced (an earlier run's), each atomically.
  const out = whole ? beginOutput(dir, TRTLLM_OUTPUT, o.force ?? false) : beginSharedOutput(dir, TRTLLM_OUTPUT, (n) => mine.has(n));
  const staged = (path: string) => join(out.dir, basename(path));
  const final = (path: string) => join(dir, basename(path));
  const { executor, force: _force, ...exec } = o;
  const files: { path: string; bytes: number; sha256?: string | undefined }[] = [];
  try {
    const stagedPlan: CopyPlan = { files: plan.files.map((f) => ({ ...f, path: staged(f.path) })) };
    const result: ExecuteResult = await (executor ?? nativeExecutor)(stagedPlan, exec);
    files.push(...result.files.map((f) => ({ ...f, path: final(f.path) })));
    if (o.signal?.aborted) fail('E_ABORTED', 'the export was aborted', { file: dir });
    if (writesConfig) {
      const text = config!.toJson();
      try {
        writeFileAtomic(staged('config.json'), text);
      } catch (e) {
        // without its config the rank files of a share are an unusable partial export: take them back
        if (!whole) for (const f of result.files) rmSync(f.path, { force: true });
        throw e;
      }
      files.unshift({ path: final('config.json'), bytes: Buffer.byteLength(text) });
    }
    out.commit();
  } catch (e) {
    throw out.abandon(e);
  }
  return { outDir: dir, files, bytes: files.reduce((a, f) => a + f.bytes, 0), seconds: (performance.now() - t0) / 1000, ranks };
}
