// Quantized Hugging Face checkpoints:
//   int8/int4 weight-only → compressed-tensors `pack-quantized` (what vLLM and SGLang load as WNA16):
//     `<m>.weight_packed` int32 [rows, cols·bits/32], `<m>.weight_scale` [rows, groups] in the model dtype,
//     `<m>.weight_shape` int64 [2]; `quantization_config.quant_method = "compressed-tensors"`
//     (compressed-tensors `compressors/quantized_compressors/pack_quantized.py`, `quantization/quant_args.py`)
//   fp8-block → `<m>.weight` float8_e4m3fn, `<m>.weight_scale_inv` float32 [⌈rows/128⌉, ⌈cols/128⌉],
//     `quantization_config = {quant_method: "fp8", weight_block_size: [128, 128], activation_scheme: "dynamic"}`
//     (DeepSeek-V3 / Qwen3-FP8; transformers `FineGrainedFP8Config`)
// lm_head, embeddings, norms and MoE routers are never quantized; neither is what --quantize-exclude names.
import { fail } from '../errors.js';
import { memoryView } from '../tensor/view.js';
import type { Tensor } from '../tensor/tensor.js';
import type { PyJson } from '../export/pyjson.js';
import { planTensor } from '../plan/from-tensor.js';
import type { Affine, PlanTensor } from '../plan/plan.js';
import type { HfDType } from '../hf/types.js';
import { planQuantized } from './plan.js';
import { FP8_BLOCK, userExcluded, type ResolvedQuantize } from './scheme.js';

/** Weights that are not Linear layers, or Linear layers left in full precision by default (routers, lm_head). */
const HF_NEVER = [/(^|\.)lm_head\.weight$/, /embed/, /norm/, /\.mlp\.gate\.weight$/, /\.block_sparse_moe\.gate\.weight$/, /shared_expert_gate/, /router/];

export interface HfQuantized {
  readonly tensors: PlanTensor[];
  readonly quantizationConfig: Record<string, PyJson>;
}

function isLinearWeight(name: string, t: Tensor): boolean {
  return name.endsWith('.weight') && t.shape.length === 2 && !/embed|norm/.test(name);
}

/** Refuses, before anything is planned, a scheme the Hugging Face formats here cannot hold. */
export function checkHfScheme(q: ResolvedQuantize): void {
  if (q.scheme === 'fp8-per-channel') {
    fail('E_UNSUPPORTED', 'fp8-per-channel is a TensorRT-LLM format (FP8_PER_CHANNEL_PER_TOKEN); for Hugging Face use fp8-block, int8-weight-only or int4-weight-only');
  }
}

/** The plan tensors of an HF export with `q` applied, and the `quantization_config` for config.json. */
export function planHfQuantized(
  tensors: readonly { name: string; tensor: Tensor; affine?: Affine | undefined; dtype?: HfDType | undefined }[],
  modelDtype: 'float32' | 'float16' | 'bfloat16',
  q: ResolvedQuantize,
): HfQuantized {
  checkHfScheme(q);
  const out: PlanTensor[] = [];
  const skipped: string[] = [];
  for (const { name, tensor, affine, dtype } of tensors) {
    const module = name.replace(/\.weight$/, '');
    const quantize = isLinearWeight(name, tensor) && !HF_NEVER.some((re) => re.test(name)) && !userExcluded(q, name);
    if (!quantize) {
      if (isLinearWeight(name, tensor)) skipped.push(module);
      out.push(planTensor(name, tensor, dtype ?? modelDtype, affine)); // own dtype: e.g. a float32 routing bias
      continue;
    }
    if (q.kind === 'fp8') {
      const w = planQuantized(name, tensor, q, { values: name, scales: `${module}.weight_scale_inv`, valuesDtype: 'float8_e4m3fn', scaleDtype: 'float32' }, affine);
      out.push(w.values, w.scales);
    } else {
      const w = planQuantized(name, tensor, q, { values: `${module}.weight_packed`, scales: `${module}.weight_scale`, valuesDtype: 'int32', scaleDtype: modelDtype }, affine);
      const shape = new Uint8Array(new BigInt64Array(tensor.shape.map(BigInt)).buffer);
      out.push(w.values, w.scales, { name: `${module}.weight_shape`, dtype: 'int64', shape: [2], pieces: [{ dstOffset: 0, dstStrides: [1], src: memoryView(shape, 'int64', [2]) }] });
    }
  }
  return { tensors: out, quantizationConfig: q.kind === 'fp8' ? fp8BlockConfig(skipped) : compressedTensorsConfig(q, skipped) };
}

function fp8BlockConfig(skipped: string[]): Record<string, PyJson> {
  return {
    quant_method: 'fp8',
    fmt: 'e4m3',
    activation_scheme: 'dynamic',
    weight_block_size: [FP8_BLOCK, FP8_BLOCK],
    ...(skipped.length > 0 ? { modules_to_not_convert: skipped } : {}),
  };
}

// compressed-tensors' QuantizationConfig / QuantizationArgs as its own `save_pretrained` writes them
function compressedTensorsConfig(q: ResolvedQuantize, skipped: string[]): Record<string, PyJson> {
  const bits = q.kind === 'int4' ? 4 : 8;
  const weights: Record<string, PyJson> = {
    num_bits: bits,
    type: 'int',
    symmetric: true,
    strategy: q.groupSize !== undefined ? 'group' : 'channel',
    group_size: q.groupSize ?? null,
    dynamic: false,
    actorder: null,
    observer: 'minmax',
    observer_kwargs: {},
    block_structure: null,
  };
  return {
    quant_method: 'compressed-tensors',
    format: 'pack-quantized',
    quantization_status: 'compressed',
    config_groups: {
      group_0: { targets: ['Linear'], weights, input_activations: null, output_activations: null, format: 'pack-quantized' },
    },
    ignore: skipped,
    kv_cache_scheme: null,
    global_compression_ratio: null,
  };
}
