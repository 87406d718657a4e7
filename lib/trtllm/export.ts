import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { type ExecuteResult, nativeExecutor, type PlanExecutor } from '../export/executor.js';
import { prepareOutDir, writeFileAtomic } from '../export/out-dir.js';
import type { Progress } from '../export/progress.js';
import type { ExportSummary } from '../export/summary.js';
import type { Checkpoint, ModelType } from '../megatron/types.js';
import { MODEL_TYPES } from '../megatron/types.js';
import type { CopyPlan } from '../plan/plan.js';
import { parseDType } from '../tensor/dtype.js';
import { numel } from '../tensor/shape.js';
import { itemsize } from '../tensor/dtype.js';
import { helperActivationFor } from './activation.js';
import { type TrtDType, TRT_DTYPES } from './config.js';
import { TRTLLMHelper, type TRTLLMHelperOptions } from './helper.js';
import { pyJsonDump, type PyJson } from '../export/pyjson.js';
import { resolveQuantize, type QuantizeOptions } from '../quantize/scheme.js';
import { checkTrtllmScheme, quantizeTrtllmRank, trtllmQuantization } from '../quantize/trtllm.js';

export interface ExportTrtllmOptions {
  readonly outDir: string;
  readonly tpSize?: number;
  readonly ppSize?: number;
  /** output dtype (bfloat16 | float16 | float32, or bf16/fp16/fp32); default: the checkpoint's parameter dtype */
  readonly dtype?: string;
  /** default: the checkpoint's guessed model type */
  readonly modelType?: ModelType;
  readonly useParallelEmbedding?: boolean;
  readonly embeddingShardingDim?: 0 | 1;
  /** tokenizer vocabulary: embedding/lm_head rows beyond it (Megatron's training padding) are dropped */
  readonly vocabSize?: number;
  readonly gpusPerNode?: number;
  /** only these output ranks (several processes sharing one export); rank 0's process writes config.json */
  readonly ranks?: readonly number[];
  readonly threads?: number;
  /** 'cpu' (default) | 'cuda' | 'cuda:0,1': where the plan's gathers and casts run (lib/plan/device.ts) */
  readonly device?: string;
  /** CPU executor buffer budget in bytes (default 1 GiB) */
  readonly maxBufferBytes?: number;
  readonly force?: boolean;
  /** plan and validate only; nothing is written */
  readonly dryRun?: boolean;
  readonly hash?: boolean;
  readonly onProgress?: (p: Progress) => void;
  readonly signal?: AbortSignal;
  /** TRTLLMHelper options to override what the checkpoint's args imply (activation, rotaryBase, ...) */
  readonly helperOptions?: Partial<Omit<TRTLLMHelperOptions, 'transformerConfig' | 'modelType'>>;
  /** plan executor; default the native one (lib/plan/execute.ts) */
  readonly executor?: PlanExecutor;
  /** calibration-free quantization (lib/quantize/trtllm.ts says which TensorRT-LLM formats) */
  readonly quantize?: QuantizeOptions;
}

export interface ExportTrtllmResult extends ExportSummary {
  readonly dryRun: boolean;
  readonly ranks: readonly number[];
  readonly config: { readonly [k: string]: PyJson };
  readonly plan: CopyPlan;
}

/** TRTLLMHelper options a checkpoint's own args imply (what a Megatron user writes by hand). */
export function helperOptionsFor(ckpt: Pick<Checkpoint, 'config' | 'args'>, modelType: ModelType): TRTLLMHelperOptions {
  const c = ckpt.config;
  if (c.positionEmbeddingType !== 'rope' && c.positionEmbeddingType !== 'learned_absolute') {
    fail('E_UNSUPPORTED', `position embedding type '${c.positionEmbeddingType}' (TensorRT-LLM export supports rope and learned_absolute)`);
  }
  const interp = ckpt.args?.['rotary_seq_len_interpolation_factor'];
  return {
    transformerConfig: c,
    modelType,
    activation: helperActivationFor(c),
    positionEmbeddingType: c.positionEmbeddingType,
    maxPositionEmbeddings: c.maxPositionEmbeddings,
    rotaryPercentage: c.rotaryPercent,
    rotaryBase: c.rotaryBase,
    shareEmbeddingsAndOutputWeights: c.shareEmbeddingsAndOutputWeights,
    seqLenInterpolationFactor: typeof interp === 'number' ? interp : null,
  };
}

export const RANK_FILE = /^rank\d+\.safetensors$/;

/** Files an export owns in its directory (removed by `force` before writing; verify expects nothing else). */
export function isTrtllmOutputFile(name: string): boolean {
  return name === 'config.json' || RANK_FILE.test(name) || /^\.(config\.json|rank\d+\.safetensors)\.tmp-/.test(name);
}

function checkInt(name: string, v: number | undefined, lo: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < lo)) fail('E_USAGE', `${name} must be an integer ≥ ${lo}, got ${String(v)}`);
}

/**
 * Converts an opened Megatron checkpoint into a TensorRT-LLM checkpoint directory (config.json + rank files).
 * Every setting and every tensor rule is checked while the plan is built; the output directory is touched only
 * after that, and files appear atomically.
 */
export async function exportTrtllm(ckpt: Checkpoint, o: ExportTrtllmOptions): Promise<ExportTrtllmResult> {
  const t0 = performance.now();
  if (!o || typeof o.outDir !== 'string' || o.outDir === '') fail('E_USAGE', 'exportTrtllm needs outDir');
  checkInt('tpSize', o.tpSize, 1);
  checkInt('ppSize', o.ppSize, 1);
  checkInt('vocabSize', o.vocabSize, 1);
  checkInt('gpusPerNode', o.gpusPerNode, 1);
  checkInt('threads', o.threads, 1);
  const dtype = parseDType(o.dtype ?? ckpt.config.paramsDtype) as TrtDType;
  if (!TRT_DTYPES.includes(dtype)) fail('E_CONFIG', `TensorRT-LLM checkpoints are ${TRT_DTYPES.join(', ')}; '${o.dtype}' is not supported`);
  const modelType = o.modelType ?? ckpt.modelType;
  if (!MODEL_TYPES.includes(modelType)) fail('E_USAGE', `model type '${String(modelType)}' is not one of ${MODEL_TYPES.join(', ')}`);
  const tpSize = o.tpSize ?? 1;
  const ppSize = o.ppSize ?? 1;
  const world = tpSize * ppSize;
  for (const r of o.ranks ?? []) if (!Number.isInteger(r) || r < 0 || r >= world) fail('E_USAGE', `rank ${r} is outside 0..${world - 1} (tp ${tpSize} × pp ${ppSize})`);
  if (o.signal?.aborted) fail('E_ABORTED', 'export cancelled before it started');
  const quant = o.quantize ? resolveQuantize(o.quantize) : undefined;
  if (quant) checkTrtllmScheme(quant, o.quantize!.groupSize !== undefined);

  const helper = new TRTLLMHelper({ ...helperOptionsFor(ckpt, modelType), ...(o.helperOptions ?? {}) });
  const { weights, configs } = helper.convertSingleDevice(ckpt.tensors, {
    dtype,
    tpSize,
    ppSize,
    useParallelEmbedding: o.useParallelEmbedding ?? false,
    embeddingShardingDim: o.embeddingShardingDim ?? 0,
    gpusPerNode: o.gpusPerNode,
    vocabSize: o.vocabSize,
    ranks: o.ranks,
  });
  const plan: CopyPlan = { files: weights.map((w) => ({ path: join(o.outDir, `rank${w.rank}.safetensors`), tensors: quant ? quantizeTrtllmRank(w.tensors, quant) : w.tensors })) };
  const config = quant ? { ...(configs[0]?.fields ?? {}), quantization: trtllmQuantization(quant, o.quantize!.exclude ?? []) } : (configs[0]?.fields ?? {});
  const writesConfig = o.ranks === undefined || o.ranks.includes(0);
  const ranks = weights.map((w) => w.rank);

  if (o.dryRun) {
    const files = plan.files.map((f) => ({ path: f.path, bytes: f.tensors.reduce((a, t) => a + numel(t.shape) * itemsize(t.dtype), 0) }));
    return { outDir: o.outDir, files, bytes: files.reduce((a, f) => a + f.bytes, 0), seconds: (performance.now() - t0) / 1000, dryRun: true, ranks, config, plan };
  }

  const execute = o.executor ?? nativeExecutor;
  // With a subset of ranks other processes write the rest: remove only what this process will write.
  const mine = new Set(plan.files.map((f) => f.path.slice(o.outDir.length + 1)));
  if (writesConfig) mine.add('config.json');
  prepareOutDir(o.outDir, { force: o.force, owns: (n) => isTrtllmOutputFile(n) && (o.ranks === undefined || mine.has(n)) });
  const result: ExecuteResult = await execute(plan, { threads: o.threads, onProgress: o.onProgress, signal: o.signal, hash: o.hash, device: o.device, maxBufferBytes: o.maxBufferBytes });
  const files = [...result.files];
  if (writesConfig) {
    const path = join(o.outDir, 'config.json');
    const text = quant ? pyJsonDump(config) : configs[0]!.toJson();
    try {
      writeFileAtomic(path, text);
    } catch (e) {
      // without its config the rank files just written are an unusable partial export: take them back
      for (const f of result.files) rmSync(f.path, { force: true });
      throw e;
    }
    files.unshift({ path, bytes: Buffer.byteLength(text) });
  }
  return { outDir: o.outDir, files, bytes: files.reduce((a, f) => a + f.bytes, 0), seconds: (performance.now() - t0) / 1000, dryRun: false, ranks, config, plan };
}
