import { fail } from '../errors.js';
import type { ModelType, TransformerConfig } from '../megatron/types.js';
import { MODEL_TYPES } from '../megatron/types.js';
import * as T from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';
import type { View } from '../tensor/view.js';
import { type TrtDType, TRT_DTYPES, trtllmConfig, type ConfigModelOptions } from './config.js';
import { type ConversionDict, mergeConversionDict } from './conversion-dict.js';
import { helperActivationFor } from './activation.js';
import { convertRankShard, ON_DEVICE_MODEL_TYPES, type ParallelState } from './distributed.js';
import { allRanks, type RankMapping, rankMapping } from './mapping.js';
import { type PyJson, pyJsonDump } from '../export/pyjson.js';
import { planRankTensors, sortLikeSafetensors, weightsForRank } from './rank-weights.js';
import { checkTensorParallel, type ConvertedWeight, convertWeights, padVocabSize } from './rules.js';
import { selectTrtllmFamily } from './arch/modern.js';
import { qwenConfigFields, qwenStateDict } from './arch/qwen.js';
import { isGated } from './activation.js';
import { applyFp8, type Fp8Options, fp8Quantization } from './fp8.js';
import { helperBuildAndSaveEngine, type BuildEngineControl, type EngineBuildResult, type HelperBuildInput, type MegatronBuildArgs } from '../engine/index.js';
import type { TrtllmPretrainedConfig, TrtllmRankWeights } from './helper-types.js';

export type { TrtllmPretrainedConfig, TrtllmRankWeights } from './helper-types.js';

/** Megatron's ExportConfig (camelCase): the inference layout to convert to. */
export interface ExportConfig {
  readonly inferenceTpSize?: number;
  readonly inferencePpSize?: number;
  readonly useParallelEmbedding?: boolean;
  /** 0 = vocabulary rows (Megatron's only choice), 1 = hidden columns */
  readonly embeddingShardingDim?: 0 | 1;
}

/** TRTLLMHelper's constructor options, as Megatron's (camelCase). */
export interface TRTLLMHelperOptions {
  readonly transformerConfig: TransformerConfig;
  readonly modelType: ModelType;
  /** extra Megatron-name → TRTLLMLayers-name entries, merged over the default dictionary */
  readonly trtllmConversionDict?: Readonly<Record<string, string>>;
  readonly positionEmbeddingType?: 'learned_absolute' | 'rope';
  readonly maxPositionEmbeddings?: number | null;
  readonly rotaryPercentage?: number;
  readonly rotaryBase?: number;
  readonly ropeScalingFactor?: number;
  readonly moeTpMode?: number;
  readonly multiQueryMode?: boolean;
  readonly activation?: string;
  readonly seqLenInterpolationFactor?: number | null;
  readonly moeRenormMode?: number | null;
  readonly shareEmbeddingsAndOutputWeights?: boolean;
  /**
   * QK-layernorm models go to TensorRT-LLM's QWen, whose q/k norms use a fixed epsilon of 1e-5: a model trained
   * with another one is refused (E_UNSUPPORTED) unless this accepts the small difference in the logits.
   */
  readonly acceptQkNormEpsilon?: boolean;
}

export interface GetWeightsOptions {
  /** logical tensors named as in a Megatron state dict (the whole model; for on-device conversion this rank's shard) */
  readonly modelStateDict: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;
  readonly dtype: TrtDType;
  readonly exportConfig?: ExportConfig;
  readonly onDeviceDistributedConversion?: boolean;
  /** tokenizer vocabulary; required for on-device conversion, refused otherwise (as Megatron) */
  readonly vocabSize?: number;
  readonly gpusPerNode?: number;
  /** false: per-layer tensors are stacked `[numLayers, ...]` under names without a layer number */
  readonly stateDictSplitByLayerNumbers?: boolean;
  /** on-device conversion: this rank's place (Megatron reads it from parallel_state) */
  readonly parallelState?: ParallelState;
  /**
   * Byte-identical to Megatron's converter, including where its output is wrong for TensorRT-LLM 1.x (no lm_head
   * for tied embeddings, layernorm-1p's +1 in the parameter dtype, GPT `bias` without zero biases, config
   * `vocab_size` padded to TP). Default false: what TensorRT-LLM loads and computes right.
   */
  readonly megatronCompat?: boolean;
  /** Megatron's `fp8_quantized`: FP8 weights with the scaling factors of Transformer Engine's `_extra_state` */
  readonly fp8Quantized?: boolean;
  /** Megatron's `fp8_kvcache`: FP8 KV cache (a 1.0 `kv_cache_scaling_factor` per layer) */
  readonly fp8Kvcache?: boolean;
  /** the `_extra_state` entries FP8 scales are read from (Checkpoint.extraState; Megatron finds them in the state dict) */
  readonly extraState?: ReadonlyMap<string, () => unknown>;
}

function toMap(sd: GetWeightsOptions['modelStateDict']): Map<string, Tensor> {
  return sd instanceof Map ? new Map(sd) : new Map(Object.entries(sd as Record<string, Tensor>));
}

/** The constructor options a transformerConfig implies (undefined where it says nothing usable). */
function helperDefaultsFrom(c: TransformerConfig): {
  positionEmbeddingType: 'learned_absolute' | 'rope' | undefined;
  maxPositionEmbeddings: number | undefined;
  rotaryPercentage: number | undefined;
  rotaryBase: number | undefined;
  activation: string | undefined;
} {
  const pe = c.positionEmbeddingType === 'rope' || c.positionEmbeddingType === 'learned_absolute' ? c.positionEmbeddingType : undefined;
  const rope = pe === 'rope';
  return {
    positionEmbeddingType: pe,
    maxPositionEmbeddings: Number.isInteger(c.maxPositionEmbeddings) && c.maxPositionEmbeddings > 0 ? c.maxPositionEmbeddings : undefined,
    // rotary settings mean nothing without rotary positions: no default from the config, no warning
    rotaryPercentage: rope && typeof c.rotaryPercent === 'number' ? c.rotaryPercent : undefined,
    rotaryBase: rope && typeof c.rotaryBase === 'number' ? c.rotaryBase : undefined,
    activation: typeof c.activation === 'string' && c.activation !== '' ? helperActivationFor(c) : undefined,
  };
}

/**
 * Megatron's TRTLLMHelper in TypeScript: converts a Megatron-Core state dict into TensorRT-LLM weights and
 * configs. Weights come back as copy-plan tensors (lazy views plus casts), so nothing is read or copied until a
 * plan executor writes them.
 */
export class TRTLLMHelper {
  readonly transformerConfig: TransformerConfig;
  readonly modelType: ModelType;
  readonly trtllmConversionDict: ConversionDict;
  readonly positionEmbeddingType: 'learned_absolute' | 'rope';
  readonly maxPositionEmbeddings: number | null;
  readonly rotaryPercentage: number;
  readonly rotaryBase: number;
  readonly ropeScalingFactor: number;
  readonly moeTpMode: number;
  readonly multiQueryMode: boolean;
  readonly activation: string;
  readonly seqLenInterpolationFactor: number | null;
  readonly moeRenormMode: number | null;
  readonly shareEmbeddingsAndOutputWeights: boolean;
  readonly acceptQkNormEpsilon: boolean;

  /** explicit options that contradict the transformerConfig (each also emitted as a process warning) */
  readonly warnings: readonly string[];

  /**
   * Options left out are taken from `transformerConfig` (position embedding type, max positions, rotary
   * percent and base, activation) — a deliberate deviation from Megatron, whose constructor falls back to fixed
   * defaults (learned_absolute, None, 1.0, 10000, gelu) and so silently misdescribes a rope/SwiGLU model.
   * An explicit option that contradicts the config is kept (Megatron semantics) but warned about.
   */
  constructor(o: TRTLLMHelperOptions) {
    if (!o || !o.transformerConfig) fail('E_USAGE', 'TRTLLMHelper needs a transformerConfig');
    if (!MODEL_TYPES.includes(o.modelType)) fail('E_USAGE', `modelType '${String(o.modelType)}' is not one of ${MODEL_TYPES.join(', ')}`);
    const c = o.transformerConfig;
    const fromConfig = helperDefaultsFrom(c);
    const warnings: string[] = [];
    const pick = <K extends keyof typeof fromConfig>(key: K, given: (typeof fromConfig)[K] | undefined): (typeof fromConfig)[K] => {
      const implied = fromConfig[key];
      if (given === undefined) return implied;
      if (implied !== undefined && given !== implied) warnings.push(`${String(key)} ${JSON.stringify(given)} contradicts the transformerConfig, which implies ${JSON.stringify(implied)}`);
      return given;
    };
    const pe = pick('positionEmbeddingType', o.positionEmbeddingType) ?? 'learned_absolute';
    if (pe !== 'learned_absolute' && pe !== 'rope') fail('E_USAGE', `Position embedding type should be one of learned_absolute, rope. You entered ${String(pe)}`);
    this.multiQueryMode = o.multiQueryMode ?? false;
    // Megatron: num_query_groups 0 means one KV head per query head, or a single one in multi-query mode.
    this.transformerConfig = c.numQueryGroups > 0 ? c : { ...c, numQueryGroups: this.multiQueryMode ? 1 : c.numAttentionHeads };
    this.modelType = o.modelType;
    this.trtllmConversionDict = mergeConversionDict(o.trtllmConversionDict);
    this.positionEmbeddingType = pe;
    this.maxPositionEmbeddings = pick('maxPositionEmbeddings', o.maxPositionEmbeddings ?? undefined) ?? null;
    this.rotaryPercentage = pick('rotaryPercentage', o.rotaryPercentage) ?? 1.0;
    this.rotaryBase = pick('rotaryBase', o.rotaryBase) ?? 10000;
    this.ropeScalingFactor = o.ropeScalingFactor ?? 8.0;
    this.moeTpMode = o.moeTpMode ?? 2;
    this.activation = pick('activation', o.activation) ?? 'gelu';
    this.seqLenInterpolationFactor = o.seqLenInterpolationFactor ?? null;
    this.moeRenormMode = o.moeRenormMode ?? null;
    this.shareEmbeddingsAndOutputWeights = o.shareEmbeddingsAndOutputWeights ?? false;
    this.acceptQkNormEpsilon = o.acceptQkNormEpsilon ?? false;
    this.warnings = warnings;
    for (const w of warnings) process.emitWarning(`TRTLLMHelper: ${w}`, { code: 'MCORE_EXPORT_HELPER_OPTION' });
  }

  private modelOptions(): ConfigModelOptions {
    return {
      transformerConfig: this.transformerConfig,
      modelType: this.modelType,
      positionEmbeddingType: this.positionEmbeddingType,
      maxPositionEmbeddings: this.maxPositionEmbeddings,
      rotaryPercentage: this.rotaryPercentage,
      rotaryBase: this.rotaryBase,
      moeTpMode: this.moeTpMode,
      activation: this.activation,
      seqLenInterpolationFactor: this.seqLenInterpolationFactor,
      moeRenormMode: this.moeRenormMode,
      shareEmbeddingsAndOutputWeights: this.shareEmbeddingsAndOutputWeights,
    };
  }

  /**
   * Megatron's `build_and_save_engine` (its argument names and defaults): runs trtllm-build (TensorRT-LLM 1.x) on
   * `checkpointDir`, or on `trtllmModelWeights` + `trtllmModelConfig` written to a temporary directory first.
   * Engine-build code lives in lib/engine/ (megatron.ts, build.ts).
   */
  buildAndSaveEngine(o: HelperBuildInput & MegatronBuildArgs, control?: BuildEngineControl): Promise<EngineBuildResult> {
    return helperBuildAndSaveEngine(o, control);
  }

  /**
   * Megatron's `get_trtllm_pretrained_config_and_model_weights`: `{ weights, configs }`, one entry per output
   * rank (single-device conversion) or one for this rank (on-device conversion).
   */
  getTrtllmPretrainedConfigAndModelWeights(o: GetWeightsOptions): { weights: TrtllmRankWeights[]; configs: TrtllmPretrainedConfig[] } {
    if (!o || !o.modelStateDict) fail('E_USAGE', 'Model state dict is not set');
    if (!TRT_DTYPES.includes(o.dtype)) fail('E_USAGE', `dtype '${String(o.dtype)}' is not one of ${TRT_DTYPES.join(', ')}`);
    let sd = toMap(o.modelStateDict);
    for (const k of [...sd.keys()]) if (k.includes('extra_state')) sd.delete(k);
    if (o.stateDictSplitByLayerNumbers === false) sd = unstackLayers(sd, this.transformerConfig.numLayers);

    const fp8: Fp8Options | undefined = o.fp8Quantized || o.fp8Kvcache ? { quantized: o.fp8Quantized === true, kvCache: o.fp8Kvcache === true, extraState: o.extraState } : undefined;

    if (o.onDeviceDistributedConversion) {
      if (o.vocabSize === undefined) fail('E_USAGE', 'Need to pass in vocabSize for on device conversion');
      if (!(ON_DEVICE_MODEL_TYPES as readonly string[]).includes(this.modelType)) fail('E_UNSUPPORTED', `On device conversion only supported for model types ${ON_DEVICE_MODEL_TYPES.join(', ')}`);
      if (o.exportConfig !== undefined) fail('E_USAGE', 'exportConfig is inferred from the parallel state for on device conversion; load the model in the layout you want and pass its state dict');
      if (o.gpusPerNode === undefined) fail('E_USAGE', 'Need to pass in gpusPerNode for on device conversion');
      const ps = o.parallelState ?? fail('E_USAGE', 'on device conversion needs parallelState { tpRank, tpSize, ppRank, ppSize }');
      checkParallelState(ps);
      if (selectTrtllmFamily(this.transformerConfig, this.modelType, sd).kind !== 'classic') fail('E_UNSUPPORTED', 'on device conversion supports the classic model types only; convert this model on a single device');
      const compat = o.megatronCompat ?? false;
      const shard = convertRankShard(sd, this.trtllmConversionDict, { ...this.ruleBase(o.dtype), megatronCompat: compat }, ps, o.vocabSize);
      // FP8 scales come from this rank's own extra state (stage-local layer numbers, as the shard's)
      const converted = fp8 ? applyFp8(shard, fp8, this.trtllmConversionDict, isGated(this.activation, this.transformerConfig), this.transformerConfig) : shard;
      const mapping = rankMapping(ps.ppRank * ps.tpSize + ps.tpRank, ps.tpSize, ps.ppSize);
      const tensors = planRankTensors(sortLikeSafetensors(converted.map((w) => ({ name: w.name, tensor: w.parts[0]!, dtype: w.dtype, affine: w.affine }))));
      const fields = trtllmConfig(this.modelOptions(), {
        dtype: o.dtype, tpSize: ps.tpSize, ppSize: ps.ppSize, gpusPerNode: o.gpusPerNode, vocabSize: o.vocabSize, useParallelEmbedding: true, embeddingShardingDim: 0, megatronCompat: compat,
      });
      if (fp8) fields['quantization'] = fp8Quantization(fp8);
      return { weights: [{ rank: mapping.rank, mapping, tensors }], configs: [makeConfig(mapping, fields)] };
    }

    if (o.vocabSize !== undefined) fail('E_USAGE', 'vocabSize is inferred from the input layer for single-device conversion; leave it undefined');
    const e = o.exportConfig ?? {};
    return this.convertSingleDevice(sd, {
      dtype: o.dtype,
      tpSize: e.inferenceTpSize ?? 1,
      ppSize: e.inferencePpSize ?? 1,
      useParallelEmbedding: e.useParallelEmbedding ?? false,
      embeddingShardingDim: e.embeddingShardingDim ?? 0,
      gpusPerNode: o.gpusPerNode,
      megatronCompat: o.megatronCompat,
      fp8,
    });
  }

  /** Single-device conversion with the extensions exportTrtllm uses (tokenizer-vocabulary trimming, selected ranks). */
  convertSingleDevice(
    sd: ReadonlyMap<string, Tensor>,
    x: {
      dtype: TrtDType; tpSize: number; ppSize: number; useParallelEmbedding: boolean; embeddingShardingDim: 0 | 1;
      gpusPerNode?: number | undefined; vocabSize?: number | undefined; ranks?: readonly number[] | undefined; megatronCompat?: boolean | undefined;
      fp8?: Fp8Options | undefined;
    },
  ): { weights: TrtllmRankWeights[]; configs: TrtllmPretrainedConfig[] } {
    const c = this.transformerConfig;
    checkTensorParallel(c, x.tpSize);
    if (!Number.isInteger(x.ppSize) || x.ppSize < 1 || x.ppSize > c.numLayers) fail('E_CONFIG', `pipeline-parallel size ${x.ppSize} must be between 1 and the model's ${c.numLayers} layers`);
    if (x.embeddingShardingDim !== 0 && x.embeddingShardingDim !== 1) fail('E_USAGE', `embeddingShardingDim must be 0 or 1, got ${String(x.embeddingShardingDim)}`);
    // modern families (arch/): refused here, before anything is written, or converted for their own class
    const family = selectTrtllmFamily(c, this.modelType, sd, { acceptQkNormEpsilon: this.acceptQkNormEpsilon });
    const plain = convertWeights(family.kind === 'qwen' ? qwenStateDict(sd) : sd, this.trtllmConversionDict, {
      ...this.ruleBase(x.dtype),
      tpSize: x.tpSize,
      useParallelEmbedding: x.useParallelEmbedding,
      embeddingShardingDim: x.embeddingShardingDim,
      vocabSize: x.vocabSize,
      megatronCompat: x.megatronCompat,
      tiedLmHead: !x.megatronCompat,
      family: family.kind,
    });
    const converted = x.fp8 ? applyFp8(plain, x.fp8, this.trtllmConversionDict, isGated(this.activation, c), c) : plain;
    const classic = trtllmConfig(this.modelOptions(), {
      dtype: x.dtype,
      tpSize: x.tpSize,
      ppSize: x.ppSize,
      gpusPerNode: x.gpusPerNode ?? x.tpSize,
      vocabSize: configVocabSize(converted, x),
      useParallelEmbedding: x.useParallelEmbedding,
      embeddingShardingDim: x.embeddingShardingDim,
      megatronCompat: x.megatronCompat,
    });
    const fields =
      family.kind === 'qwen'
        ? qwenConfigFields({ qwenType: family.qwenType, config: c, activation: this.activation, base: classic, stateDict: sd, vocabSize: x.vocabSize, moeRenormMode: this.moeRenormMode })
        : classic;
    if (x.fp8) fields['quantization'] = fp8Quantization(x.fp8);
    const renamePostLayernorm = fields['new_decoder_architecture'] === true ? 'mlp_layernorm' : undefined;
    const mappings = allRanks(x.tpSize, x.ppSize).filter((m) => !x.ranks || x.ranks.includes(m.rank));
    return {
      weights: mappings.map((m) => ({ rank: m.rank, mapping: m, tensors: planRankTensors(weightsForRank(converted, m, c.numLayers, renamePostLayernorm ? { renamePostLayernorm } : {})) })),
      configs: mappings.map((m) => makeConfig(m, fields)),
    };
  }

  private ruleBase(dtype: TrtDType) {
    return { config: this.transformerConfig, modelType: this.modelType, activation: this.activation, dtype };
  }
}

/**
 * config.json `vocab_size`: the vocabulary (the word embedding's rows), from which TensorRT-LLM derives the
 * embedding shard (`ceil(V/tp)` rows) and lm_head (`pad(V, tp)` rows) shapes (TRT:`layers/embedding.py`
 * Embedding, `models/llama/model.py` LLaMAForCausalLM). Megatron instead writes the rows after parallel-embedding
 * padding, padded to a multiple of TP when an lm_head exists, which TensorRT-LLM refuses when V % tp ≠ 0.
 */
function configVocabSize(converted: readonly ConvertedWeight[], x: { tpSize: number; useParallelEmbedding: boolean; embeddingShardingDim: 0 | 1; megatronCompat?: boolean | undefined }): number {
  const emb = converted.find((w) => w.name === 'transformer.vocab_embedding.weight') ?? fail('E_NOT_FOUND', 'the checkpoint has no word embeddings', { tensor: 'embedding.word_embeddings.weight' });
  if (!x.megatronCompat) return emb.vocabRows ?? emb.parts[0]!.shape[0]!;
  const rows = emb.split && x.embeddingShardingDim === 0 ? emb.parts[0]!.shape[0]! * x.tpSize : emb.parts[0]!.shape[0]!;
  const hasLmHead = converted.some((w) => w.name === 'lm_head.weight');
  return hasLmHead ? padVocabSize(rows, x.tpSize) : rows;
}

/** A rank's config.json: its fields, written as Megatron's tooling writes them. */
export function makeConfig(mapping: RankMapping, fields: { [k: string]: PyJson }): TrtllmPretrainedConfig {
  return { rank: mapping.rank, mapping, fields, toJson: () => pyJsonDump(fields) };
}

function checkParallelState(ps: ParallelState): void {
  const ok = (n: number, lo: number, hi: number) => Number.isInteger(n) && n >= lo && n < hi;
  if (!ok(ps.tpSize, 1, Infinity) || !ok(ps.ppSize, 1, Infinity) || !ok(ps.tpRank, 0, ps.tpSize) || !ok(ps.ppRank, 0, ps.ppSize)) {
    fail('E_USAGE', `parallelState ${JSON.stringify({ tpRank: ps.tpRank, tpSize: ps.tpSize, ppRank: ps.ppRank, ppSize: ps.ppSize })} is not a valid rank`);
  }
}

/** `decoder.layers.x` stacked [L, ...] → `decoder.layers.<l>.x` per layer (state_dict_split_by_layer_numbers=false). */
function unstackLayers(sd: Map<string, Tensor>, numLayers: number): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of sd) {
    if (!name.includes('layers.')) {
      out.set(name, t);
      continue;
    }
    if (t.shape[0] !== numLayers) fail('E_SHAPE', `stacked per-layer tensor has ${t.shape[0]} layers, expected ${numLayers}`, { tensor: name });
    const i = name.indexOf('layers.') + 7;
    for (let l = 0; l < numLayers; l++) out.set(`${name.slice(0, i)}${l}.${name.slice(i)}`, selectFirst(t, l));
  }
  return out;
}

function selectFirst(t: Tensor, index: number): Tensor {
  const rest = t.shape.slice(1);
  const n = narrowFirst(t, index);
  return { dtype: t.dtype, shape: rest, blocks: n.blocks.map((b) => ({ at: b.at.slice(1), view: dropFirst(b.view) })) };
}

function narrowFirst(t: Tensor, index: number): Tensor {
  return T.narrow(t, 0, index, 1);
}

function dropFirst(v: View): View {
  return { ...v, shape: v.shape.slice(1), strides: v.strides.slice(1) };
}
