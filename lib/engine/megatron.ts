/**
 * Megatron's `TRTLLMHelper.build_and_save_engine` argument set (camelCase) → our engine build.
 *
 * Megatron builds in-process through TensorRT-LLM's Python API from weights in memory; we run trtllm-build on
 * a checkpoint directory, so the weights must have been written first (exportTrtllm / TRTLLMHelper).
 * Megatron names that differ from trtllm-build's: loraCkptList → loraDir, useLoraPlugin → loraPlugin
 * (Megatron also fixes the LoRA source to 'nemo'). Defaults are Megatron's (MEGATRON_BUILD_DEFAULTS).
 */
import type { Device } from '../plan/device.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import { fail } from '../errors.js';
import { nativeExecutor, type PlanExecutor } from '../export/executor.js';
import { writeFileAtomic } from '../export/out-dir.js';
import type { TrtllmPretrainedConfig, TrtllmRankWeights } from '../trtllm/helper-types.js';
import { withMegatronDefaults, type EngineBuildOptions, type PluginDtype, type GemmPluginDtype } from './options.js';
import { buildEngine, type BuildEngineControl, type EngineBuildResult } from './build.js';

export interface MegatronBuildArgs {
  maxInputLen?: number;
  maxOutputLen?: number;
  maxBatchSize?: number;
  loraCkptList?: string[] | null;
  useLoraPlugin?: PluginDtype | null;
  maxLoraRank?: number;
  loraTargetModules?: EngineBuildOptions['loraTargetModules'] | null;
  maxPromptEmbeddingTableSize?: number;
  pagedKvCache?: boolean;
  removeInputPadding?: boolean;
  pagedContextFmha?: boolean;
  useRefit?: boolean;
  maxNumTokens?: number | null;
  maxSeqLen?: number | null;
  optNumTokens?: number | null;
  maxBeamWidth?: number;
  tokensPerBlock?: number;
  multipleProfiles?: boolean;
  gptAttentionPlugin?: PluginDtype;
  gemmPlugin?: GemmPluginDtype;
  reduceFusion?: boolean;
}

const MEGATRON_KEYS = new Set<string>([
  'maxInputLen', 'maxOutputLen', 'maxBatchSize', 'loraCkptList', 'useLoraPlugin', 'maxLoraRank', 'loraTargetModules',
  'maxPromptEmbeddingTableSize', 'pagedKvCache', 'removeInputPadding', 'pagedContextFmha', 'useRefit', 'maxNumTokens',
  'maxSeqLen', 'optNumTokens', 'maxBeamWidth', 'tokensPerBlock', 'multipleProfiles', 'gptAttentionPlugin', 'gemmPlugin',
  'reduceFusion',
]);

/** Megatron arguments → EngineBuildOptions with Megatron's defaults; null means "not given", as in Python. */
export function megatronBuildOptions(args: MegatronBuildArgs, extra: EngineBuildOptions = {}): EngineBuildOptions {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args ?? {})) {
    if (!MEGATRON_KEYS.has(k)) fail('E_USAGE', `unknown build_and_save_engine argument '${k}'`);
    if (v === null || v === undefined) continue;
    if (k === 'loraCkptList') o.loraDir = v;
    else if (k === 'useLoraPlugin') o.loraPlugin = v;
    else o[k] = v;
  }
  const lora = o.loraPlugin !== undefined && o.loraPlugin !== 'disable';
  if (lora) {
    o.loraCkptSource ??= 'nemo';
    o.maxLoraRank ??= 64;
  } else if (o.loraDir === undefined && o.loraTargetModules === undefined) {
    delete o.maxLoraRank; // Megatron passes 64 always; without LoRA trtllm-build ignores it
  }
  return withMegatronDefaults({ ...(o as EngineBuildOptions), ...extra });
}

/** `build_and_save_engine` on a written checkpoint directory. */
export function buildAndSaveEngine(
  checkpointDir: string,
  engineDir: string,
  args: MegatronBuildArgs = {},
  control: BuildEngineControl & { extraOptions?: EngineBuildOptions } = {},
): Promise<EngineBuildResult> {
  const { extraOptions, ...rest } = control;
  return buildEngine(checkpointDir, engineDir, megatronBuildOptions(args, extraOptions), rest);
}

/** What TRTLLMHelper.buildAndSaveEngine takes besides Megatron's build arguments. */
export interface HelperBuildInput {
  engineDir: string;
  /** a written TensorRT-LLM checkpoint directory (e.g. from exportTrtllm) ... */
  checkpointDir?: string;
  /** ... or Megatron's in-memory pair: every rank's weights and the configs, as getTrtllmPretrainedConfigAndModelWeights returns them */
  trtllmModelWeights?: readonly TrtllmRankWeights[];
  trtllmModelConfig?: TrtllmPretrainedConfig | readonly TrtllmPretrainedConfig[];
  /** plan executor for writing in-memory weights (default: the native one) */
  executor?: PlanExecutor;
  /** where the in-memory weights are gathered and cast: 'cpu' (default) | 'cuda' | 'cuda:N' (e.g. this rank's GPU after on-device conversion) */
  device?: Device;
}

/**
 * Megatron's `build_and_save_engine` for TRTLLMHelper. trtllm-build reads files, so in-memory weights are first
 * written to a temporary checkpoint directory next to the engine directory (removed afterwards).
 */
export async function helperBuildAndSaveEngine(input: HelperBuildInput & MegatronBuildArgs, control: BuildEngineControl = {}): Promise<EngineBuildResult> {
  const { engineDir, checkpointDir, trtllmModelWeights, trtllmModelConfig, executor, device, ...args } = input;
  if (!engineDir) fail('E_USAGE', 'buildAndSaveEngine needs engineDir');
  if (checkpointDir !== undefined) {
    if (trtllmModelWeights !== undefined) fail('E_USAGE', 'give either checkpointDir or trtllmModelWeights, not both');
    return buildAndSaveEngine(checkpointDir, engineDir, args, control);
  }
  if (!trtllmModelWeights || trtllmModelWeights.length === 0 || !trtllmModelConfig) {
    fail('E_USAGE', 'buildAndSaveEngine needs checkpointDir, or trtllmModelWeights with trtllmModelConfig');
  }
  const config = Array.isArray(trtllmModelConfig) ? (trtllmModelConfig as readonly TrtllmPretrainedConfig[])[0] : (trtllmModelConfig as TrtllmPretrainedConfig);
  if (!config) fail('E_USAGE', 'trtllmModelConfig is empty');
  const world = config.mapping.tpSize * config.mapping.ppSize;
  const have = new Set(trtllmModelWeights.map((w) => w.rank));
  const missing = Array.from({ length: world }, (_, r) => r).filter((r) => !have.has(r));
  if (missing.length) {
    fail('E_USAGE', `an engine needs every rank's weights; missing rank(s) ${missing.join(', ')} (on-device conversion gives one rank per process: write them with exportTrtllm and pass checkpointDir)`);
  }
  const out = resolve(engineDir);
  const tmp = mkdtempSync(join(dirname(out), `.${basename(out)}.checkpoint-`));
  try {
    const execute = executor ?? nativeExecutor;
    await execute({ files: trtllmModelWeights.map((w) => ({ path: join(tmp, `rank${w.rank}.safetensors`), tensors: w.tensors })) }, {
      ...(control.signal ? { signal: control.signal } : {}),
      ...(device !== undefined ? { device } : {}),
    });
    writeFileAtomic(join(tmp, 'config.json'), config.toJson());
    return await buildAndSaveEngine(tmp, out, args, control);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
