// The unit the conversion rules produce (rules.ts) and the bias, FP8 and rank steps take (biases.ts, fp8.ts,
// rank-weights.ts): in a module of its own so those steps need not import the rules back.
import type { Affine } from '../plan/plan.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/** One converted TensorRT-LLM weight: a tensor shared by every TP rank, or one tensor per TP rank. */
export interface ConvertedWeight {
  /** TensorRT-LLM name; per-layer weights carry the global layer number */
  readonly name: string;
  readonly layer: number | null;
  readonly parts: readonly Tensor[];
  readonly split: boolean;
  readonly dtype: DType;
  readonly affine?: Affine | undefined;
  /** word embeddings: the vocabulary rows before any parallel-embedding padding */
  readonly vocabRows?: number | undefined;
}
