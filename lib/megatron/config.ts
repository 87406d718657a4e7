// Megatron's `args` namespace (as saved in the checkpoint, after Megatron's own validate_args) → the
// TransformerConfig fields the exporters need. Mirrors what megatron.training.arguments'
// core_transformer_config_from_args derives, so no hand-written config is ever needed.
import { fail } from '../errors.js';
import type { TransformerConfig } from './types.js';

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
    paramsDtype: paramsDtypeOf(r, args),
  };
}
