// Megatron's `args` namespace (as saved in the checkpoint, after Megatron's own validate_args) → the
// TransformerConfig fields the exporters need. Mirrors what megatron.training.arguments'
// core_transformer_config_from_args derives, so no hand-written config is ever needed.
import { fail } from '../errors.js';
import type { MlaConfig, MoeConfig, TransformerConfig } from './types.js';

export type Args = Readonly<Record<string, unknown>>;

/** An integer arg: the unpickler may give a number or (past 2^53) a bigint; floats are refused. */
function intOf(v: unknown): number | undefined {
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  return undefined;
}

function numOf(v: unknown): number | undefined {
  if (typeof v === 'bigint') return intOf(v);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Python None and a missing attribute mean the same here: "not set". */
function isUnset(v: unknown): boolean {
  return v === undefined || v === null;
}

/** Reads args with type checks; every failure names the checkpoint file the args came from. */
class ArgReader {
  constructor(
    private readonly args: Args,
    private readonly where: string,
  ) {}

  private bad(key: string, expected: string): never {
    const got = this.args[key];
    const shown = typeof got === 'bigint' ? `${got}n` : JSON.stringify(got) ?? String(got);
    return fail('E_FORMAT', `checkpoint args.${key} should be ${expected}, found ${shown}`, { file: this.where });
  }

  requiredInt(key: string, min = 1): number {
    const v = intOf(this.args[key]);
    if (v === undefined || v < min) this.bad(key, `an integer ≥ ${min}`);
    return v;
  }

  optionalInt(key: string, min = 0): number | undefined {
    if (isUnset(this.args[key])) return undefined;
    const v = intOf(this.args[key]);
    if (v === undefined || v < min) this.bad(key, `an integer ≥ ${min} or None`);
    return v;
  }

  optionalNum(key: string): number | undefined {
    if (isUnset(this.args[key])) return undefined;
    const v = numOf(this.args[key]);
    if (v === undefined) this.bad(key, 'a number or None');
    return v;
  }

  flag(key: string, dflt = false): boolean {
    const v = this.args[key];
    if (isUnset(v)) return dflt;
    if (typeof v !== 'boolean') this.bad(key, 'a boolean');
    return v;
  }

  /** A list of integers (a pickled Python list), or undefined when the arg is not a list. */
  optionalIntList(key: string): number[] | undefined {
    const v = this.args[key];
    if (!Array.isArray(v)) return undefined;
    const out = v.map(intOf);
    if (out.some((x) => x === undefined)) this.bad(key, 'an integer or a list of integers');
    return out as number[];
  }

  has(key: string): boolean {
    return key in this.args;
  }

  optionalString(key: string): string | undefined {
    const v = this.args[key];
    if (isUnset(v)) return undefined;
    if (typeof v !== 'string') this.bad(key, 'a string or None');
    return v;
  }
}

/**
 * The params dtype: Megatron derives it from --bf16/--fp16 (validate_args sets args.params_dtype from them);
 * the saved `params_dtype` torch dtype object is only a fallback, whatever form the unpickler gives it.
 */
function paramsDtypeOf(r: ArgReader, args: Args): TransformerConfig['paramsDtype'] {
  if (r.flag('bf16')) return 'bfloat16';
  if (r.flag('fp16')) return 'float16';
  const raw = args['params_dtype'];
  const text = typeof raw === 'string' ? raw : raw && typeof raw === 'object' ? JSON.stringify(raw) : '';
  if (/bfloat16/.test(text)) return 'bfloat16';
  if (/float16|\bhalf\b/.test(text)) return 'float16';
  return 'float32';
}

/** Activation and gating as Megatron's config sets them (swiglu → gated silu; quick_geglu → gated quick_gelu). */
function activationOf(r: ArgReader): { activation: string; gated: boolean } {
  if (r.flag('swiglu')) return { activation: 'silu', gated: true };
  if (r.flag('quick_geglu')) return { activation: 'quick_gelu', gated: true };
  if (r.flag('squared_relu')) return { activation: 'squared_relu', gated: false };
  if (r.flag('openai_gelu')) return { activation: 'openai_gelu', gated: false };
  return { activation: 'gelu', gated: false };
}

/**
 * MLATransformerConfig as core_transformer_config_from_args builds it (megatron/training/argument_utils.py at
 * d98e8a64): every dataclass field the args namespace has is copied, the rest keep the dataclass defaults
 * (megatron/core/transformer/transformer_config.py, class MLATransformerConfig) — e.g. beta_fast, beta_slow and
 * original_max_position_embeddings have no command-line flag (the --yarn-* flags do not reach MLA), and
 * rope_type None means the default 'yarn'.
 */
function mlaOf(r: ArgReader, where: string): MlaConfig {
  const int = (key: string, dflt: number) => (r.has(key) ? r.requiredInt(key) : dflt);
  const num = (key: string, dflt: number) => r.optionalNum(key) ?? dflt;
  const ropeType = r.optionalString('rope_type') ?? 'yarn';
  if (ropeType !== 'rope' && ropeType !== 'yarn') fail('E_UNSUPPORTED', `multi-latent attention rope_type '${ropeType}' (rope and yarn are supported)`, { file: where });
  return {
    qLoraRank: r.has('q_lora_rank') ? (r.optionalInt('q_lora_rank', 1) ?? null) : 512,
    kvLoraRank: int('kv_lora_rank', 512),
    qkHeadDim: int('qk_head_dim', 128),
    qkPosEmbHeadDim: int('qk_pos_emb_head_dim', 64),
    vHeadDim: int('v_head_dim', 128),
    ropeType,
    rotaryScalingFactor: num('rotary_scaling_factor', 40),
    originalMaxPositionEmbeddings: int('original_max_position_embeddings', 4096),
    betaFast: num('beta_fast', 32),
    betaSlow: num('beta_slow', 1),
    mscale: num('mscale', 1.0),
    mscaleAllDim: num('mscale_all_dim', 0.0),
  };
}

/**
 * Which decoder layers are MoE: moe_layer_freq an int k → every k-th layer starting at 0, a list → 1 = MoE per
 * layer (megatron/core/models/gpt/gpt_layer_specs.py, get_gpt_decoder_block_spec).
 */
function moeLayersOf(r: ArgReader, numLayers: number, where: string): boolean[] {
  const list = r.optionalIntList('moe_layer_freq');
  if (list) {
    if (list.length !== numLayers || list.some((x) => x !== 0 && x !== 1)) {
      fail('E_FORMAT', `checkpoint args.moe_layer_freq [${list.join(', ')}] should hold one 0 or 1 per layer (${numLayers} layers)`, { file: where });
    }
    return list.map((x) => x === 1);
  }
  const freq = r.optionalInt('moe_layer_freq', 1) ?? 1;
  return Array.from({ length: numLayers }, (_, i) => i % freq === 0);
}

function moeOf(r: ArgReader, numExperts: number, ffnHiddenSize: number, numLayers: number, where: string): MoeConfig {
  const score = r.optionalString('moe_router_score_function') ?? 'softmax';
  if (score !== 'softmax' && score !== 'sigmoid') fail('E_UNSUPPORTED', `moe_router_score_function '${score}' (softmax and sigmoid are supported)`, { file: where });
  const shared = r.optionalInt('moe_shared_expert_intermediate_size', 1);
  return {
    numExperts,
    topk: r.optionalInt('moe_router_topk', 1) ?? 2,
    ffnHiddenSize: r.optionalInt('moe_ffn_hidden_size', 1) ?? ffnHiddenSize,
    sharedExpertIntermediateSize: shared,
    sharedExpertGate: r.flag('moe_shared_expert_gate'),
    scoreFunction: score,
    preSoftmax: r.flag('moe_router_pre_softmax'),
    enableExpertBias: r.flag('moe_router_enable_expert_bias'),
    topkScalingFactor: r.optionalNum('moe_router_topk_scaling_factor'),
    numGroups: r.optionalInt('moe_router_num_groups', 1),
    groupTopk: r.optionalInt('moe_router_group_topk', 1),
    routerDtype: r.optionalString('moe_router_dtype'),
    groupedGemm: r.flag('moe_grouped_gemm'),
    gluInterleaveSize: r.optionalInt('moe_mlp_glu_interleave_size', 1),
    sharedGluInterleaveSize: r.optionalInt('moe_shared_expert_glu_interleave_size', 1),
    layers: moeLayersOf(r, numLayers, where),
  };
}

/**
 * Builds the TransformerConfig from a checkpoint's `args`. `where` names the file the args were read from
 * (used in errors). Required: num_layers, hidden_size, num_attention_heads, ffn_hidden_size, padded_vocab_size.
 */
export function configFromArgs(args: Args, where: string): TransformerConfig {
  const r = new ArgReader(args, where);
  const numLayers = r.requiredInt('num_layers');
  const hiddenSize = r.requiredInt('hidden_size');
  const numAttentionHeads = r.requiredInt('num_attention_heads');
  const ffnHiddenSize = r.requiredInt('ffn_hidden_size');
  const paddedVocabSize = r.requiredInt('padded_vocab_size');

  // Megatron passes num_query_groups only with --group-query-attention; otherwise every head is its own group.
  const numQueryGroups = r.flag('group_query_attention') ? r.requiredInt('num_query_groups') : numAttentionHeads;
  if (numAttentionHeads % numQueryGroups !== 0) {
    fail('E_FORMAT', `checkpoint args: num_attention_heads ${numAttentionHeads} is not a multiple of num_query_groups ${numQueryGroups}`, { file: where });
  }
  let kvChannels = r.optionalInt('kv_channels', 1);
  if (kvChannels === undefined) {
    if (hiddenSize % numAttentionHeads !== 0) fail('E_FORMAT', `checkpoint args: no kv_channels and hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numAttentionHeads}`, { file: where });
    kvChannels = hiddenSize / numAttentionHeads;
  }

  const normalization = r.optionalString('normalization') ?? 'LayerNorm';
  if (normalization !== 'LayerNorm' && normalization !== 'RMSNorm') {
    fail('E_UNSUPPORTED', `normalization '${normalization}' (only LayerNorm and RMSNorm are supported)`, { file: where });
  }
  // Older Megatron called the epsilon layernorm_epsilon, newer norm_epsilon.
  const layernormEpsilon = r.optionalNum('norm_epsilon') ?? r.optionalNum('layernorm_epsilon') ?? 1e-5;
  const { activation, gated } = activationOf(r);

  const addBiasLinear = r.flag('add_bias_linear', true);
  const numExperts = r.optionalInt('num_experts', 1);
  const useRopeScaling = r.flag('use_rope_scaling');
  const ropeFactor = r.optionalNum('rope_scaling_factor');
  if (useRopeScaling && ropeFactor === undefined) fail('E_FORMAT', 'checkpoint args.use_rope_scaling is set but rope_scaling_factor is missing', { file: where });

  return {
    numLayers,
    hiddenSize,
    ffnHiddenSize,
    numAttentionHeads,
    numQueryGroups,
    kvChannels,
    normalization,
    layernormEpsilon,
    layernormZeroCenteredGamma: r.flag('apply_layernorm_1p') || r.flag('layernorm_zero_centered_gamma'),
    gatedLinearUnit: gated,
    activation,
    addBiasLinear,
    // the fused QKV linear has a bias when either flag asks for one (Megatron's attention does `add_bias_linear or add_qkv_bias`)
    addQkvBias: addBiasLinear || r.flag('add_qkv_bias'),
    positionEmbeddingType: r.optionalString('position_embedding_type') ?? (r.flag('use_rotary_position_embeddings') ? 'rope' : 'learned_absolute'),
    rotaryPercent: r.optionalNum('rotary_percent') ?? 1.0,
    rotaryBase: r.optionalNum('rotary_base') ?? 10000,
    rotaryInterleaved: r.flag('rotary_interleaved'),
    ropeScaling: useRopeScaling ? { factor: ropeFactor! } : undefined,
    maxPositionEmbeddings: r.optionalInt('max_position_embeddings', 1) ?? r.requiredInt('seq_length'),
    paddedVocabSize,
    vocabSize: r.optionalInt('vocab_size', 1),
    shareEmbeddingsAndOutputWeights: !r.flag('untie_embeddings_and_output_weights'),
    numMoeExperts: numExperts,
    moeRouterTopk: r.optionalInt('moe_router_topk', 1),
    moeFfnHiddenSize: numExperts === undefined ? undefined : (r.optionalInt('moe_ffn_hidden_size', 1) ?? ffnHiddenSize),
    qkLayernorm: r.flag('qk_layernorm'),
    mla: r.flag('multi_latent_attention') ? mlaOf(r, where) : undefined,
    moe: numExperts === undefined ? undefined : moeOf(r, numExperts, ffnHiddenSize, numLayers, where),
    mtpNumLayers: r.optionalInt('mtp_num_layers', 0) ?? 0,
    paramsDtype: paramsDtypeOf(r, args),
  };
}
