import type { Tensor } from '../tensor/tensor.js';

export type CheckpointFormat = 'torch' | 'torch_dist' | 'safetensors';
export type ModelType = 'gpt' | 'gptnext' | 'llama' | 'mixtral' | 'gemma' | 'falcon' | 'starcoder';
export const MODEL_TYPES: readonly ModelType[] = ['gpt', 'gptnext', 'llama', 'mixtral', 'gemma', 'falcon', 'starcoder'];

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
  /** training parameter dtype: 'float32' | 'float16' | 'bfloat16' */
  paramsDtype: 'float32' | 'float16' | 'bfloat16';
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
