// torch_dist keys → the names a TP1 PP1 legacy state dict uses, so every later stage sees one naming scheme.
// torch_dist stores homogeneous decoder layers stacked on a leading axis (`decoder.layers.X` of shape [L, ...])
// and experts stacked on the next one (`decoder.layers.mlp.experts.experts.linear_fc1.weight` [L, E, ...]);
// the local (non-TE) spec also renames its norms to the TE fused names. Both are undone here.
import { fail } from '../errors.js';
import { fmtShape } from '../tensor/shape.js';
import type { Block, Tensor } from '../tensor/tensor.js';
import type { View } from '../tensor/view.js';

export interface DcpNaming {
  numLayers: number;
  /** args.transformer_impl == 'local': norms were renamed to the TE fused names on save */
  localSpec: boolean;
  /** args.moe_grouped_gemm: experts are TEGroupedMLP (`linear_fc1.weight<e>`), else SequentialMLP (`local_experts.<e>.`) */
  groupedGemm: boolean;
}

/** The local spec's sharded-state-dict renames, reversed (Megatron gpt_layer_specs: input/pre-MLP norm → fused LN keys). */
const LOCAL_SPEC_RENAMES: readonly [string, string][] = [
  ['self_attention.linear_qkv.layer_norm_weight', 'input_layernorm.weight'],
  ['self_attention.linear_qkv.layer_norm_bias', 'input_layernorm.bias'],
  ['mlp.linear_fc1.layer_norm_weight', 'pre_mlp_layernorm.weight'],
  ['mlp.linear_fc1.layer_norm_bias', 'pre_mlp_layernorm.bias'],
];

const STACKED = /^decoder\.layers\.(?!\d)(.+)$/;
/** Expert weights inside one layer: `mlp.experts.experts.linear_fc1.weight` (SequentialMLP) or `mlp.experts.linear_fc1.weight` (grouped). */
const EXPERTS = /^mlp\.experts\.(?:experts\.)?(linear_fc[12])\.(weight|bias)$/;

/** Splits a tensor along dim 0 into its slices (each of rank - 1), moving blocks without copying. */
export function unstack(t: Tensor, name: string): Tensor[] {
  if (t.shape.length === 0) fail('E_SHAPE', 'cannot unstack a scalar', { tensor: name });
  const n = t.shape[0]!;
  const buckets: Block[][] = Array.from({ length: n }, () => []);
  for (const b of t.blocks) {
    const first = b.at[0]!;
    for (let k = 0; k < b.view.shape[0]!; k++) buckets[first + k]?.push({ at: b.at.slice(1), view: dropLeading(b.view, k) });
  }
  return buckets.map((blocks) => ({ dtype: t.dtype, shape: t.shape.slice(1), blocks }));
}

/** Index `k` of a view's leading dimension, with that dimension removed. */
function dropLeading(v: View, k: number): View {
  return { ...v, shape: v.shape.slice(1), strides: v.strides.slice(1), offset: v.offset + k * v.strides[0]! };
}

/** One layer's entry (`rest` = name inside the layer) → legacy names: experts split, local-spec norms renamed. */
function layerEntries(layer: string, rest: string, t: Tensor, naming: DcpNaming, out: [string, Tensor][]): void {
  const m = EXPERTS.exec(rest);
  if (m) {
    const [, linear, param] = m;
    unstack(t, `${layer}.${rest}`).forEach((e, i) => {
      const name = naming.groupedGemm ? `${layer}.mlp.experts.${linear}.${param}${i}` : `${layer}.mlp.experts.local_experts.${i}.${linear}.${param}`;
      out.push([name, e]);
    });
    return;
  }
  if (naming.localSpec) {
    const r = LOCAL_SPEC_RENAMES.find(([from]) => from === rest);
    if (r) rest = r[1];
  }
  out.push([`${layer}.${rest}`, t]);
}

/**
 * A torch_dist tensor (global, assembled from its chunks) → the legacy TP1 PP1 entries it stands for.
 * Non-layer keys (embedding, final norm, output layer) pass through unchanged.
 */
export function legacyEntries(fqn: string, t: Tensor, naming: DcpNaming): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  const stacked = STACKED.exec(fqn);
  if (stacked) {
    if (t.shape[0] !== naming.numLayers) {
      fail('E_FORMAT', `stacked layer tensor ${fmtShape(t.shape)} does not lead with num_layers ${naming.numLayers}`, { tensor: fqn });
    }
    unstack(t, fqn).forEach((layerTensor, l) => layerEntries(`decoder.layers.${l}`, stacked[1]!, layerTensor, naming, out));
    return out;
  }
  // a multi-token-prediction layer's inner TransformerLayer is saved per layer, never stacked
  // (MultiTokenPredictionBlock.sharded_state_dict: no layer offset; its key says transformer_layer)
  const perLayer = /^(decoder\.layers\.\d+|mtp\.layers\.\d+\.transformer_layer)\.(.+)$/.exec(fqn);
  if (perLayer) {
    layerEntries(perLayer[1]!, perLayer[2]!, t, naming, out);
    return out;
  }
  out.push([fqn, t]);
  return out;
}

/** DCP entries that are not model weights: Megatron's non-tensor state, RNG, optimizer, TE's FP8 extra state. */
export function isModelWeightKey(fqn: string): boolean {
  return !(fqn.startsWith('optimizer.') || fqn.startsWith('rng_state') || fqn.startsWith('common_state') || /\._extra_state\d*(\/|$)/.test(fqn));
}
