import type { DType } from '../tensor/dtype.js';
import type { View } from '../tensor/view.js';

/**
 * Arithmetic applied on the way: `r = round_to_source_dtype(x + add)` (as Megatron's `bf16_tensor + 1.0`
 * does), then `y = cast_to_output_dtype(float(r) * mul)` (fp8 scaling). Either may be absent.
 */
export interface Affine {
  readonly add?: number;
  readonly mul?: number;
}

/** One strided source written into an output tensor. */
export interface PlanPiece {
  /** where the piece's first element lands, in elements of the output tensor */
  readonly dstOffset: number;
  /** output strides (elements) for each of src.shape's dims */
  readonly dstStrides: readonly number[];
  readonly src: View;
  readonly affine?: Affine;
}

/** One named tensor of an output file, built from pieces that together cover it. */
export interface PlanTensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly pieces: readonly PlanPiece[];
}

/** One output file (a safetensors file): its tensors in the order they are laid out. */
export interface PlanFile {
  readonly path: string;
  readonly tensors: readonly PlanTensor[];
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface CopyPlan {
  readonly files: readonly PlanFile[];
}
