/**
 * Megatron's `TRTLLMHelper.build_and_save_engine` argument set (camelCase) → our engine build.
 *
 * Megatron builds in-process through TensorRT-LLM's Python API from weights in memory; we run trtllm-build on
 * a checkpoint directory, so the weights must have been written first (exportTrtllm / TRTLLMHelper).
 * Megatron names that differ from trtllm-build's: loraCkptList → loraDir, useLoraPlugin → loraPlugin
 * (Megatron also fixes the LoRA source to 'nemo'). Defaults are Megatron's (MEGATRON_BUILD_DEFAULTS).
 */
import { fail } from '../errors.js';
import { withMegatronDefaults, type EngineBuildOptions, type PluginDtype, type GemmPluginDtype } from './build-options.js';
import { buildEngine, type BuildEngineControl, type EngineBuildResult } from './engine-build.js';

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
