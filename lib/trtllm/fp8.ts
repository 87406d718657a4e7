// Megatron's FP8 TensorRT-LLM export (megatron/core/export/trtllm, commit d98e8a64) for checkpoints trained with
// Transformer Engine FP8: `TRTLLMHelper._load_scaling_factors`, `_add_scales_to_converter`, the converters'
// `_cast_value` and the config's `quantization` block.
import { fail } from '../errors.js';
import { decodeTeExtraState } from '../megatron/te-extra-state.js';
import type { TransformerConfig } from '../megatron/types.js';
import type { PyJson } from '../export/pyjson.js';
import * as T from '../tensor/tensor.js';
import { memoryView } from '../tensor/view.js';
import type { ConversionDict } from './conversion-dict.js';
import { splitLayerNumber, TRTLLMLayers, withLayerNumber } from './layers.js';
import type { ConvertedWeight } from './rules.js';

export interface Fp8Options {
  /** `fp8_quantized`: FP8 weights scaled by the checkpoint's Transformer Engine scaling factors */
  readonly quantized: boolean;
  /** `fp8_kvcache`: FP8 KV cache, with a constant 1.0 `kv_cache_scaling_factor` per layer */
  readonly kvCache: boolean;
  /** the checkpoint's `_extra_state` entries (Checkpoint.extraState) */
  readonly extraState?: ReadonlyMap<string, () => unknown> | undefined;
}

/** One scaling factor: what TensorRT-LLM gets (scale_inv) and what multiplies the weight before the cast (scale). */
export interface Fp8Scale {
  readonly trtScale: number;
  readonly weightMultiplier: number;
}

/**
 * `_load_scaling_factors`: every module's `_extra_state` (attention's `core_attention` excepted) named as its
 * weight's TensorRT-LLM name, with slot 0 (input) as `activation_scaling_factor` and slot 1 (weight) as
 * `weights_scaling_factor`; a gated MLP's fc scales serve its gate too. Keys carry layer numbers.
 */
export function loadScalingFactors(extraState: Fp8Options['extraState'], dict: ConversionDict, gated: boolean): Map<string, Fp8Scale> {
  const scales = new Map<string, Fp8Scale>();
  for (const [key, read] of extraState ?? []) {
    if (!key.includes('._extra_state') || key.endsWith('core_attention._extra_state')) continue;
    const state = decodeTeExtraState(read(), key);
    if (!state) continue;
    const mock = `${key.split('._extra_state')[0]}.weight`;
    const { base, layer: number } = splitLayerNumber(mock);
    const layer = dict[base];
    if (layer === undefined) fail('E_UNSUPPORTED', `FP8 state of '${key}': no TensorRT-LLM layer for '${base}'`, { tensor: key });
    const trt = number === null ? TRTLLMLayers[layer] : withLayerNumber(TRTLLMLayers[layer], number);
    const activation = { trtScale: state.scaleInvFwd[0]!, weightMultiplier: state.scaleFwd[0]! };
    const weight = { trtScale: state.scaleInvFwd[1]!, weightMultiplier: state.scaleFwd[1]! };
    const actKey = trt.replaceAll('.weight', '.activation_scaling_factor');
    const wKey = trt.replaceAll('.weight', '.weights_scaling_factor');
    scales.set(actKey, activation);
    scales.set(wKey, weight);
    if (gated && trt.includes('.mlp.fc')) {
      scales.set(actKey.replaceAll('fc', 'gate'), activation);
      scales.set(wKey.replaceAll('fc', 'gate'), weight);
    }
  }
  return scales;
}

/**
 * Applies FP8 to converted weights: each per-layer weight with a `weights_scaling_factor` becomes
 * `float8_e4m3fn(float32(W) * scale_fwd[1])` (`_cast_value`; the native cast saturates at ±448 as torch's does);
 * the scaling factors (float32 [1], on every TP rank of the layer's stage) and, with `kvCache`, a 1.0
 * `kv_cache_scaling_factor` per attention layer are added. Embeddings, lm_head, norms and biases keep the model
 * dtype. Megatron also adds scales of non-layer modules and then fails on them; those are left out here.
 */
export function applyFp8(converted: readonly ConvertedWeight[], o: Fp8Options, dict: ConversionDict, gated: boolean, config: TransformerConfig): ConvertedWeight[] {
  if (!o.quantized && !o.kvCache) return [...converted];
  const scales = o.quantized ? loadScalingFactors(o.extraState, dict, gated) : new Map<string, Fp8Scale>();
  if (o.quantized) {
    if ((config.numMoeExperts ?? 0) > 0) fail('E_UNSUPPORTED', 'FP8 export of MoE models: Megatron cannot name expert scaling factors and neither do we');
    if (![...scales.keys()].some((k) => k.endsWith('.weights_scaling_factor'))) {
      fail(
        'E_CONFIG',
        o.extraState
          ? 'fp8Quantized needs a checkpoint trained with Transformer Engine FP8: no layer has FP8 scaling factors in its _extra_state'
          : 'fp8Quantized needs the FP8 scaling factors of the checkpoint (Transformer Engine _extra_state); they are read from torch_dist and TP1 PP1 legacy checkpoints',
      );
    }
  }
  const out: ConvertedWeight[] = converted.map((w) => {
    if (w.layer === null || !w.name.endsWith('weight')) return w;
    const s = scales.get(`${w.name.split('.').slice(0, -1).join('.')}.weights_scaling_factor`);
    return s ? { ...w, dtype: 'float8_e4m3fn', affine: { ...w.affine, mul: s.weightMultiplier } } : w;
  });
  for (const [name, s] of scales) {
    const layer = splitLayerNumber(name).layer;
    if (layer !== null) out.push(scalar(name, layer, s.trtScale));
  }
  if (o.kvCache) {
    for (const w of converted) {
      if (w.layer !== null && w.name.includes('.attention.qkv.weight')) out.push(scalar(`${w.name.split('.qkv')[0]}.kv_cache_scaling_factor`, w.layer, 1.0));
    }
  }
  return out;
}

function scalar(name: string, layer: number, value: number): ConvertedWeight {
  const bytes = new Uint8Array(Float32Array.of(value).buffer);
  return { name, layer, parts: [T.fromView(memoryView(bytes, 'float32', [1]))], split: false, dtype: 'float32' };
}

/** The config's `quantization` block as Megatron's `_get_trtllm_config` writes it. */
export function fp8Quantization(o: Pick<Fp8Options, 'quantized' | 'kvCache'> | undefined): { [k: string]: PyJson } {
  return { quant_algo: o?.quantized ? 'FP8' : null, kv_cache_quant_algo: o?.kvCache ? 'FP8' : null };
}
