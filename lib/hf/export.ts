// exportHf: a Megatron checkpoint → a Hugging Face model directory (config.json, generation_config.json,
// sharded safetensors + index, optional tokenizer), written all-or-nothing.
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail, isExportError } from '../errors.js';
import { nativeExecutor, type PlanExecutor } from '../export/executor.js';
import type { Progress } from '../export/progress.js';
import type { Checkpoint, ModelType } from '../megatron/types.js';
import { planTensor } from '../plan/from-tensor.js';
import { planHfQuantized } from '../quantize/hf.js';
import { resolveQuantize, type QuantizeOptions } from '../quantize/scheme.js';
import type { CopyPlan, PlanTensor } from '../plan/plan.js';
import { type DTypeName, parseDType } from '../tensor/dtype.js';
import type { Device } from '../plan/device.js';
import { toHfModel } from './convert.js';
import { beginOutput, checkOutput } from '../export/atomic-output.js';
import { checkVocabOverride } from '../export/overrides.js';
import { HF_OUTPUT } from './output-dir.js';
import { INDEX_NAME, planShards, shardIndex } from './shard.js';
import { parseSize } from '../util/size.js';
import { copyTokenizer, tokenizerFiles } from './tokenizer.js';
import type { HfDType, HfModel } from './types.js';
import { pyJsonDump, type PyJson } from '../export/pyjson.js';

export type { PlanExecutor } from '../export/executor.js';
export type HfProgress = Progress;

export interface HfExportOptions {
  readonly outDir: string;
  /** output dtype (default: the checkpoint's training dtype) */
  readonly dtype?: DTypeName;
  /** largest shard, '5GB' (default), '500MB', '2GiB' or bytes */
  readonly maxShardSize?: string | number;
  /** a directory with tokenizer files to copy alongside */
  readonly tokenizerDir?: string;
  /** vocabulary rows to keep (default: args.vocab_size, else the padded size) */
  readonly vocabSize?: number;
  /** override the checkpoint's guessed model type */
  readonly modelType?: ModelType;
  /** replace a non-empty output directory */
  readonly force?: boolean;
  readonly threads?: number;
  /** 'cpu' (default) | 'cuda' | 'cuda:0,1': where the plan's gathers and casts run (lib/plan/device.ts) */
  readonly device?: Device;
  /** CPU executor buffer budget in bytes (default 1 GiB) */
  readonly maxBufferBytes?: number;
  readonly hash?: boolean;
  readonly onProgress?: (p: HfProgress) => void;
  readonly signal?: AbortSignal;
  /** plan only: return what would be written, write nothing */
  readonly dryRun?: boolean;
  /** the plan executor (default: the native one) */
  readonly execute?: PlanExecutor;
  /** calibration-free quantization of the Linear weights (lib/quantize/hf.ts says which formats) */
  readonly quantize?: QuantizeOptions;
}

export interface HfExportResult {
  readonly outDir: string;
  readonly architecture: string;
  readonly modelType: ModelType;
  readonly dtype: HfDType;
  readonly tensors: number;
  /** tensor bytes (model.safetensors.index.json's total_size) */
  readonly bytes: number;
  readonly files: readonly { path: string; bytes: number; sha256?: string | undefined }[];
  readonly seconds: number;
  /** what was deliberately left out (multi-token-prediction layers) */
  readonly notes: readonly string[];
}

const HF_DTYPES: readonly HfDType[] = ['float32', 'float16', 'bfloat16'];

function outputDType(name: string | undefined, checkpoint: Checkpoint): HfDType {
  const d = name === undefined ? checkpoint.config.paramsDtype : parseDType(name);
  if (!(HF_DTYPES as readonly string[]).includes(d)) fail('E_USAGE', `Hugging Face export writes float32, float16 or bfloat16, not ${d}`);
  return d as HfDType;
}

/** config.json as transformers writes it: architectures and model_type first, then the fields, then the dtype. */
export function hfConfigJson(model: HfModel, dtype: HfDType): Record<string, PyJson> {
  return { architectures: [model.architecture], model_type: model.modelType, ...model.config, torch_dtype: dtype };
}

function generationConfig(model: HfModel): Record<string, PyJson> {
  const out: Record<string, PyJson> = { _from_model_config: true };
  for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id']) {
    const v = model.config[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

function checkAborted(signal: AbortSignal | undefined, outDir: string): void {
  if (signal?.aborted) fail('E_ABORTED', 'Hugging Face export cancelled', { file: outDir });
}

function writeJson(path: string, value: PyJson): void {
  try {
    writeFileSync(path, pyJsonDump(value));
  } catch (e) {
    fail('E_IO', `cannot write: ${(e as Error).message}`, { file: path, cause: e });
  }
}

export async function exportHf(checkpoint: Checkpoint, options: HfExportOptions): Promise<HfExportResult> {
  const start = performance.now();
  // every check before anything is written
  if (!options.outDir) fail('E_USAGE', 'outDir is required');
  const dtype = outputDType(options.dtype, checkpoint);
  const maxBytes = parseSize(options.maxShardSize ?? '5GB');
  const tokenizer = options.tokenizerDir === undefined ? undefined : tokenizerFiles(options.tokenizerDir);
  const modelType = options.modelType ?? checkpoint.modelType;
  checkVocabOverride(checkpoint.config, options.vocabSize, checkpoint.path);
  const model = toHfModel({
    config: checkpoint.config,
    modelType,
    tensors: checkpoint.tensors,
    args: checkpoint.args,
    where: checkpoint.path,
    ...(options.vocabSize !== undefined ? { vocabSize: options.vocabSize } : {}),
  });
  const quantized = options.quantize ? planHfQuantized(model.tensors, dtype, resolveQuantize(options.quantize)) : undefined;
  const planned: PlanTensor[] = quantized?.tensors ?? model.tensors.map((t) => planTensor(t.name, t.tensor, t.dtype ?? dtype, t.affine));
  const shards = planShards(planned, maxBytes);
  const index = shardIndex(shards);
  checkOutput(options.outDir, HF_OUTPUT, options.force ?? false);
  checkAborted(options.signal, options.outDir);

  const summary = (files: HfExportResult['files'], outDir: string): HfExportResult => ({
    outDir,
    architecture: model.architecture,
    modelType,
    dtype,
    tensors: planned.length,
    bytes: index.metadata.total_size,
    files,
    seconds: (performance.now() - start) / 1000,
    notes: model.notes ?? [],
  });
  if (options.dryRun) return summary(shards.map((s) => ({ path: join(options.outDir, s.file), bytes: s.bytes })), options.outDir);

  const execute = options.execute ?? nativeExecutor;
  const staging = beginOutput(options.outDir, HF_OUTPUT, options.force ?? false);
  try {
    const plan: CopyPlan = { files: shards.map((s) => ({ path: join(staging.dir, s.file), tensors: s.tensors, metadata: { format: 'pt' } })) };
    const written = await execute(plan, {
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.device !== undefined ? { device: options.device } : {}),
      ...(options.maxBufferBytes !== undefined ? { maxBufferBytes: options.maxBufferBytes } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      hash: options.hash ?? false,
    });
    checkAborted(options.signal, options.outDir);
    const config = hfConfigJson(model, dtype);
    writeJson(join(staging.dir, 'config.json'), quantized ? { ...config, quantization_config: quantized.quantizationConfig } : config);
    writeJson(join(staging.dir, 'generation_config.json'), generationConfig(model));
    writeJson(join(staging.dir, INDEX_NAME), index);
    const copied = tokenizer ? copyTokenizer(options.tokenizerDir!, tokenizer, staging.dir) : [];
    checkAborted(options.signal, options.outDir);
    staging.commit();
    const rel = (p: string) => join(options.outDir, p.slice(staging.dir.length + 1));
    return summary(
      [
        ...written.files.map((f) => ({ ...f, path: rel(f.path) })),
        ...['config.json', 'generation_config.json', INDEX_NAME].map((n) => join(options.outDir, n)).map((path) => ({ path, bytes: statSync(path).size })),
        ...copied.map((p) => rel(p)).map((path) => ({ path, bytes: statSync(path).size })),
      ],
      options.outDir,
    );
  } catch (err) {
    const e = staging.abandon(err);
    if (options.signal?.aborted && !(isExportError(e) && e.code === 'E_ABORTED')) fail('E_ABORTED', 'Hugging Face export cancelled', { file: options.outDir, cause: e });
    throw e;
  }
}
