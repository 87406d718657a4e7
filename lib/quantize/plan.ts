// The plan entries of one quantized weight: its codes and its scales, both computed by the native executor from
// the same logical source (the weight's pieces, read once per block row).
import { fail } from '../errors.js';
import { itemsize as dtypeItemsize, type DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { planTensor } from '../plan/from-tensor.js';
import type { Affine, PlanTensor, QuantKind, QuantSource } from '../plan/plan.js';
import type { ResolvedQuantize } from './scheme.js';

export interface QuantizedWeight {
  /** row-major codes: int8/fp8 [rows, cols] bytes, int4 [rows, cols / 2] bytes; typed as `valuesDtype` */
  readonly values: PlanTensor;
  readonly scales: PlanTensor;
}

export interface QuantizedNames {
  readonly values: string;
  readonly scales: string;
  /** how the codes are typed in the file (int32 words for compressed-tensors' packing, fp8 or int8 bytes) */
  readonly valuesDtype: DType;
  readonly scaleDtype: DType;
  /** the scales tensor's shape, given [blockRows count, blocks per row] */
  readonly scaleShape?: (blockRowCount: number, blocksPerRow: number) => number[];
}

const BYTES_PER_ELEMENT: Readonly<Record<QuantKind, number>> = { int8: 1, int4: 0.5, fp8: 1 };

/** Plans a 2-D weight [rows, cols] quantized by `q` under `names`; E_UNSUPPORTED when its shape does not fit. */
export function planQuantized(name: string, t: Tensor, q: ResolvedQuantize, names: QuantizedNames, affine?: Affine): QuantizedWeight {
  return quantizePlanned(planTensor(name, t, 'float32', affine), q, names);
}

/** The same for a weight already planned (any output dtype: its pieces say where each element comes from). */
export function quantizePlanned(planned: PlanTensor, q: ResolvedQuantize, names: QuantizedNames): QuantizedWeight {
  const name = planned.name;
  if (planned.shape.length !== 2 || planned.quant) fail('E_UNSUPPORTED', `${name}: only 2-D weights can be quantized, this one is [${planned.shape.join(', ')}]`);
  const [rows, cols] = planned.shape as [number, number];
  const blockRows = q.block[0];
  const blockCols = q.block[1] === 0 ? cols : q.block[1];
  const valueBytesPerRow = cols * BYTES_PER_ELEMENT[q.kind];
  const itemsize = dtypeItemsize(names.valuesDtype);
  if (!Number.isInteger(valueBytesPerRow) || valueBytesPerRow % itemsize !== 0) {
    fail('E_UNSUPPORTED', `${name}: ${cols} columns do not pack into whole ${names.valuesDtype} words for ${q.scheme}`);
  }
  if (q.kind === 'int4' && cols % blockCols !== 0) fail('E_UNSUPPORTED', `${name}: ${cols} columns are not a multiple of the group size ${blockCols}`);
  const source: QuantSource = { name, rows, cols, pieces: planned.pieces };
  const blockRowCount = Math.ceil(rows / blockRows);
  const blocksPerRow = Math.ceil(cols / blockCols);
  const common = { source, kind: q.kind, block: [blockRows, blockCols] as const, scaleDtype: names.scaleDtype };
  return {
    values: { name: names.values, dtype: names.valuesDtype, shape: [rows, valueBytesPerRow / itemsize], pieces: [], quant: { role: 'values', ...common } },
    scales: {
      name: names.scales,
      dtype: names.scaleDtype,
      shape: names.scaleShape ? names.scaleShape(blockRowCount, blocksPerRow) : [blockRowCount, blocksPerRow],
      pieces: [],
      quant: { role: 'scales', ...common },
    },
  };
}
