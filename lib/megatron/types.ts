import type { Tensor } from '../tensor/tensor.js';

export type CheckpointFormat = 'torch' | 'torch_dist' | 'safetensors';
export type ModelType = 'gpt' | 'gptnext' | 'llama' | 'mixtral' | 'gemma' | 'falcon' | 'starcoder';
export const MODEL_TYPES: readonly ModelType[] = ['gpt', 'gptnext', 'llama', 'mixtral', 'gemma', 'falcon', 'starcoder'];

/**
 * The architecture families newer than Megatron's TensorRT-LLM model types, named after the transformers
 * model_type that represents each exactly. Their TensorRT-LLM model type stays the nearest classic one
 * (llama / mixtral, what Megatron's TRTLLMHelper is given for them).
 */
export type ModelFamily = 'qwen2' | 'qwen3' | 'qwen3_moe' | 'glm4_moe' | 'deepseek_v3';
export const MODEL_FAMILIES: readonly ModelFamily[] = ['qwen2', 'qwen3', 'qwen3_moe', 'glm4_moe', 'deepseek_v3'];

/** Megatron's TransformerConfig fields the exporters need, read from the checkpoint's own `args`. */
export interface TransformerConfig {
  numLayers: number;
  hiddenSize: number;
  ffnHiddenSize: number;
  numAttentionHeads: number;
  numQueryGroups: number;
  kvChannels: number;
  normalization: 'LayerNorm' | 'RMSNorm';
  layernormEpsilon: number;
  layernormZeroCenteredGamma: boolean;
  gatedLinearUnit: boolean;
  /** 'gelu' | 'silu' | 'squared_relu' | 'openai_gelu' | 'fast-gelu' ...: what args say (swiglu → gated silu) */
  activation: string;
  addBiasLinear: boolean;
  addQkvBias: boolean;
  positionEmbeddingType: 'learned_absolute' | 'rope' | 'none' | string;
  rotaryPercent: number;
  rotaryBase: number;
  rotaryInterleaved: boolean;
  /** args.use_rope_scaling / rope_scaling_factor (llama3-style) when present */
  ropeScaling?: { factor: number } | undefined;
  maxPositionEmbeddings: number;
  /** the vocabulary rows stored in the checkpoint (args.padded_vocab_size) */
  paddedVocabSize: number;
  /** the tokenizer's vocabulary when args give it (args.vocab_size) */
  vocabSize?: number | undefined;
  shareEmbeddingsAndOutputWeights: boolean;
  numMoeExperts?: number | undefined;
  moeRouterTopk?: number | undefined;
  moeFfnHiddenSize?: number | undefined;
  /** --qk-layernorm: a norm over each head's query and key (GQA: q/k_layernorm [head dim]; MLA: the q and kv latents) */
  qkLayernorm: boolean;
  /** Multi-Latent Attention (--multi-latent-attention): MLATransformerConfig's fields; undefined for ordinary attention */
  mla?: MlaConfig | undefined;
  /** mixture-of-experts details (router, shared experts, which layers): undefined for a dense model */
  moe?: MoeConfig | undefined;
  /** multi-token-prediction layers after the decoder (--mtp-num-layers; 0 when none) */
  mtpNumLayers: number;
  /** training parameter dtype: 'float32' | 'float16' | 'bfloat16' */
  paramsDtype: 'float32' | 'float16' | 'bfloat16';
}

/** Megatron's MLATransformerConfig (megatron/core/transformer/transformer_config.py) as the checkpoint's args set it. */
export interface MlaConfig {
  /** null: queries are projected directly (linear_q_proj), no q compression */
  qLoraRank: number | null;
  kvLoraRank: number;
  /** the per-head query/key width that gets no rotary embedding */
  qkHeadDim: number;
  /** the per-head rotary width (shared by all heads for the key) */
  qkPosEmbHeadDim: number;
  vHeadDim: number;
  ropeType: 'rope' | 'yarn';
  /** YaRN: scaling factor, the pre-training context, correction range, attention-scale constants */
  rotaryScalingFactor: number;
  originalMaxPositionEmbeddings: number;
  betaFast: number;
  betaSlow: number;
  mscale: number;
  mscaleAllDim: number;
}

/** Megatron's MoE settings (TransformerConfig moe_* fields) as the checkpoint's args set them. */
export interface MoeConfig {
  numExperts: number;
  topk: number;
  /** each routed expert's hidden width (moe_ffn_hidden_size, default ffn_hidden_size) */
  ffnHiddenSize: number;
  /** the shared experts' total hidden width (moe_shared_expert_intermediate_size); undefined: none */
  sharedExpertIntermediateSize: number | undefined;
  /** a sigmoid gate on the shared experts' output (moe_shared_expert_gate, Qwen2-MoE style) */
  sharedExpertGate: boolean;
  scoreFunction: 'softmax' | 'sigmoid';
  /** softmax over all experts before the top-k (no renormalisation over the k) */
  preSoftmax: boolean;
  /** router.expert_bias: added to the scores only to choose the experts */
  enableExpertBias: boolean;
  /** multiplies the routing weights (moe_router_topk_scaling_factor); undefined: 1 */
  topkScalingFactor: number | undefined;
  /** group-limited routing (moe_router_num_groups / moe_router_group_topk); undefined: none */
  numGroups: number | undefined;
  groupTopk: number | undefined;
  /** moe_router_dtype ('fp32', 'fp64') or undefined: the training dtype */
  routerDtype: string | undefined;
  /** experts are a grouped GEMM (TEGroupedMLP, or legacy GroupedMLP's weight1/weight2) */
  groupedGemm: boolean;
  /** fc1 rows of the experts / shared experts interleaved gate/up in blocks of this many rows
   * (moe_mlp_glu_interleave_size / moe_shared_expert_glu_interleave_size, for fused kernels); undefined: [gate; up] */
  gluInterleaveSize: number | undefined;
  sharedGluInterleaveSize: number | undefined;
  /** per decoder layer: true = MoE layer, false = dense MLP (from moe_layer_freq) */
  layers: readonly boolean[];
}

/** How the checkpoint was sharded when it was trained. */
export interface TrainingLayout {
  tp: number;
  pp: number;
  ep: number;
  vp: number;
  /** every file the tensors' bytes come from */
  files: string[];
}

/** A checkpoint opened for reading: metadata parsed, tensors as lazy zero-copy views over the mapped files. */
export interface Checkpoint {
  readonly path: string;
  readonly format: CheckpointFormat;
  readonly iteration: number | null;
  /** Megatron's `args` namespace as a plain object (null when the checkpoint has none, e.g. safetensors) */
  readonly args: Readonly<Record<string, unknown>> | null;
  readonly config: TransformerConfig;
  readonly modelType: ModelType;
  readonly layout: TrainingLayout;
  /**
   * Logical global tensors, named as in a TP1 PP1 legacy state dict (`decoder.layers.3.self_attention.linear_qkv.weight`),
   * per layer (torch_dist's stacked keys are unstacked), in the checkpoint's own naming scheme (local or TE spec).
   * `_extra_state` entries are not tensors and are not listed.
   */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /**
   * Each module's `_extra_state` (Transformer Engine FP8 state), by TP1 PP1 legacy name
   * (`decoder.layers.3.self_attention.linear_qkv._extra_state`), read when called (te-extra-state.ts decodes it).
   * Present for torch_dist checkpoints and TP1 PP1 legacy ones; absent where per-rank states would need merging.
   */
  readonly extraState?: ReadonlyMap<string, () => unknown>;
  close(): void;
}
