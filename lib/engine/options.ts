/**
 * Engine build options: Megatron's `TRTLLMHelper.build_and_save_engine` names in camelCase plus the rest of
 * `trtllm-build`'s flags, validated before anything is launched and mapped to `trtllm-build` argv.
 *
 * One table (BUILD_FLAGS) drives validation, the argv mapping and the CLI flags, so the three cannot drift.
 * Facts: shared/spec/trtllm.md §4.1 (flag table, from tensorrt_llm/commands/build.py and plugin/plugin.py of
 * the 1.x era) and §4.4 (Megatron's names and defaults).
 */
import { fail } from '../errors.js';

/** Plugin precisions accepted by most `--*_plugin` flags ('auto' = the model dtype, 'disable' = off). */
export const PLUGIN_DTYPES = ['auto', 'float16', 'float32', 'bfloat16', 'int32', 'disable'] as const;
export type PluginDtype = (typeof PLUGIN_DTYPES)[number];
export const GEMM_PLUGIN_DTYPES = [...PLUGIN_DTYPES, 'fp8', 'nvfp4'] as const;
export type GemmPluginDtype = (typeof GEMM_PLUGIN_DTYPES)[number];
export const FP8_ONLY_PLUGIN = ['fp8', 'disable'] as const;
export type Fp8OnlyPlugin = (typeof FP8_ONLY_PLUGIN)[number];
export const GEMM_ALLREDUCE_DTYPES = ['float16', 'bfloat16', 'disable'] as const;
export const KV_CACHE_TYPES = ['continuous', 'paged', 'disabled'] as const;
export const LOG_LEVELS = ['internal_error', 'error', 'warning', 'info', 'verbose'] as const;
export const PROFILING_VERBOSITIES = ['layer_names_only', 'detailed', 'none'] as const;
export const SPECULATIVE_MODES = ['draft_tokens_external', 'lookahead_decoding', 'medusa', 'explicit_draft_tokens', 'eagle'] as const;
/** `LoraManager.LORA_MODULE_IDS` keys (the argparse choices of `--lora_target_modules`). */
export const LORA_TARGET_MODULES = [
  'attn_qkv', 'attn_q', 'attn_k', 'attn_v', 'attn_dense', 'mlp_h_to_4h', 'mlp_4h_to_h', 'mlp_gate',
  'cross_attn_qkv', 'cross_attn_q', 'cross_attn_k', 'cross_attn_v', 'cross_attn_dense',
  'moe_h_to_4h', 'moe_4h_to_h', 'moe_gate', 'moe_router', 'mlp_router', 'mlp_gate_up',
] as const;

export interface EngineBuildOptions {
  // Limits (Megatron names)
  maxInputLen?: number;
  /** Megatron's: only used to derive maxSeqLen = maxInputLen + maxOutputLen when maxSeqLen is not given */
  maxOutputLen?: number;
  maxBatchSize?: number;
  maxSeqLen?: number;
  maxNumTokens?: number;
  optNumTokens?: number;
  maxBeamWidth?: number;
  maxPromptEmbeddingTableSize?: number;
  maxEncoderInputLen?: number;
  // KV cache and features (Megatron names)
  /** true → --kv_cache_type paged, false → continuous (the CLI's --paged_kv_cache is deprecated) */
  pagedKvCache?: boolean;
  kvCacheType?: (typeof KV_CACHE_TYPES)[number];
  tokensPerBlock?: number;
  removeInputPadding?: boolean;
  /** → --use_paged_context_fmha */
  pagedContextFmha?: boolean;
  /** Megatron's Python-API flag; trtllm-build hard-codes refit=False, so only `false` is accepted (see stripPlan) */
  useRefit?: boolean;
  multipleProfiles?: boolean;
  reduceFusion?: boolean;
  contextFmha?: boolean;
  bertContextFmhaFp32Acc?: boolean;
  useFp8ContextFmha?: boolean;
  fuseFp4Quant?: boolean;
  pagedState?: boolean;
  streamingllm?: boolean;
  normQuantFusion?: boolean;
  userBuffer?: boolean;
  useFusedMlp?: boolean;
  ppReduceScatter?: boolean;
  // Plugins
  gptAttentionPlugin?: PluginDtype;
  gemmPlugin?: GemmPluginDtype;
  bertAttentionPlugin?: PluginDtype;
  moePlugin?: PluginDtype;
  ncclPlugin?: PluginDtype;
  mambaConv1dPlugin?: PluginDtype;
  fp8RowwiseGemmPlugin?: PluginDtype;
  gemmSwigluPlugin?: Fp8OnlyPlugin;
  lowLatencyGemmPlugin?: Fp8OnlyPlugin;
  lowLatencyGemmSwigluPlugin?: Fp8OnlyPlugin;
  gemmAllreducePlugin?: (typeof GEMM_ALLREDUCE_DTYPES)[number];
  // LoRA (Megatron: lora_ckpt_list → loraDir, use_lora_plugin → loraPlugin)
  loraPlugin?: PluginDtype;
  doraPlugin?: boolean;
  loraDir?: string[];
  loraCkptSource?: 'hf' | 'nemo';
  loraTargetModules?: (typeof LORA_TARGET_MODULES)[number][];
  maxLoraRank?: number;
  // Logits, speculative decoding
  logitsDtype?: 'float16' | 'float32';
  gatherContextLogits?: boolean;
  gatherGenerationLogits?: boolean;
  gatherAllTokenLogits?: boolean;
  speculativeDecodingMode?: (typeof SPECULATIVE_MODES)[number];
  maxDraftLen?: number;
  // Build process
  stripPlan?: boolean;
  weightSparsity?: boolean;
  weightStreaming?: boolean;
  fastBuild?: boolean;
  workers?: number;
  logLevel?: (typeof LOG_LEVELS)[number];
  profilingVerbosity?: (typeof PROFILING_VERBOSITIES)[number];
  inputTimingCache?: string;
  outputTimingCache?: string;
  visualizeNetwork?: string;
  enableDebugOutput?: boolean;
  dryRun?: boolean;
  monitorMemory?: boolean;
  gpusPerNode?: number;
}

export type BuildOptionKey = keyof EngineBuildOptions;

/** How one option becomes argv. */
export type FlagKind =
  | { type: 'int'; min: number }
  | { type: 'switch' } // boolean → `--flag enable|disable`
  | { type: 'store-true' } // boolean → `--flag` when true, nothing when false
  | { type: 'choice'; values: readonly string[] }
  | { type: 'path' }
  | { type: 'list'; values?: readonly string[] }; // argparse nargs='+'

export interface BuildFlag {
  key: BuildOptionKey;
  /** the trtllm-build flag; null when the option is not passed through as-is (handled by a rule below) */
  flag: string | null;
  kind: FlagKind | { type: 'bool' };
  help: string;
}

const int = (min: number): FlagKind => ({ type: 'int', min });
const choice = (values: readonly string[]): FlagKind => ({ type: 'choice', values });
const SW: FlagKind = { type: 'switch' };
const ST: FlagKind = { type: 'store-true' };
const PATH: FlagKind = { type: 'path' };

/** Every option, in the order its flag is emitted. */
export const BUILD_FLAGS: readonly BuildFlag[] = [
  { key: 'maxInputLen', flag: '--max_input_len', kind: int(1), help: 'maximum prompt length' },
  { key: 'maxOutputLen', flag: null, kind: int(1), help: 'Megatron: maxSeqLen defaults to maxInputLen + maxOutputLen' },
  { key: 'maxSeqLen', flag: '--max_seq_len', kind: int(1), help: 'maximum prompt + generated length' },
  { key: 'maxBatchSize', flag: '--max_batch_size', kind: int(1), help: 'maximum requests scheduled together' },
  { key: 'maxBeamWidth', flag: '--max_beam_width', kind: int(1), help: 'maximum beams for beam search' },
  { key: 'maxNumTokens', flag: '--max_num_tokens', kind: int(1), help: 'maximum batched input tokens (padding removed)' },
  { key: 'optNumTokens', flag: '--opt_num_tokens', kind: int(1), help: 'optimal batched input tokens' },
  { key: 'maxPromptEmbeddingTableSize', flag: '--max_prompt_embedding_table_size', kind: int(0), help: 'prompt-tuning table size (0 = off)' },
  { key: 'maxEncoderInputLen', flag: '--max_encoder_input_len', kind: int(1), help: 'encoder input length (enc-dec)' },
  { key: 'pagedKvCache', flag: null, kind: { type: 'bool' }, help: 'paged KV cache (→ --kv_cache_type paged|continuous)' },
  { key: 'kvCacheType', flag: '--kv_cache_type', kind: choice(KV_CACHE_TYPES), help: 'KV cache type' },
  { key: 'tokensPerBlock', flag: '--tokens_per_block', kind: int(1), help: 'tokens per paged KV cache block' },
  { key: 'removeInputPadding', flag: '--remove_input_padding', kind: SW, help: 'pack tokens of different requests' },
  { key: 'pagedContextFmha', flag: '--use_paged_context_fmha', kind: SW, help: 'paged context FMHA (KV reuse, chunked context)' },
  { key: 'useRefit', flag: null, kind: { type: 'bool' }, help: 'Megatron Python API only; use stripPlan with trtllm-build' },
  { key: 'multipleProfiles', flag: '--multiple_profiles', kind: SW, help: 'several TensorRT optimization profiles' },
  { key: 'reduceFusion', flag: '--reduce_fusion', kind: SW, help: 'fuse residual add + norm after all-reduce' },
  { key: 'contextFmha', flag: '--context_fmha', kind: SW, help: 'fused multi-head attention in the context phase' },
  { key: 'bertContextFmhaFp32Acc', flag: '--bert_context_fmha_fp32_acc', kind: SW, help: 'FP32 accumulation in BERT context FMHA' },
  { key: 'useFp8ContextFmha', flag: '--use_fp8_context_fmha', kind: SW, help: 'FP8 context FMHA (FP8 models)' },
  { key: 'fuseFp4Quant', flag: '--fuse_fp4_quant', kind: SW, help: 'fuse FP4 quantization into attention' },
  { key: 'pagedState', flag: '--paged_state', kind: SW, help: 'paged RNN state' },
  { key: 'streamingllm', flag: '--streamingllm', kind: SW, help: 'StreamingLLM window attention (Llama only)' },
  { key: 'normQuantFusion', flag: '--norm_quant_fusion', kind: SW, help: 'fuse norm and quantization kernels' },
  { key: 'userBuffer', flag: '--user_buffer', kind: SW, help: 'user buffers in all-reduce (needs reduceFusion)' },
  { key: 'useFusedMlp', flag: '--use_fused_mlp', kind: SW, help: 'fuse the gated MLP matmuls' },
  { key: 'ppReduceScatter', flag: '--pp_reduce_scatter', kind: SW, help: 'PP reduce-scatter (Mixtral only)' },
  { key: 'gptAttentionPlugin', flag: '--gpt_attention_plugin', kind: choice(PLUGIN_DTYPES), help: 'GPT attention plugin precision' },
  { key: 'gemmPlugin', flag: '--gemm_plugin', kind: choice(GEMM_PLUGIN_DTYPES), help: 'GEMM plugin precision' },
  { key: 'bertAttentionPlugin', flag: '--bert_attention_plugin', kind: choice(PLUGIN_DTYPES), help: 'BERT attention plugin precision' },
  { key: 'moePlugin', flag: '--moe_plugin', kind: choice(PLUGIN_DTYPES), help: 'MoE plugin precision' },
  { key: 'ncclPlugin', flag: '--nccl_plugin', kind: choice(PLUGIN_DTYPES), help: 'NCCL plugin precision' },
  { key: 'mambaConv1dPlugin', flag: '--mamba_conv1d_plugin', kind: choice(PLUGIN_DTYPES), help: 'Mamba conv1d plugin precision' },
  { key: 'fp8RowwiseGemmPlugin', flag: '--fp8_rowwise_gemm_plugin', kind: choice(PLUGIN_DTYPES), help: 'FP8 rowwise GEMM plugin' },
  { key: 'gemmSwigluPlugin', flag: '--gemm_swiglu_plugin', kind: choice(FP8_ONLY_PLUGIN), help: 'GEMM+SwiGLU fusion (fp8)' },
  { key: 'lowLatencyGemmPlugin', flag: '--low_latency_gemm_plugin', kind: choice(FP8_ONLY_PLUGIN), help: 'low-latency GEMM (fp8)' },
  { key: 'lowLatencyGemmSwigluPlugin', flag: '--low_latency_gemm_swiglu_plugin', kind: choice(FP8_ONLY_PLUGIN), help: 'low-latency GEMM+SwiGLU (fp8)' },
  { key: 'gemmAllreducePlugin', flag: '--gemm_allreduce_plugin', kind: choice(GEMM_ALLREDUCE_DTYPES), help: 'GEMM+all-reduce fusion' },
  { key: 'loraPlugin', flag: '--lora_plugin', kind: choice(PLUGIN_DTYPES), help: 'LoRA plugin precision (enables LoRA)' },
  { key: 'doraPlugin', flag: '--dora_plugin', kind: SW, help: 'DoRA' },
  { key: 'loraDir', flag: '--lora_dir', kind: { type: 'list' }, help: 'LoRA checkpoint directories (Megatron: loraCkptList)' },
  { key: 'loraCkptSource', flag: '--lora_ckpt_source', kind: choice(['hf', 'nemo']), help: 'LoRA checkpoint format' },
  { key: 'loraTargetModules', flag: '--lora_target_modules', kind: { type: 'list', values: LORA_TARGET_MODULES }, help: 'modules LoRA applies to' },
  { key: 'maxLoraRank', flag: '--max_lora_rank', kind: int(1), help: 'maximum LoRA rank' },
  { key: 'logitsDtype', flag: '--logits_dtype', kind: choice(['float16', 'float32']), help: 'logits dtype' },
  { key: 'gatherContextLogits', flag: '--gather_context_logits', kind: ST, help: 'return context logits' },
  { key: 'gatherGenerationLogits', flag: '--gather_generation_logits', kind: ST, help: 'return generation logits (deprecated)' },
  { key: 'gatherAllTokenLogits', flag: '--gather_all_token_logits', kind: ST, help: 'context + generation logits' },
  { key: 'speculativeDecodingMode', flag: '--speculative_decoding_mode', kind: choice(SPECULATIVE_MODES), help: 'speculative decoding' },
  { key: 'maxDraftLen', flag: '--max_draft_len', kind: int(0), help: 'maximum draft tokens' },
  { key: 'stripPlan', flag: '--strip_plan', kind: ST, help: 'strip weights from the plan (refittable engine)' },
  { key: 'weightSparsity', flag: '--weight_sparsity', kind: ST, help: 'weight sparsity' },
  { key: 'weightStreaming', flag: '--weight_streaming', kind: ST, help: 'stream weights from host memory' },
  { key: 'fastBuild', flag: '--fast_build', kind: ST, help: 'faster build, weights managed outside the plan' },
  { key: 'workers', flag: '--workers', kind: int(1), help: 'ranks built in parallel (one GPU each)' },
  { key: 'logLevel', flag: '--log_level', kind: choice(LOG_LEVELS), help: 'trtllm-build log level' },
  { key: 'profilingVerbosity', flag: '--profiling_verbosity', kind: choice(PROFILING_VERBOSITIES), help: 'profiling detail in the engine' },
  { key: 'inputTimingCache', flag: '--input_timing_cache', kind: PATH, help: 'timing cache to read' },
  { key: 'outputTimingCache', flag: '--output_timing_cache', kind: PATH, help: 'timing cache to write' },
  { key: 'visualizeNetwork', flag: '--visualize_network', kind: PATH, help: 'export the network as ONNX to DIR' },
  { key: 'enableDebugOutput', flag: '--enable_debug_output', kind: ST, help: 'debug outputs' },
  { key: 'dryRun', flag: '--dry_run', kind: ST, help: 'everything except the TensorRT build (no engines)' },
  { key: 'monitorMemory', flag: '--monitor_memory', kind: ST, help: 'log memory during the build' },
  { key: 'gpusPerNode', flag: '--gpus_per_node', kind: int(1), help: 'GPUs per node (written into the mapping)' },
];

/** Megatron's `build_and_save_engine` defaults (MLM trtllm_helper.py @d98e8a64), for TRTLLMHelper-compatible builds. */
export const MEGATRON_BUILD_DEFAULTS: Readonly<EngineBuildOptions> = Object.freeze({
  maxInputLen: 1024,
  maxOutputLen: 1024,
  maxBatchSize: 4,
  // max_lora_rank 64 is also trtllm-build's default and only matters with loraPlugin, so it is not repeated here
  maxPromptEmbeddingTableSize: 0,
  pagedKvCache: true,
  removeInputPadding: true,
  pagedContextFmha: false,
  useRefit: false,
  maxBeamWidth: 1,
  tokensPerBlock: 128,
  multipleProfiles: false,
  gptAttentionPlugin: 'auto',
  gemmPlugin: 'auto',
});

/**
 * `options` over Megatron's defaults, leaving out defaults that the given options make meaningless
 * (tokensPerBlock without a paged cache, pagedKvCache when kvCacheType is given).
 */
export function withMegatronDefaults(options: EngineBuildOptions): EngineBuildOptions {
  const d: EngineBuildOptions = { ...MEGATRON_BUILD_DEFAULTS };
  if (options.kvCacheType !== undefined) delete d.pagedKvCache;
  const paged = options.kvCacheType !== undefined ? options.kvCacheType === 'paged' : options.pagedKvCache ?? true;
  if (!paged) delete d.tokensPerBlock;
  const out: EngineBuildOptions = { ...d };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

const FLAG_BY_KEY = new Map(BUILD_FLAGS.map((f) => [f.key, f]));

function bad(key: string, message: string): never {
  return fail('E_CONFIG', `engine build option ${key}: ${message}`);
}

function checkValue(f: BuildFlag, v: unknown): void {
  const k = f.kind;
  switch (k.type) {
    case 'int':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(f.key, `expected an integer, got ${JSON.stringify(v)}`);
      if (v < k.min) bad(f.key, `must be at least ${k.min}, got ${v}`);
      return;
    case 'switch':
    case 'store-true':
    case 'bool':
      if (typeof v !== 'boolean') bad(f.key, `expected true or false, got ${JSON.stringify(v)}`);
      return;
    case 'choice':
      if (typeof v !== 'string' || !k.values.includes(v)) bad(f.key, `expected one of ${k.values.join('|')}, got ${JSON.stringify(v)}`);
      return;
    case 'path':
      if (typeof v !== 'string' || v.length === 0 || v.includes('\0')) bad(f.key, `expected a path, got ${JSON.stringify(v)}`);
      return;
    case 'list':
      if (!Array.isArray(v) || v.length === 0) bad(f.key, `expected a non-empty list, got ${JSON.stringify(v)}`);
      for (const item of v) {
        if (typeof item !== 'string' || item.length === 0 || item.includes('\0')) bad(f.key, `invalid entry ${JSON.stringify(item)}`);
        if (k.values && !k.values.includes(item)) bad(f.key, `unknown entry '${item}', expected some of ${k.values.join('|')}`);
        if (item.startsWith('-')) bad(f.key, `entry '${item}' would be read as a flag`);
      }
      return;
  }
}

/** What a checkpoint's config.json says that option rules depend on. */
export interface BuildTarget {
  architecture?: string;
  worldSize?: number;
}

/**
 * Checks types, ranges and combinations; returns the options with Megatron's derivation applied
 * (maxSeqLen from maxOutputLen, pagedKvCache → kvCacheType). Throws E_CONFIG / E_UNSUPPORTED.
 */
export function validateBuildOptions(options: EngineBuildOptions, target: BuildTarget = {}): EngineBuildOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) fail('E_USAGE', 'engine build options must be an object');
  for (const [key, value] of Object.entries(options)) {
    const f = FLAG_BY_KEY.get(key as BuildOptionKey);
    if (!f) fail('E_USAGE', `unknown engine build option '${key}'`);
    if (value !== undefined) checkValue(f, value);
  }
  const o: EngineBuildOptions = {};
  for (const [key, value] of Object.entries(options)) if (value !== undefined) (o as Record<string, unknown>)[key] = value;

  if (o.useRefit) {
    fail('E_UNSUPPORTED', 'engine build option useRefit: trtllm-build always builds with refit=False (only the Python API can set it); ' +
      'use stripPlan: true for a refittable engine with weights stripped from the plan');
  }
  delete o.useRefit;

  // Megatron: max_seq_len = max_input_len + max_output_len unless given (1024 is trtllm-build's max_input_len default).
  if (o.maxOutputLen !== undefined && o.maxSeqLen === undefined) o.maxSeqLen = (o.maxInputLen ?? 1024) + o.maxOutputLen;
  delete o.maxOutputLen;
  if (o.maxSeqLen !== undefined && o.maxInputLen !== undefined && o.maxInputLen > o.maxSeqLen) {
    bad('maxInputLen', `${o.maxInputLen} exceeds maxSeqLen ${o.maxSeqLen} (the sequence includes the prompt)`);
  }

  if (o.pagedKvCache !== undefined) {
    const want = o.pagedKvCache ? 'paged' : 'continuous';
    if (o.kvCacheType !== undefined && o.kvCacheType !== want) {
      bad('pagedKvCache', `${o.pagedKvCache} contradicts kvCacheType '${o.kvCacheType}'`);
    }
    o.kvCacheType = want;
    delete o.pagedKvCache;
  }
  if (o.tokensPerBlock !== undefined) {
    if (o.kvCacheType !== undefined && o.kvCacheType !== 'paged') bad('tokensPerBlock', `only applies to a paged KV cache, kvCacheType is '${o.kvCacheType}'`);
    if ((o.tokensPerBlock & (o.tokensPerBlock - 1)) !== 0) bad('tokensPerBlock', `must be a power of two, got ${o.tokensPerBlock}`);
  }

  if (o.removeInputPadding === false && (o.maxNumTokens !== undefined || o.optNumTokens !== undefined)) {
    bad(o.maxNumTokens !== undefined ? 'maxNumTokens' : 'optNumTokens', 'is ignored by TensorRT-LLM when removeInputPadding is false');
  }
  if (o.optNumTokens !== undefined && o.maxNumTokens !== undefined && o.optNumTokens > o.maxNumTokens) {
    bad('optNumTokens', `${o.optNumTokens} exceeds maxNumTokens ${o.maxNumTokens}`);
  }
  if (o.optNumTokens !== undefined && o.multipleProfiles) bad('optNumTokens', 'cannot be combined with multipleProfiles (trtllm-build refuses both)');

  const loraOnly = (['loraDir', 'loraTargetModules', 'loraCkptSource', 'maxLoraRank'] as const).filter((k) => o[k] !== undefined);
  if (loraOnly.length > 0 && (o.loraPlugin === undefined || o.loraPlugin === 'disable')) {
    bad(loraOnly[0]!, 'has no effect unless loraPlugin is set to a precision (trtllm-build ignores LoRA settings without the plugin)');
  }
  if (o.doraPlugin && (o.loraPlugin === undefined || o.loraPlugin === 'disable')) bad('doraPlugin', 'needs loraPlugin');

  const contextLogits = o.gatherContextLogits || o.gatherAllTokenLogits;
  if (contextLogits && (o.maxDraftLen ?? 0) > 0) bad('maxDraftLen', 'context logits cannot be gathered with draft tokens (trtllm-build refuses both)');
  if ((o.maxDraftLen ?? 0) > 0 && o.speculativeDecodingMode === undefined) bad('maxDraftLen', 'needs speculativeDecodingMode');

  if (o.userBuffer && !o.reduceFusion) bad('userBuffer', 'must be enabled together with reduceFusion');
  if (o.streamingllm && target.architecture !== undefined && target.architecture !== 'LlamaForCausalLM') {
    bad('streamingllm', `is only supported for LlamaForCausalLM, the checkpoint is ${target.architecture}`);
  }
  if (o.ppReduceScatter && target.architecture !== undefined && target.architecture !== 'MixtralForCausalLM') {
    bad('ppReduceScatter', `is only supported for MixtralForCausalLM, the checkpoint is ${target.architecture}`);
  }
  return o;
}

/** Validated options → trtllm-build argv (after --checkpoint_dir/--output_dir). Only options given are passed. */
export function buildOptionsToArgv(options: EngineBuildOptions, target: BuildTarget = {}): string[] {
  const o = validateBuildOptions(options, target);
  const argv: string[] = [];
  for (const f of BUILD_FLAGS) {
    const v = o[f.key];
    if (v === undefined || f.flag === null) continue;
    switch (f.kind.type) {
      case 'int':
      case 'choice':
      case 'path':
        argv.push(f.flag, String(v));
        break;
      case 'switch':
        argv.push(f.flag, v ? 'enable' : 'disable');
        break;
      case 'store-true':
        if (v) argv.push(f.flag);
        break;
      case 'list':
        argv.push(f.flag, ...(v as string[]));
        break;
      case 'bool':
        break;
    }
  }
  return argv;
}
