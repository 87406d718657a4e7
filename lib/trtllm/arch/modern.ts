// Which TensorRT-LLM 1.x class (if any) represents a Megatron-Core model with the modern features: QK-layernorm,
// QKV-bias-only attention, MoE routers, shared experts, Multi-Latent Attention. Read from TensorRT-LLM's TRT-backend
// model code (NVIDIA/TensorRT-LLM, tensorrt_llm/models/, the 1.x era of the 008b2b8d spec commit):
// - models/__init__.py MODEL_MAP: Qwen2ForCausalLM / Qwen2MoeForCausalLM / Qwen3ForCausalLM → QWenForCausalLM;
//   DeepseekV2ForCausalLM.
// - models/qwen/model.py QWenDecoderLayer: RmsNorm blocks, Attention(bias=attn_bias, dense_bias=False,
//   qk_layernorm = qwen_type in (qwen3, qwen3_moe), RmsNorm q/k norms over the head); MLP = GatedMLP, or MOE when
//   moe.num_experts > 1 in every layer (no dense/MoE mix), or SharedMoE with a sigmoid-gated shared expert for
//   qwen2_moe only (layers/moe.py SharedMoE; no q/k norms there). MOE routes with softmax (layers/moe.py
//   MoeConfig.normalization_mode NONE / RENORMALIZE; no sigmoid scores, expert bias or scaling factor).
// - models/deepseek_v2/model.py DeepseekV2DecoderLayer: always MLA (DeepseekV2Attention), MoE in every layer but
//   layer 0; its convert.py (load_weights_from_hf_model) stores attention.fused_q_proj as the per-head product of
//   q_b_proj and kv_b_proj (einsum 'hdq,hdk->hkq'): a computed weight, not a copy of a checkpoint tensor.
// Anything outside what those classes compute is refused here, before a byte is written, naming the HF export.
import { fail, isExportError } from '../../errors.js';
import { pyFloatRepr } from '../../export/pyjson.js';
import type { ModelType, TransformerConfig } from '../../megatron/types.js';
import type { Tensor } from '../../tensor/tensor.js';
import { isLlamaClass, TRT_ARCHITECTURE } from '../model-types.js';
import { qwenArchitecture } from './qwen.js';

/** What the state dict and config say about the modern features (names without layer numbers). */
export interface ModernFeatures {
  readonly qkLayernorm: boolean;
  readonly mla: boolean;
  readonly expertBias: boolean;
  readonly sharedExperts: boolean;
  /** some layers dense, some MoE */
  readonly mixedLayers: boolean;
  readonly moe: boolean;
}

/** tensorrt_llm/layers/attention.py Attention(eps=1e-05): the q/k norms' epsilon; models/qwen/model.py passes none */
export const TRT_QK_NORM_EPS = 1e-5;

const HF_WAY = 'export it to Hugging Face format with `mcore-export hf` and serve that checkpoint (TensorRT-LLM\'s PyTorch backend, vLLM and SGLang load it)';

const has = (sd: ReadonlyMap<string, Tensor>, re: RegExp) => [...sd.keys()].some((n) => re.test(n));

export function modernFeatures(c: TransformerConfig, sd: ReadonlyMap<string, Tensor>): ModernFeatures {
  const names = [...sd.keys()];
  // per layer: MoE when it has a router or experts, dense when it has an MLP weight (the TE spec names an MoE
  // layer's pre-MLP norm mlp.linear_fc1.layer_norm_weight, so norms do not count)
  const moeLayers = new Set<number>();
  const mlpLayers = new Set<number>();
  for (const n of names) {
    const m = /(?:^|\.)layers\.(\d+)\.mlp\.(?:(router|experts)\.|linear_fc[12]\.(?:weight|bias)$)/.exec(n);
    if (m) (m[1] && m[2] ? moeLayers : mlpLayers).add(Number(m[1]));
  }
  const denseLayers = [...mlpLayers].filter((l) => !moeLayers.has(l));
  const freq = c.moe?.layers;
  return {
    qkLayernorm: c.qkLayernorm || has(sd, /\.self_attention\.(q|k)_layernorm\./),
    mla: c.mla !== undefined || has(sd, /\.self_attention\.linear_(q_down_proj|q_up_proj|q_proj|kv_down_proj|kv_up_proj)\./),
    expertBias: c.moe?.enableExpertBias === true || has(sd, /\.mlp\.router\.expert_bias$/),
    sharedExperts: (c.moe?.sharedExpertIntermediateSize ?? 0) > 0 || has(sd, /\.mlp\.shared_experts\./),
    mixedLayers: (moeLayers.size > 0 && denseLayers.length > 0) || (freq !== undefined && freq.includes(true) && freq.includes(false)),
    moe: (c.numMoeExperts ?? 0) > 1,
  };
}

/** The TensorRT-LLM family a checkpoint goes to: the classic path (Megatron's model types) or QWenForCausalLM. */
export type TrtllmFamily = { readonly kind: 'classic' } | { readonly kind: 'qwen'; readonly qwenType: 'qwen2' | 'qwen3' | 'qwen2_moe' | 'qwen3_moe' };

/**
 * Picks the TensorRT-LLM class for a model, or refuses (E_UNSUPPORTED) what no TensorRT-LLM 1.x class computes.
 * QWenForCausalLM is chosen for LLaMA-class models with QK-layernorm or with a QKV bias but no other bias (LLaMA's
 * `attn_bias` also adds a bias to attention.dense; QWen's dense has none, exactly Megatron's --add-qkv-bias).
 */
export function selectTrtllmFamily(c: TransformerConfig, modelType: ModelType, sd: ReadonlyMap<string, Tensor>, opts: { acceptQkNormEpsilon?: boolean } = {}): TrtllmFamily {
  const f = modernFeatures(c, sd);
  const refuse = (what: string): never => fail('E_UNSUPPORTED', `${what}; ${HF_WAY}`);
  if (f.mla) {
    refuse('Multi-Latent Attention is not exported to TensorRT-LLM: TensorRT-LLM 1.x has it only in DeepseekV2ForCausalLM, whose checkpoint holds the product of the query and key up-projections (attention.fused_q_proj) and whose layers after the first are all MoE');
  }
  if (f.expertBias || c.moe?.scoreFunction === 'sigmoid') {
    refuse('a MoE router with sigmoid scores or an expert bias (DeepSeek-V3 routing) has no TensorRT-LLM 1.x class with ordinary attention: QWen and LLaMA route with softmax only');
  }
  // QWen's qwen2_moe (SharedMoE(use_shared_gate=True)) is the only shared expert with ordinary attention
  const gatedShared = f.sharedExperts && (c.moe?.sharedExpertGate === true || has(sd, /\.mlp\.shared_experts\.gate_weight$/));
  if (f.sharedExperts && !gatedShared) {
    refuse('MoE shared experts without a gate have no TensorRT-LLM 1.x class with ordinary attention (QWen\'s qwen2_moe always gates its shared expert)');
  }
  if (gatedShared && f.qkLayernorm) refuse('gated shared experts with QK-layernorm: TensorRT-LLM\'s QWen has shared experts only for qwen2_moe, without q/k norms');
  if (f.mixedLayers) refuse('a mix of dense and MoE layers (--moe-layer-freq) has no TensorRT-LLM 1.x class with ordinary attention: QWen and LLaMA make every layer MoE or none');
  const scale = c.moe?.topkScalingFactor;
  if (scale !== undefined && scale !== 1) refuse(`a router top-k scaling factor of ${scale} has no place in TensorRT-LLM 1.x's softmax MoE`);
  if ((c.moe?.numGroups ?? 0) > 1) refuse('group-limited routing (--moe-router-num-groups) has no TensorRT-LLM 1.x class with ordinary attention');

  const qkvBiasOnly = c.addQkvBias && !c.addBiasLinear;
  if (!f.qkLayernorm && !qkvBiasOnly && !gatedShared) return { kind: 'classic' };
  if (!isLlamaClass(modelType) || modelType === 'gemma' || c.normalization !== 'RMSNorm') {
    if (f.qkLayernorm || gatedShared) refuse(`${f.qkLayernorm ? 'QK-layernorm' : 'gated shared experts'} in a '${modelType}' model (${c.normalization}) have no TensorRT-LLM 1.x class: only QWen (RMSNorm, gated MLP) has them`);
    return { kind: 'classic' };
  }
  if (!c.gatedLinearUnit) refuse(`a non-gated ${c.activation} MLP: TensorRT-LLM's QWen always builds a gated MLP`);
  if (c.addBiasLinear) refuse('linear-layer biases: TensorRT-LLM\'s QWen attention has no output-projection bias');
  if (f.qkLayernorm && c.layernormEpsilon !== TRT_QK_NORM_EPS && !opts.acceptQkNormEpsilon) {
    refuse(
      `TensorRT-LLM 1.x's QWen normalises q and k with a fixed epsilon of ${pyFloatRepr(TRT_QK_NORM_EPS)} (its Attention default), this model with ${pyFloatRepr(c.layernormEpsilon)}, ` +
        "so its logits would differ from Megatron's (about 1e-4 relative on the test models; --accept-qk-norm-epsilon, or the TRTLLMHelper option acceptQkNormEpsilon: true, accepts that)",
    );
  }
  if (c.rotaryPercent !== 1) refuse(`rotary percent ${c.rotaryPercent}: TensorRT-LLM's QWen rotates the whole head`);
  if (f.moe) return { kind: 'qwen', qwenType: f.qkLayernorm ? 'qwen3_moe' : gatedShared ? 'qwen2_moe' : 'qwen2' };
  return { kind: 'qwen', qwenType: f.qkLayernorm ? 'qwen3' : 'qwen2' };
}

/** One line for `inspect`: the TensorRT-LLM class an export writes, or why it is refused (the E_UNSUPPORTED text). */
export function describeTrtllmTarget(c: TransformerConfig, modelType: ModelType, sd: ReadonlyMap<string, Tensor>): string {
  try {
    const family = selectTrtllmFamily(c, modelType, sd, { acceptQkNormEpsilon: true });
    if (family.kind === 'classic') return TRT_ARCHITECTURE[modelType];
    const eps = c.qkLayernorm && c.layernormEpsilon !== TRT_QK_NORM_EPS ? ` (needs --accept-qk-norm-epsilon: q/k-norm epsilon ${pyFloatRepr(c.layernormEpsilon)})` : '';
    return `${qwenArchitecture(family.qwenType)}, qwen_type ${family.qwenType}${eps}`;
  } catch (e) {
    if (isExportError(e) && e.code === 'E_UNSUPPORTED') return `refused: ${e.message.replace(/^E_UNSUPPORTED: /, '')}`;
    throw e;
  }
}
