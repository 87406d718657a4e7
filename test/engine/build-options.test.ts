// Engine build options → trtllm-build argv. The expected flags below were written by hand from
// shared/spec/trtllm.md §4.1 (trtllm-build's argparse flags and add_plugin_argument), not from our table;
// the spec's own text is also read to check every flag we emit exists there.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUILD_FLAGS, buildOptionsToArgv, MEGATRON_BUILD_DEFAULTS, validateBuildOptions, type EngineBuildOptions } from '../../lib/engine/options.js';
import { codeOf } from '../support/errors.js';

const SPEC = readFileSync(new URL('../../../shared/spec/trtllm.md', import.meta.url), 'utf8');

/** option → [value, the argv trtllm-build expects for it per the spec] */
const EXPECTED: { [K in keyof EngineBuildOptions]-?: [EngineBuildOptions[K], string[]] } = {
  maxInputLen: [512, ['--max_input_len', '512']],
  maxOutputLen: [300, ['--max_seq_len', String(1024 + 300)]], // Megatron: input (default 1024) + output
  maxSeqLen: [4096, ['--max_seq_len', '4096']],
  maxBatchSize: [8, ['--max_batch_size', '8']],
  maxBeamWidth: [4, ['--max_beam_width', '4']],
  maxNumTokens: [8192, ['--max_num_tokens', '8192']],
  optNumTokens: [64, ['--opt_num_tokens', '64']],
  maxPromptEmbeddingTableSize: [0, ['--max_prompt_embedding_table_size', '0']],
  maxEncoderInputLen: [256, ['--max_encoder_input_len', '256']],
  pagedKvCache: [false, ['--kv_cache_type', 'continuous']],
  kvCacheType: ['disabled', ['--kv_cache_type', 'disabled']],
  tokensPerBlock: [64, ['--tokens_per_block', '64']],
  removeInputPadding: [false, ['--remove_input_padding', 'disable']],
  pagedContextFmha: [true, ['--use_paged_context_fmha', 'enable']],
  useRefit: [false, []],
  multipleProfiles: [true, ['--multiple_profiles', 'enable']],
  reduceFusion: [true, ['--reduce_fusion', 'enable']],
  contextFmha: [false, ['--context_fmha', 'disable']],
  bertContextFmhaFp32Acc: [true, ['--bert_context_fmha_fp32_acc', 'enable']],
  useFp8ContextFmha: [false, ['--use_fp8_context_fmha', 'disable']],
  fuseFp4Quant: [true, ['--fuse_fp4_quant', 'enable']],
  pagedState: [false, ['--paged_state', 'disable']],
  streamingllm: [true, ['--streamingllm', 'enable']],
  normQuantFusion: [true, ['--norm_quant_fusion', 'enable']],
  userBuffer: [false, ['--user_buffer', 'disable']],
  useFusedMlp: [false, ['--use_fused_mlp', 'disable']],
  ppReduceScatter: [false, ['--pp_reduce_scatter', 'disable']],
  gptAttentionPlugin: ['bfloat16', ['--gpt_attention_plugin', 'bfloat16']],
  gemmPlugin: ['fp8', ['--gemm_plugin', 'fp8']],
  bertAttentionPlugin: ['disable', ['--bert_attention_plugin', 'disable']],
  moePlugin: ['auto', ['--moe_plugin', 'auto']],
  ncclPlugin: ['float16', ['--nccl_plugin', 'float16']],
  mambaConv1dPlugin: ['float32', ['--mamba_conv1d_plugin', 'float32']],
  fp8RowwiseGemmPlugin: ['disable', ['--fp8_rowwise_gemm_plugin', 'disable']],
  gemmSwigluPlugin: ['fp8', ['--gemm_swiglu_plugin', 'fp8']],
  lowLatencyGemmPlugin: ['fp8', ['--low_latency_gemm_plugin', 'fp8']],
  lowLatencyGemmSwigluPlugin: ['disable', ['--low_latency_gemm_swiglu_plugin', 'disable']],
  gemmAllreducePlugin: ['bfloat16', ['--gemm_allreduce_plugin', 'bfloat16']],
  loraPlugin: ['float16', ['--lora_plugin', 'float16']],
  doraPlugin: [false, ['--dora_plugin', 'disable']],
  loraDir: [['/a/lora1', '/b/lora2'], ['--lora_dir', '/a/lora1', '/b/lora2']],
  loraCkptSource: ['nemo', ['--lora_ckpt_source', 'nemo']],
  loraTargetModules: [['attn_qkv', 'mlp_4h_to_h'], ['--lora_target_modules', 'attn_qkv', 'mlp_4h_to_h']],
  maxLoraRank: [32, ['--max_lora_rank', '32']],
  logitsDtype: ['float32', ['--logits_dtype', 'float32']],
  gatherContextLogits: [true, ['--gather_context_logits']],
  gatherGenerationLogits: [true, ['--gather_generation_logits']],
  gatherAllTokenLogits: [true, ['--gather_all_token_logits']],
  speculativeDecodingMode: ['medusa', ['--speculative_decoding_mode', 'medusa']],
  maxDraftLen: [0, ['--max_draft_len', '0']],
  stripPlan: [true, ['--strip_plan']],
  weightSparsity: [true, ['--weight_sparsity']],
  weightStreaming: [true, ['--weight_streaming']],
  fastBuild: [true, ['--fast_build']],
  workers: [2, ['--workers', '2']],
  logLevel: ['verbose', ['--log_level', 'verbose']],
  profilingVerbosity: ['detailed', ['--profiling_verbosity', 'detailed']],
  inputTimingCache: ['/tmp/in.cache', ['--input_timing_cache', '/tmp/in.cache']],
  outputTimingCache: ['/tmp/out.cache', ['--output_timing_cache', '/tmp/out.cache']],
  visualizeNetwork: ['/tmp/onnx', ['--visualize_network', '/tmp/onnx']],
  enableDebugOutput: [true, ['--enable_debug_output']],
  dryRun: [true, ['--dry_run']],
  monitorMemory: [true, ['--monitor_memory']],
  gpusPerNode: [4, ['--gpus_per_node', '4']],
};

/** the companions an option needs to be valid on its own (LoRA settings need the LoRA plugin) */
function withCompanions(o: EngineBuildOptions): EngineBuildOptions {
  const key = Object.keys(o)[0];
  if (['loraDir', 'loraCkptSource', 'loraTargetModules', 'maxLoraRank', 'doraPlugin'].includes(key!)) return { loraPlugin: 'auto', ...o };
  if (key === 'userBuffer') return o; // false needs no companion
  return o;
}

describe('build options → trtllm-build argv', () => {
  it('covers every option of EngineBuildOptions', () => {
    expect(BUILD_FLAGS.map((f) => f.key).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [key, [value, expected]] of Object.entries(EXPECTED)) {
    it(`${key} = ${JSON.stringify(value)}`, () => {
      const argv = buildOptionsToArgv(withCompanions({ [key]: value }));
      const own = argv.slice(argv.indexOf(expected[0] ?? '') === -1 ? argv.length : argv.indexOf(expected[0]!));
      if (expected.length === 0) expect(argv).toEqual([]);
      else expect(own.slice(0, expected.length)).toEqual(expected);
      for (const tok of expected.filter((t) => t.startsWith('--'))) expect(SPEC).toContain('`' + tok);
    });
  }

  it('emits only options that were given (trtllm-build defaults apply otherwise)', () => {
    expect(buildOptionsToArgv({})).toEqual([]);
    expect(buildOptionsToArgv({ maxBatchSize: undefined, workers: 1 })).toEqual(['--workers', '1']);
  });

  it('store-true flags set to false emit nothing', () => {
    expect(buildOptionsToArgv({ stripPlan: false, dryRun: false })).toEqual([]);
  });

  it('maps Megatron defaults the way TRTLLMEngineBuilder sets them', () => {
    const argv = buildOptionsToArgv(MEGATRON_BUILD_DEFAULTS);
    const pairs = new Map<string, string>();
    for (let i = 0; i < argv.length; i++) if (argv[i]!.startsWith('--')) pairs.set(argv[i]!, argv[i + 1]!);
    expect(pairs.get('--max_seq_len')).toBe('2048'); // max_input_len + max_output_len
    expect(pairs.get('--kv_cache_type')).toBe('paged');
    expect(pairs.get('--tokens_per_block')).toBe('128');
    expect(pairs.get('--use_paged_context_fmha')).toBe('disable');
    expect(pairs.get('--max_batch_size')).toBe('4');
    expect(pairs.get('--gemm_plugin')).toBe('auto');
    expect(argv).not.toContain('--max_output_len'); // only trtllm-build ≤ 0.10 had it
  });

  it('an explicit maxSeqLen wins over maxInputLen + maxOutputLen', () => {
    expect(buildOptionsToArgv({ maxInputLen: 100, maxOutputLen: 100, maxSeqLen: 4096 })).toEqual(['--max_input_len', '100', '--max_seq_len', '4096']);
  });
});

describe('build option validation', () => {
  const bad: [string, EngineBuildOptions, string][] = [
    ['a non-integer length', { maxBatchSize: 2.5 }, 'E_CONFIG'],
    ['a string for a number', { maxInputLen: '512' as unknown as number }, 'E_CONFIG'],
    ['a zero batch', { maxBatchSize: 0 }, 'E_CONFIG'],
    ['a negative table size', { maxPromptEmbeddingTableSize: -1 }, 'E_CONFIG'],
    ['an unknown plugin dtype', { gemmPlugin: 'int8' as never }, 'E_CONFIG'],
    ['fp8 where only dtypes are allowed', { gptAttentionPlugin: 'fp8' as never }, 'E_CONFIG'],
    ['an unknown LoRA module', { loraPlugin: 'auto', loraTargetModules: ['attn_qkvx' as never] }, 'E_CONFIG'],
    ['an empty LoRA dir list', { loraPlugin: 'auto', loraDir: [] }, 'E_CONFIG'],
    ['a LoRA dir that reads as a flag', { loraPlugin: 'auto', loraDir: ['--strip_plan'] }, 'E_CONFIG'],
    ['LoRA dirs without the LoRA plugin', { loraDir: ['/x'] }, 'E_CONFIG'],
    ['LoRA with the plugin disabled', { loraPlugin: 'disable', maxLoraRank: 8 }, 'E_CONFIG'],
    ['an unknown option', { maxBatchSise: 4 } as EngineBuildOptions, 'E_USAGE'],
    ['useRefit (Python API only)', { useRefit: true }, 'E_UNSUPPORTED'],
    ['a prompt longer than the sequence', { maxInputLen: 2048, maxSeqLen: 1024 }, 'E_CONFIG'],
    ['pagedKvCache contradicting kvCacheType', { pagedKvCache: true, kvCacheType: 'continuous' }, 'E_CONFIG'],
    ['tokensPerBlock without a paged cache', { pagedKvCache: false, tokensPerBlock: 64 }, 'E_CONFIG'],
    ['tokensPerBlock not a power of two', { tokensPerBlock: 48 }, 'E_CONFIG'],
    ['maxNumTokens with padding kept', { removeInputPadding: false, maxNumTokens: 4096 }, 'E_CONFIG'],
    ['optNumTokens above maxNumTokens', { maxNumTokens: 100, optNumTokens: 200 }, 'E_CONFIG'],
    ['optNumTokens with multiple profiles', { multipleProfiles: true, optNumTokens: 64 }, 'E_CONFIG'],
    ['context logits with draft tokens', { gatherContextLogits: true, speculativeDecodingMode: 'medusa', maxDraftLen: 4 }, 'E_CONFIG'],
    ['draft tokens without a speculative mode', { maxDraftLen: 4 }, 'E_CONFIG'],
    ['userBuffer without reduceFusion', { userBuffer: true }, 'E_CONFIG'],
    ['a path with a NUL byte', { outputTimingCache: 'a\0b' }, 'E_CONFIG'],
  ];
  for (const [what, opts, code] of bad) {
    it(`rejects ${what} with ${code}`, () => expect(codeOf(() => validateBuildOptions(opts))).toBe(code));
  }

  it('names the option in the message', () => {
    expect(() => validateBuildOptions({ maxBeamWidth: 0 })).toThrow(/maxBeamWidth/);
  });

  it('checks architecture-specific features against the checkpoint', () => {
    expect(codeOf(() => validateBuildOptions({ streamingllm: true }, { architecture: 'GPTForCausalLM' }))).toBe('E_CONFIG');
    expect(codeOf(() => validateBuildOptions({ streamingllm: true }, { architecture: 'LlamaForCausalLM' }))).toBe('no error');
    expect(codeOf(() => validateBuildOptions({ ppReduceScatter: true }, { architecture: 'LlamaForCausalLM' }))).toBe('E_CONFIG');
  });

  it('accepts a full Megatron-style option set', () => {
    expect(codeOf(() => validateBuildOptions({ ...MEGATRON_BUILD_DEFAULTS, loraPlugin: 'auto', loraDir: ['/l'], loraCkptSource: 'nemo', maxNumTokens: 4096, optNumTokens: 8 }))).toBe('no error');
  });
});
