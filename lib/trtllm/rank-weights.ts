import type { Affine, PlanTensor } from '../plan/plan.js';
import { planTensor } from '../plan/from-tensor.js';
import type { DType } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { withLayerNumber } from './layers.js';
import { ppLayers, type RankMapping } from './mapping.js';
import type { ConvertedWeight } from './rules.js';

/** One tensor of one rank file: a logical source tensor, its output dtype and the arithmetic on the way. */
export interface RankWeight {
  readonly name: string;
  readonly tensor: Tensor;
  readonly dtype: DType;
  readonly affine?: Affine | undefined;
}

const FIRST_STAGE = new Set(['transformer.vocab_embedding.weight', 'transformer.position_embedding.weight']);
const LAST_STAGE = new Set(['lm_head.weight', 'transformer.ln_f.weight', 'transformer.ln_f.bias']);

/**
 * The weights of one output rank: its TP part of every weight of its pipeline stage, layers renumbered from 0
 * within the stage; embeddings on the first stage, final norm and lm_head on the last.
 */
export function weightsForRank(
  weights: readonly ConvertedWeight[],
  m: RankMapping,
  numLayers: number,
  opts: { renamePostLayernorm?: string } = {},
): RankWeight[] {
  const layers = ppLayers(numLayers, m.ppSize, m.ppRank);
  const first = layers[0]!;
  const out: RankWeight[] = [];
  for (const w of weights) {
    const tensor = w.split ? w.parts[m.tpRank]! : w.parts[0]!;
    let name = w.name;
    if (w.layer !== null) {
      if (!layers.includes(w.layer)) continue;
      name = withLayerNumber(stripLayer(w.name, w.layer), w.layer - first);
      if (opts.renamePostLayernorm) name = name.replace('.post_layernorm.', `.${opts.renamePostLayernorm}.`);
    } else if (FIRST_STAGE.has(name)) {
      if (m.ppRank !== 0) continue;
    } else if (LAST_STAGE.has(name)) {
      if (m.ppRank !== m.ppSize - 1) continue;
    }
    out.push({ name, tensor, dtype: w.dtype, affine: w.affine });
  }
  return sortLikeSafetensors(out);
}

function stripLayer(name: string, layer: number): string {
  return name.replace(`layers.${layer}.`, 'layers.');
}

/** safetensors (the Python/Rust writer) lays tensors out by dtype, widest first, then by name. */
const DTYPE_ORDER: Record<DType, number> = {
  bool: 0, uint8: 1, int8: 2, float8_e5m2: 3, float8_e4m3fn: 4, float16: 5, bfloat16: 6, int32: 7, float32: 8, int64: 9,
};

export function sortLikeSafetensors<X extends { name: string; dtype: DType }>(xs: X[]): X[] {
  return xs.sort((a, b) => DTYPE_ORDER[b.dtype] - DTYPE_ORDER[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function planRankTensors(ws: readonly RankWeight[]): PlanTensor[] {
  return ws.map((w) => planTensor(w.name, w.tensor, w.dtype, w.affine));
}
