import type { ModelType, TransformerConfig } from '../megatron/types.js';
import * as T from '../tensor/tensor.js';
import { isGptClass, isLlamaClass } from './model-types.js';
import type { ConvertedWeight } from './converted-weight.js';

/**
 * Which bias parameters a TensorRT-LLM 1.x model class declares, by group. GPT (TRT:`models/gpt/model.py`
 * GPTDecoderLayer) passes its one `bias` flag to Attention (qkv and dense) and to the MLP (fc, gate, proj), and its
 * LayerNorms always have a bias (TRT:`layers/normalization.py` LayerNorm). LLaMA (TRT:`models/llama/model.py`
 * LLaMADecoderLayer) passes `attn_bias` to Attention, whose dense bias follows it (TRT:`layers/attention.py`,
 * `dense_bias=None → bias`), and `mlp_bias` to the GatedMLP; RmsNorm has no bias.
 */
export interface BiasFlags {
  readonly attention: boolean;
  readonly mlp: boolean;
  readonly norms: boolean;
}

/** The flags config.json gets for a model, or null for architectures whose biases are left as the checkpoint has them. */
export function trtBiasFlags(modelType: ModelType, c: Pick<TransformerConfig, 'addBiasLinear' | 'addQkvBias'>): BiasFlags | null {
  const any = c.addBiasLinear || c.addQkvBias;
  if (isGptClass(modelType)) return { attention: any, mlp: any, norms: true };
  if (isLlamaClass(modelType)) return { attention: any, mlp: c.addBiasLinear, norms: false };
  return null;
}

/** weight-name suffix → [flag group, column-parallel (bias split with the weight) or not] */
const BIAS_OF: readonly [string, keyof BiasFlags, boolean][] = [
  ['.attention.qkv.weight', 'attention', true],
  ['.attention.dense.weight', 'attention', false],
  ['.mlp.fc.weight', 'mlp', true],
  ['.mlp.gate.weight', 'mlp', true],
  ['.mlp.proj.weight', 'mlp', false],
  ['.input_layernorm.weight', 'norms', false],
  ['.post_layernorm.weight', 'norms', false],
  ['transformer.ln_f.weight', 'norms', false],
];

/**
 * Zero biases for every bias the model class declares (per `flags`) that the checkpoint does not have, e.g. the
 * dense/fc/proj biases of a GPT with a QKV bias only: TensorRT-LLM refuses a checkpoint that lacks a declared
 * parameter, and a zero bias computes what no bias computes. Column-parallel biases are split like their weight,
 * row-parallel ones (added once after the all-reduce) and norm biases are whole. Dense (2-D) weights only.
 */
export function zeroMissingBiases(weights: readonly ConvertedWeight[], flags: BiasFlags): ConvertedWeight[] {
  const names = new Set(weights.map((w) => w.name));
  const out: ConvertedWeight[] = [];
  for (const w of weights) {
    const rule = BIAS_OF.find(([suffix]) => w.name.endsWith(suffix));
    if (!rule || !flags[rule[1]] || w.parts[0]!.shape.length > 2) continue;
    const bias = w.name.slice(0, -'weight'.length) + 'bias';
    if (names.has(bias)) continue;
    const column = rule[2];
    const parts = (column ? w.parts : w.parts.slice(0, 1)).map((p) => T.zeros(p.dtype, [p.shape[0]!]));
    out.push({ name: bias, layer: w.layer, parts, split: column && w.split, dtype: w.dtype });
  }
  return out;
}
