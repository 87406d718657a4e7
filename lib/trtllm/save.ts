// Writes what TRTLLMHelper.getTrtllmPretrainedConfigAndModelWeights returns (lazy plan tensors and configs) as a
// TensorRT-LLM checkpoint directory: rank{N}.safetensors through the plan executor, then config.json. This is
// the last step of exportTrtllm, and of Megatron's own flow (its users then `save_checkpoint`).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { type ExecuteOptions, type ExecuteResult, nativeExecutor, type PlanExecutor } from '../export/executor.js';
import { prepareOutDir, writeFileAtomic } from '../export/out-dir.js';
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
  return name === 'config.json' || RANK_FILE.test(name) || /^\.(config\.json|rank\d+\.safetensors)\.tmp-/.test(name);
}

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
  const whole = ranks.length === world;
  const mine = new Set(plan.files.map((f) => f.path.slice(dir.length + 1)));
  if (writesConfig) mine.add('config.json');
  // a share shares the directory: other shares' files are expected there, its own (an earlier run's) replaced
  prepareOutDir(dir, { force: o.force || !whole, owns: (n) => isTrtllmOutputFile(n) && (whole || mine.has(n)) });
  const { executor, force: _force, ...exec } = o;
  const result: ExecuteResult = await (executor ?? nativeExecutor)(plan, exec);
  const files = [...result.files];
  if (writesConfig) {
    const path = join(dir, 'config.json');
    const text = config!.toJson();
    try {
      writeFileAtomic(path, text);
    } catch (e) {
      for (const f of result.files) rmSync(f.path, { force: true });
      throw e;
    }
    files.unshift({ path, bytes: Buffer.byteLength(text) });
  }
  return { outDir: dir, files, bytes: files.reduce((a, f) => a + f.bytes, 0), seconds: (performance.now() - t0) / 1000, ranks };
}
