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

/** A logical weight matrix [rows, cols] (rows = output channels), read through pieces that together cover a
 *  dense row-major [rows, cols]; never written itself, only quantized (its values and scales tensors). */
export interface QuantSource {
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  readonly pieces: readonly PlanPiece[];
}

/** int8 / int4: symmetric integers (offset-binary codes, int4 two per byte); fp8: float8_e4m3fn. */
export type QuantKind = 'int8' | 'int4' | 'fp8';

/** How a quantized tensor is computed (native/src/quant_core.h has the formulas). */
export interface PlanQuant {
  /** 'values': the codes, row-major [rows, cols] (int4: [rows, cols / 2] bytes); 'scales': one per block, row-major */
  readonly role: 'values' | 'scales';
  readonly source: QuantSource;
  readonly kind: QuantKind;
  /** [blockRows, blockCols]: [1, cols] per channel, [1, G] per group, [128, 128] per block */
  readonly block: readonly [number, number];
  /** float32, bfloat16 or float16: what the scales tensor holds (the values are computed with the stored scale) */
  readonly scaleDtype: DType;
}

/** One named tensor of an output file, built from pieces that together cover it, or (quant) computed. */
export interface PlanTensor {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly pieces: readonly PlanPiece[];
  /** a quantized tensor: `pieces` is empty, the bytes come from `quant.source` */
  readonly quant?: PlanQuant;
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
