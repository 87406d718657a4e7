// Quantized TensorRT-LLM 1.x checkpoints (the `quantization` block of config.json and the rank files):
//   fp8-per-channel → quant_algo FP8_PER_CHANNEL_PER_TOKEN: `<linear>.weight` float8_e4m3fn [out, in] and
//     `<linear>.per_channel_scale` float32 [out] (TRT-LLM `quantization/layers.py` Fp8RowwiseLinear /
//     Fp8RowwiseRowLinear parameters); activations are quantized per token at run time (no calibration).
//   int8/int4-weight-only → W8A16 / W4A16 with the weights left in the model dtype: TRT-LLM's loader quantizes
//     them at build time (`models/modeling_utils.py` preprocess_weights → weight_only_quantize_dict, adding
//     `per_channel_scale`). The pre-quantized layout is not portable: the bytes
//     `symmetric_quantize_last_axis_of_batched_matrix` writes are permuted and interleaved for the CUTLASS
//     mixed-GEMM kernels of the building GPU's architecture, so a checkpoint written here could not know them.
//     TRT-LLM's W4A16 is per channel: a group size is refused (group-wise int4 is its AWQ/GPTQ path).
//   fp8-block → refused (no TensorRT-LLM 1.x checkpoint-format loader for it; use the hf command).
// Quantized linears: attention.qkv, attention.dense, mlp.fc, mlp.gate, mlp.proj (the names
// weight_only_quantize_dict matches); lm_head, embeddings, norms and the MoE router never.
import { fail } from '../errors.js';
import type { PyJson } from '../export/pyjson.js';
import type { PlanTensor } from '../plan/plan.js';
import { quantizePlanned } from './plan.js';
import { userExcluded, type ResolvedQuantize } from './scheme.js';

const LINEAR = /\.(attention\.(qkv|dense)|mlp\.(fc|gate|proj))\.weight$/;
/** TRT-LLM's own default exclusions when exclude_modules is null (quantization/quantize.py quantize_layers) */
const TRT_DEFAULT_EXCLUDE = ['*lm_head', '*router', '*vocab_embedding', '*position_embedding', '*block_embedding', '*shared_expert_gate'];

/** Refuses, before anything is planned, what a TensorRT-LLM checkpoint cannot hold. */
export function checkTrtllmScheme(q: ResolvedQuantize, groupSizeGiven: boolean): void {
  if (q.scheme === 'fp8-block') fail('E_UNSUPPORTED', 'fp8-block has no TensorRT-LLM 1.x checkpoint format; use `mcore-export hf --quantize fp8-block`, or fp8-per-channel here');
  if (q.scheme === 'int4-weight-only' && groupSizeGiven) {
    fail('E_UNSUPPORTED', "TensorRT-LLM's W4A16 is per channel; group-wise int4 (W4A16_AWQ/GPTQ) needs calibration data, so --group-size is refused for trtllm");
  }
}

/** config.json's `quantization` block for `q`. */
export function trtllmQuantization(q: ResolvedQuantize, exclude: readonly string[]): Record<string, PyJson> {
  const algo = q.scheme === 'fp8-per-channel' ? 'FP8_PER_CHANNEL_PER_TOKEN' : q.scheme === 'int8-weight-only' ? 'W8A16' : 'W4A16';
  // with user exclusions TRT-LLM's defaults must be listed too: a non-null exclude_modules replaces them
  return { quant_algo: algo, kv_cache_quant_algo: null, ...(exclude.length > 0 ? { exclude_modules: [...TRT_DEFAULT_EXCLUDE, ...exclude] } : {}) };
}

/** One rank's plan tensors with `q` applied (weight-only schemes: unchanged, TRT-LLM quantizes at build time). */
export function quantizeTrtllmRank(tensors: readonly PlanTensor[], q: ResolvedQuantize): PlanTensor[] {
  // weight-only: the weights stay in the model dtype; exclusions reach TRT-LLM through exclude_modules
  if (q.scheme !== 'fp8-per-channel') return [...tensors];
  const out: PlanTensor[] = [];
  for (const t of tensors) {
    if (!LINEAR.test(t.name) || userExcluded(q, t.name)) {
      out.push(t);
      continue;
    }
    if (t.shape.length !== 2) fail('E_UNSUPPORTED', `${t.name}: fp8-per-channel covers 2-D linear weights; this one is [${t.shape.join(', ')}] (MoE experts); exclude it with --quantize-exclude`);
    const module = t.name.replace(/\.weight$/, '');
    const w = quantizePlanned(t, q, { values: t.name, scales: `${module}.per_channel_scale`, valuesDtype: 'float8_e4m3fn', scaleDtype: 'float32', scaleShape: (rows) => [rows] });
    out.push(w.values, w.scales);
  }
  return out;
}
