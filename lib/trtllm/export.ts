import { fail } from '../errors.js';
import { checkOutput } from '../export/atomic-output.js';
import type { PlanExecutor } from '../export/executor.js';
import { checkModelTypeFits, checkVocabOverride } from '../export/overrides.js';
import type { Progress } from '../export/progress.js';
import type { ExportSummary } from '../export/summary.js';
import type { Checkpoint, ModelType } from '../megatron/types.js';
import { MODEL_TYPES } from '../megatron/types.js';
import type { CopyPlan } from '../plan/plan.js';
import { type DTypeName, parseDType } from '../tensor/dtype.js';
import type { Device } from '../plan/device.js';
import { numel } from '../tensor/shape.js';
import { itemsize } from '../tensor/dtype.js';
import { helperActivationFor } from './activation.js';
import { type TrtDType, TRT_DTYPES } from './config.js';
import { makeConfig, TRTLLMHelper, type TRTLLMHelperOptions } from './helper.js';
import type { PyJson } from '../export/pyjson.js';
import { resolveQuantize, type QuantizeOptions } from '../quantize/scheme.js';
import { checkTrtllmScheme, quantizeTrtllmRank, trtllmQuantization } from '../quantize/trtllm.js';
import { saveTrtllmCheckpoint, TRTLLM_OUTPUT, trtllmRankPlan } from './save.js';

export interface ExportTrtllmOptions {
  readonly outDir: string;
  readonly tpSize?: number;
  readonly ppSize?: number;
  /** output dtype (bfloat16 | float16 | float32, or bf16/fp16/fp32); default: the checkpoint's parameter dtype */
  readonly dtype?: DTypeName;
  /** default: the checkpoint's guessed model type */
  readonly modelType?: ModelType;
  readonly useParallelEmbedding?: boolean;
  readonly embeddingShardingDim?: 0 | 1;
  /** tokenizer vocabulary: embedding/lm_head rows beyond it (Megatron's training padding) are dropped */
  readonly vocabSize?: number;
  /**
   * Byte-identical to Megatron's converter even where TensorRT-LLM 1.x loads it wrong or not at all (see
   * README, "Deviations from Megatron's converter"). Default false.
   */
  readonly megatronCompat?: boolean;
  readonly gpusPerNode?: number;
  /** only these output ranks (several processes sharing one export); rank 0's process writes config.json */
  readonly ranks?: readonly number[];
  readonly threads?: number;
  /** 'cpu' (default) | 'cuda' | 'cuda:0,1': where the plan's gathers and casts run (lib/plan/device.ts) */
  readonly device?: Device;
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
  /** Megatron's `fp8_quantized`: FP8 weights from the checkpoint's Transformer Engine FP8 scaling factors */
  readonly fp8Quantized?: boolean;
  /** Megatron's `fp8_kvcache`: FP8 KV cache (`kv_cache_scaling_factor` 1.0 per layer) */
  readonly fp8Kvcache?: boolean;
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

export { RANK_FILE, isTrtllmOutputFile, TRTLLM_OUTPUT } from './save.js';

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
  checkModelTypeFits(ckpt.config, modelType, ckpt.path);
  checkVocabOverride(ckpt.config, o.vocabSize, ckpt.path);
  const tpSize = o.tpSize ?? 1;
  const ppSize = o.ppSize ?? 1;
  const world = tpSize * ppSize;
  for (const r of o.ranks ?? []) if (!Number.isInteger(r) || r < 0 || r >= world) fail('E_USAGE', `rank ${r} is outside 0..${world - 1} (tp ${tpSize} × pp ${ppSize})`);
  if (o.signal?.aborted) fail('E_ABORTED', 'export cancelled before it started');
  const quant = o.quantize ? resolveQuantize(o.quantize) : undefined;
  if (quant) checkTrtllmScheme(quant, o.quantize!.groupSize !== undefined);
  if (quant && (o.fp8Quantized || o.fp8Kvcache)) fail('E_USAGE', 'quantize and fp8Quantized/fp8Kvcache are two different FP8 paths (calibration-free vs the checkpoint\'s Transformer Engine scales): choose one');

  const helper = new TRTLLMHelper({ ...helperOptionsFor(ckpt, modelType), ...(o.helperOptions ?? {}) });
  const converted = helper.convertSingleDevice(ckpt.tensors, {
    dtype,
    tpSize,
    ppSize,
    useParallelEmbedding: o.useParallelEmbedding ?? false,
    embeddingShardingDim: o.embeddingShardingDim ?? 0,
    gpusPerNode: o.gpusPerNode,
    vocabSize: o.vocabSize,
    ranks: o.ranks,
    megatronCompat: o.megatronCompat ?? false,
    fp8: o.fp8Quantized || o.fp8Kvcache ? { quantized: o.fp8Quantized === true, kvCache: o.fp8Kvcache === true, extraState: ckpt.extraState } : undefined,
  });
  // calibration-free quantization (lib/quantize/trtllm.ts): quantized rank tensors and the config's quantization block
  const weights = quant ? converted.weights.map((w) => ({ ...w, tensors: quantizeTrtllmRank(w.tensors, quant) })) : converted.weights;
  const configs = quant
    ? converted.configs.map((c) => {
        const fields = { ...c.fields, quantization: trtllmQuantization(quant, o.quantize!.exclude ?? []) };
        return makeConfig(c.mapping, fields);
      })
    : converted.configs;
  const plan = trtllmRankPlan(weights, o.outDir);
  const config = configs[0]?.fields ?? {};
  const ranks = weights.map((w) => w.rank);

  if (o.dryRun) {
    if (o.ranks === undefined) checkOutput(o.outDir, TRTLLM_OUTPUT, o.force ?? false);
    const files = plan.files.map((f) => ({ path: f.path, bytes: f.tensors.reduce((a, t) => a + numel(t.shape) * itemsize(t.dtype), 0) }));
    return { outDir: o.outDir, files, bytes: files.reduce((a, f) => a + f.bytes, 0), seconds: (performance.now() - t0) / 1000, dryRun: true, ranks, config, plan };
  }

  const saved = await saveTrtllmCheckpoint(configs, weights, o.outDir, {
    threads: o.threads, onProgress: o.onProgress, signal: o.signal, hash: o.hash, device: o.device, maxBufferBytes: o.maxBufferBytes, force: o.force, executor: o.executor,
  });
  return { ...saved, seconds: (performance.now() - t0) / 1000, dryRun: false, ranks, config, plan };
}
