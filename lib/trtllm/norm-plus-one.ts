import { loadNative } from '../native.js';
import { DTYPES } from '../tensor/dtype.js';
import { materialize } from '../tensor/read.js';
import type { Tensor } from '../tensor/tensor.js';
import { fromView } from '../tensor/tensor.js';
import { memoryView } from '../tensor/view.js';

/**
 * Zero-centred norm weights (layernorm-1p, Gemma-style RMSNorm) as TensorRT-LLM needs them: `1 + g` computed in
 * float32, so that the export's cast rounds it once to the output dtype. (Megatron adds 1 in the parameter dtype,
 * which leaves a float32/float16 export with a bf16-rounded `1 + g`.) Norm weights are one row of `hidden`
 * values, so they are read here and handed to the plan as a small float32 buffer.
 */
export function plusOneInFloat32(t: Tensor): Tensor {
  const native = loadNative();
  const wide = native.convertBuffer(materialize(t), DTYPES[t.dtype].code, DTYPES.float32.code);
  // float32 → float32 with `add`: the addition happens in float32 and nothing is rounded to a narrower type
  const sum = native.convertBuffer(wide, DTYPES.float32.code, DTYPES.float32.code, 1);
  return fromView(memoryView(sum, 'float32', t.shape));
}
