// TensorRT-LLM's QWenForCausalLM (TRT backend, 1.x) for Megatron-Core Qwen2 / Qwen3 / Qwen2-MoE / Qwen3-MoE style models.
// Sources (NVIDIA/TensorRT-LLM, tensorrt_llm/models/qwen/; config.py and convert.py read at commit 0428c188, the 1.x
// line with qwen3/qwen3_moe, MODEL_MAP at 02267d3d):
// - config.py QWenConfig: fields mlp_bias, attn_bias, rotary_base, rotary_scaling, disable_weight_only_quant_plugin,
//   use_logn_attn, moe (MoeConfig dict); `qwen_type`, `seq_length`, `moe_intermediate_size`,
//   `moe_shared_expert_intermediate_size`, `tie_word_embeddings` are kwargs stored as attributes and written back by
//   to_dict; from_hugging_face sets hidden_act 'swiglu' for the MoE types, attn_bias False for qwen3*, head_size
//   from head_dim (≠ hidden/heads allowed).
// - model.py QWenDecoderLayer: qk_layernorm iff qwen_type in (qwen3, qwen3_moe), RmsNorm over attention_head_size
//   with Attention's default eps (1e-5: QWen passes none); attention dense_bias=False; MLP intermediate size is
//   moe_intermediate_size for qwen3_moe, intermediate_size otherwise; lm_head ColumnLinear(pad_vocab_size(V, tp)).
// - convert.py convert_hf_qwen: names transformer.layers.{l}.attention.{qkv,dense,q_layernorm,k_layernorm},
//   mlp.{gate (up_proj), fc (gate_proj), proj}; qkv per rank = [q_r; k_r; v_r] (KV heads duplicated up to tp);
//   q/k norm weights whole on every rank; MoE mlp.fc = cat([up, gate]) [E, 2F/tp, H], mlp.proj [E, H, F/tp],
//   mlp.router float32 [E, H]; qwen2_moe's shared expert mlp.shared_expert.fc = cat([up_r, gate_r]) [2S/tp, H],
//   mlp.shared_expert.proj [H, S/tp], mlp.shared_expert_gate [1, H] (layers/moe.py SharedMoE, use_shared_gate:
//   sigmoid(gate(x)) · shared_expert(x), RowLinear with tp_size 1); tied models get an explicit lm_head (a copy of the embedding, zero-padded to a
//   multiple of tp) on the last pipeline stage; vocab_size stays the embedding's rows.
// - models/__init__.py MODEL_MAP: 'Qwen2ForCausalLM' and 'Qwen3ForCausalLM' → QWenForCausalLM (no Qwen3Moe key
//   there: the qwen3_moe behaviour comes from qwen_type, so Qwen3-MoE is written as 'Qwen3ForCausalLM').
// The tensor rules themselves are the shared ones in ../rules.ts (same fused layouts and TP splits).
import { fail } from '../../errors.js';
import type { PyJson } from '../../export/pyjson.js';
import type { TransformerConfig } from '../../megatron/types.js';
import type { Tensor } from '../../tensor/tensor.js';
import { gatedVersion, nonGatedVersion } from '../activation.js';

export type QwenType = 'qwen2' | 'qwen3' | 'qwen2_moe' | 'qwen3_moe';

const ARCHITECTURE: Record<QwenType, string> = { qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM', qwen2_moe: 'Qwen2MoeForCausalLM', qwen3_moe: 'Qwen3ForCausalLM' };

/** The MODEL_MAP key written as `architecture` for a qwen_type. */
export function qwenArchitecture(t: QwenType): string {
  return ARCHITECTURE[t];
}

/** MoeConfig.ExpertScaleNormalizationMode (tensorrt_llm/layers/moe.py) */
const MOE_NORMALIZATION = { NONE: 0, RENORMALIZE: 1 } as const;

/**
 * The state dict QWen's rules read: a tied model (no output_layer) gets the embedding as its output layer, as
 * convert_hf_qwen writes lm_head from embed_tokens when tie_word_embeddings (the engine never ties by itself
 * across TP/PP, see spec §2.8).
 */
export function qwenStateDict(sd: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
  const out = new Map(sd);
  if (!out.has('output_layer.weight')) {
    const emb = out.get('embedding.word_embeddings.weight') ?? fail('E_NOT_FOUND', 'the checkpoint has no word embeddings', { tensor: 'embedding.word_embeddings.weight' });
    out.set('output_layer.weight', emb);
  }
  return out;
}

/** The shared experts' width from linear_fc2 [hidden, width] when the config does not say it. */
function sharedWidth(sd: ReadonlyMap<string, Tensor>): number {
  for (const [name, t] of sd) if (/\.mlp\.shared_experts\.linear_fc2\.weight$/.test(name)) return t.shape[1]!;
  return fail('E_NOT_FOUND', 'a gated shared expert without linear_fc2', { tensor: 'decoder.layers.0.mlp.shared_experts.linear_fc2.weight' });
}

export interface QwenConfigInput {
  readonly qwenType: QwenType;
  readonly config: TransformerConfig;
  /** TRTLLMHelper's activation (swiglu for the gated MLPs these models have) */
  readonly activation: string;
  /** the classic config.json fields for the same model and layout: shared fields are taken from there */
  readonly base: { readonly [k: string]: PyJson };
  /** the Megatron state dict (tied: no output_layer) */
  readonly stateDict: ReadonlyMap<string, Tensor>;
  /** the tokenizer vocabulary the rows were trimmed to, if any */
  readonly vocabSize: number | undefined;
  /** TRTLLMHelper's moeRenormMode when the user set one */
  readonly moeRenormMode: number | null;
}

/** config.json for QWenForCausalLM: PretrainedConfig's fields, then QWenConfig's (to_dict order). */
export function qwenConfigFields(q: QwenConfigInput): { [k: string]: PyJson } {
  const c = q.config;
  const b = q.base;
  const moe = (c.numMoeExperts ?? 0) > 1;
  const shared = q.qwenType === 'qwen2_moe' ? (c.moe?.sharedExpertIntermediateSize ?? sharedWidth(q.stateDict)) : 0;
  const expertWidth = c.moeFfnHiddenSize ?? c.ffnHiddenSize;
  // Megatron's softmax router: top-k of the logits, softmax over those k (= RENORMALIZE); pre-softmax: softmax over
  // all experts, top-k, no renormalisation (= NONE).
  const normalization = q.moeRenormMode ?? (c.moe?.preSoftmax ? MOE_NORMALIZATION.NONE : MOE_NORMALIZATION.RENORMALIZE);
  const emb = q.stateDict.get('embedding.word_embeddings.weight') ?? fail('E_NOT_FOUND', 'the checkpoint has no word embeddings', { tensor: 'embedding.word_embeddings.weight' });
  const pick = (k: string): PyJson => (k in b ? b[k]! : fail('E_CONFIG', `internal: classic config has no '${k}'`));
  return {
    architecture: ARCHITECTURE[q.qwenType],
    dtype: pick('dtype'),
    // the embedding's rows (QWen pads only lm_head, to a multiple of tp)
    vocab_size: q.vocabSize ?? emb.shape[0]!,
    hidden_size: pick('hidden_size'),
    num_hidden_layers: pick('num_hidden_layers'),
    num_attention_heads: pick('num_attention_heads'),
    num_key_value_heads: pick('num_key_value_heads'),
    head_size: pick('head_size'),
    // the MLP width QWen builds: qwen2 passes intermediate_size to its MOE, qwen2_moe/qwen3_moe moe_intermediate_size
    intermediate_size: moe ? expertWidth : c.ffnHiddenSize,
    // GatedMLP applies hidden_act to mlp.fc; the MoE plugin needs the gated name (swiglu, as from_hugging_face sets)
    hidden_act: moe ? gatedVersion(q.activation) : nonGatedVersion(q.activation),
    norm_epsilon: pick('norm_epsilon'),
    position_embedding_type: pick('position_embedding_type'),
    max_position_embeddings: pick('max_position_embeddings'),
    logits_dtype: 'float32',
    use_parallel_embedding: pick('use_parallel_embedding'),
    embedding_sharding_dim: pick('embedding_sharding_dim'),
    qk_layernorm: q.qwenType === 'qwen3' || q.qwenType === 'qwen3_moe',
    mapping: pick('mapping'),
    quantization: pick('quantization'),
    qwen_type: q.qwenType,
    // read only for logn attention scaling, which is off (use_logn_attn); from_hugging_face always sets it (8192 default)
    seq_length: pick('max_position_embeddings') ?? 8192,
    use_logn_attn: false,
    mlp_bias: false,
    attn_bias: c.addQkvBias,
    rotary_base: pick('rotary_base'),
    rotary_scaling: b['rotary_scaling'] ?? null,
    disable_weight_only_quant_plugin: false,
    moe: moe ? { num_experts: c.numMoeExperts ?? 0, top_k: c.moeRouterTopk ?? 0, normalization_mode: normalization } : { num_experts: 0, top_k: 0, normalization_mode: MOE_NORMALIZATION.NONE },
    moe_intermediate_size: moe ? expertWidth : 0,
    // SharedMoE's shared expert width (QWenDecoderLayer copies it into moe.shared_expert_intermediate_size)
    moe_shared_expert_intermediate_size: shared,
    tie_word_embeddings: !q.stateDict.has('output_layer.weight'),
  };
}
