import { fail } from '../errors.js';
import type { ModelType, TransformerConfig } from '../megatron/types.js';
import { gatedVersion, isGated, nonGatedVersion } from './activation.js';
import { isGptClass, isLlamaClass, TRT_ARCHITECTURE } from './model-types.js';
import { type PyJson, pyFloat } from '../export/pyjson.js';
import { kvHeads } from './rules.js';

export type TrtDType = 'float32' | 'float16' | 'bfloat16';
export const TRT_DTYPES: readonly TrtDType[] = ['bfloat16', 'float16', 'float32'];

/** The TRTLLMHelper constructor options that reach config.json. */
export interface ConfigModelOptions {
  readonly transformerConfig: TransformerConfig;
  readonly modelType: ModelType;
  readonly positionEmbeddingType: 'learned_absolute' | 'rope';
  readonly maxPositionEmbeddings: number | null;
  readonly rotaryPercentage: number;
  readonly rotaryBase: number;
  readonly moeTpMode: number;
  readonly activation: string;
  readonly seqLenInterpolationFactor: number | null;
  readonly moeRenormMode: number | null;
  readonly shareEmbeddingsAndOutputWeights: boolean;
}

export interface ConfigExportOptions {
  readonly dtype: TrtDType;
  readonly tpSize: number;
  readonly ppSize: number;
  readonly gpusPerNode: number;
  readonly vocabSize: number;
  readonly useParallelEmbedding: boolean;
  readonly embeddingShardingDim: 0 | 1;
  /** Megatron's config where it differs from TensorRT-LLM's needs (GPT `bias` = add_bias_linear only) */
  readonly megatronCompat?: boolean | undefined;
}

/**
 * `hidden_act` TensorRT-LLM needs. MoE: the gated name (swiglu); GPT class: the gated name when the MLP is gated
 * (its MLPFactory builds a GatedMLP only for a gated name; Megatron writes `silu` there and the gate is lost);
 * LLaMA/Gemma/Falcon: the activation inside the (always gated) MLP.
 */
export function trtHiddenAct(o: Pick<ConfigModelOptions, 'activation' | 'modelType' | 'transformerConfig'>): string {
  const gated = isGated(o.activation, o.transformerConfig);
  if ((o.transformerConfig.numMoeExperts ?? 0) > 0) {
    if (!gated && /relu2|squared/.test(o.activation)) fail('E_UNSUPPORTED', `TensorRT-LLM's MoE has no '${o.activation}' activation`);
    return gated ? gatedVersion(o.activation) : o.activation;
  }
  if (isGptClass(o.modelType)) return gated ? gatedVersion(o.activation) : o.activation;
  return nonGatedVersion(o.activation);
}

/** config.json in the field order of Megatron's `TRTLLMHelper._get_trtllm_config`, corrections noted inline. */
export function trtllmConfig(m: ConfigModelOptions, e: ConfigExportOptions): { [k: string]: PyJson } {
  const c = m.transformerConfig;
  const topk = c.moeRouterTopk ?? 2;
  const moe = (c.numMoeExperts ?? 0) > 0;
  const cfg: { [k: string]: PyJson } = {
    architecture: TRT_ARCHITECTURE[m.modelType],
    dtype: e.dtype,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numAttentionHeads,
    num_key_value_heads: kvHeads(c),
    head_size: c.kvChannels,
    hidden_size: c.hiddenSize,
    // per-expert width for MoE (TensorRT-LLM's MoE reads intermediate_size per expert)
    intermediate_size: moe ? (c.moeFfnHiddenSize ?? c.ffnHiddenSize) : c.ffnHiddenSize,
    norm_epsilon: pyFloat(c.layernormEpsilon),
    vocab_size: e.vocabSize,
    position_embedding_type: m.positionEmbeddingType === 'rope' ? (c.rotaryInterleaved ? 'rope_gptj' : 'rope_gpt_neox') : 'learned_absolute',
    max_position_embeddings: m.maxPositionEmbeddings,
    hidden_act: trtHiddenAct(m),
    use_parallel_embedding: e.useParallelEmbedding,
    embedding_sharding_dim: e.embeddingShardingDim,
    share_embedding_table: m.shareEmbeddingsAndOutputWeights,
    quantization: { quant_algo: null, kv_cache_quant_algo: null },
    // GPT's one `bias` switches every linear bias (a QKV-bias-only model gets zero dense/fc/proj biases, biases.ts)
    bias: !e.megatronCompat && isGptClass(m.modelType) ? c.addBiasLinear || c.addQkvBias : c.addBiasLinear,
    apply_query_key_layer_scaling: false,
    rotary_pct: pyFloat(m.rotaryPercentage),
    rotary_base: Number.isInteger(m.rotaryBase) ? m.rotaryBase : pyFloat(m.rotaryBase),
    moe_num_experts: topk === 0 ? 0 : (c.numMoeExperts ?? 1),
    moe_top_k: topk,
    moe_normalization_mode: m.moeRenormMode ?? 1,
    moe_tp_mode: m.moeTpMode,
    logits_dtype: 'float32',
    world_size: e.tpSize * e.ppSize,
    tp_size: e.tpSize,
    pp_size: e.ppSize,
    gpus_per_node: e.gpusPerNode,
  };
  if (isLlamaClass(m.modelType) && (c.addBiasLinear || c.addQkvBias)) {
    // LLaMA-class configs read attn_bias/mlp_bias; the generic `bias` is ignored there and biases would be dropped.
    cfg['attn_bias'] = c.addQkvBias || c.addBiasLinear;
    cfg['mlp_bias'] = c.addBiasLinear;
  }
  if (m.modelType === 'falcon') {
    cfg['new_decoder_architecture'] = c.numLayers !== 32;
    cfg['parallel_attention'] = true;
  }
  if (m.seqLenInterpolationFactor !== null) {
    cfg['rotary_scaling'] = { type: 'linear', factor: pyFloat(m.seqLenInterpolationFactor) };
  } else if (c.ropeScaling) {
    // Llama-3.1-style rope scaling (Megatron's defaults for the other three fields); Megatron omits it.
    cfg['rotary_scaling'] = {
      type: 'llama3',
      factor: pyFloat(c.ropeScaling.factor),
      low_freq_factor: pyFloat(1),
      high_freq_factor: pyFloat(4),
      original_max_position_embeddings: 8192,
    };
  }
  cfg['mapping'] = { world_size: e.tpSize * e.ppSize, tp_size: e.tpSize, pp_size: e.ppSize };
  return cfg;
}
