import type { Args } from '../megatron/config.js';
import type { ModelType, TransformerConfig } from '../megatron/types.js';
import type { Affine } from '../plan/plan.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import type { PyJson } from '../export/pyjson.js';
import type { SourceTensors } from './source.js';

/** One tensor of the Hugging Face state dict, as a lazy view of checkpoint bytes. */
export interface HfTensor {
  readonly name: string;
  readonly tensor: Tensor;
  /** arithmetic on the way (only a norm weight's ±1 when the two conventions differ) */
  readonly affine?: Affine;
  /** written in this dtype whatever the export dtype (the float32 routing bias of DeepSeek-style routers) */
  readonly dtype?: HfDType;
}

/** What a conversion rule produces: the transformers config (without dtype) and the state dict. */
export interface HfModel {
  readonly architecture: string;
  readonly modelType: string;
  /** transformers config fields; floats marked (PyFloat) so they serialise as Python floats, which transformers' strict configs require */
  readonly config: Readonly<Record<string, PyJson>>;
  readonly tensors: readonly HfTensor[];
  /** what was deliberately left out of the export, for the summary (multi-token-prediction layers) */
  readonly notes?: readonly string[];
}

/** Everything a rule may read. */
export interface HfRuleContext {
  readonly cfg: TransformerConfig;
  /** the checkpoint's Megatron args (fusion flags decide the exact GELU), null when unknown */
  readonly args: Args | null;
  /** vocabulary rows kept: the tokenizer's vocab when args give it, else the padded size */
  readonly vocab: number;
  readonly src: SourceTensors;
  readonly where: string;
}

export type HfRule = (ctx: HfRuleContext) => HfModel;

export interface HfConvertInput {
  readonly config: TransformerConfig;
  readonly modelType: ModelType;
  readonly tensors: ReadonlyMap<string, Tensor>;
  readonly args?: Args | null;
  /** vocabulary size to keep (default: config.vocabSize, else the padded size) */
  readonly vocabSize?: number;
  /** where the tensors came from, for error messages */
  readonly where?: string;
}

export type HfDType = Extract<DType, 'float32' | 'float16' | 'bfloat16'>;
