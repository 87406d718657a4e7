import type { DType } from '../tensor/dtype.js';
import { contiguousStrides } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Affine, PlanTensor } from './plan.js';

/** The plan entry that writes logical tensor `t`, cast to `dtype`, as output tensor `name` (one piece per block). */
export function planTensor(name: string, t: Tensor, dtype: DType, affine?: Affine): PlanTensor {
  const outStrides = contiguousStrides(t.shape);
  const pieces = t.blocks.map((b) => ({
    dstOffset: b.at.reduce((acc, a, i) => acc + a * outStrides[i]!, 0),
    dstStrides: outStrides,
    src: b.view,
    ...(affine ? { affine } : {}),
  }));
  return { name, dtype, shape: [...t.shape], pieces };
}
