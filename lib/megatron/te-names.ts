// The two naming schemes of Megatron GPT state dicts. Transformer Engine layers fuse the input norm into
// `linear_qkv` and the pre-MLP norm into `linear_fc1` (`*.layer_norm_weight` / `*.layer_norm_bias`); the local
// spec keeps separate `input_layernorm` / `pre_mlp_layernorm` modules. Names are kept as the checkpoint has
// them; exporters ask which scheme a name set uses.

export type NamingScheme = 'local' | 'te';

const TE_FUSED_NORM = /\.(linear_qkv|linear_fc1)\.layer_norm_(weight|bias)$/;
const LOCAL_NORM = /\.(input_layernorm|pre_mlp_layernorm)\.(weight|bias)$/;

/** 'te' when any fused-norm name is present; MoE layers keep `pre_mlp_layernorm` in both schemes. */
export function namingScheme(names: Iterable<string>): NamingScheme {
  for (const n of names) if (TE_FUSED_NORM.test(n)) return 'te';
  return 'local';
}

export function isFusedNormName(name: string): boolean {
  return TE_FUSED_NORM.test(name);
}

export function isLocalNormName(name: string): boolean {
  return LOCAL_NORM.test(name);
}

/** Transformer Engine (and Megatron linear) per-module state that is not a weight: never a tensor to export. */
export function isExtraStateName(name: string): boolean {
  return /\._extra_state\d*$/.test(name);
}
