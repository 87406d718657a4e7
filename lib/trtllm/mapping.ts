import { fail } from '../errors.js';

/** TensorRT-LLM's Mapping for cp = 1: rank = ppRank·tp + tpRank (TP varies fastest). */
export interface RankMapping {
  readonly rank: number;
  readonly tpRank: number;
  readonly ppRank: number;
  readonly tpSize: number;
  readonly ppSize: number;
}

export function rankMapping(rank: number, tpSize: number, ppSize: number): RankMapping {
  return { rank, tpRank: rank % tpSize, ppRank: Math.floor(rank / tpSize), tpSize, ppSize };
}

export function allRanks(tpSize: number, ppSize: number): RankMapping[] {
  return Array.from({ length: tpSize * ppSize }, (_, r) => rankMapping(r, tpSize, ppSize));
}

/**
 * Global layers of a pipeline stage: `torch.tensor_split(arange(L), pp)[ppRank]` — contiguous blocks, the first
 * L % pp stages one layer longer.
 */
export function ppLayers(numLayers: number, ppSize: number, ppRank: number): number[] {
  if (!Number.isInteger(ppSize) || ppSize < 1) fail('E_CONFIG', `pipeline-parallel size must be a positive integer, got ${ppSize}`);
  if (ppSize > numLayers) fail('E_CONFIG', `pipeline-parallel size ${ppSize} exceeds the model's ${numLayers} layers`);
  const base = Math.floor(numLayers / ppSize);
  const extra = numLayers % ppSize;
  const start = ppRank * base + Math.min(ppRank, extra);
  const count = base + (ppRank < extra ? 1 : 0);
  return Array.from({ length: count }, (_, i) => start + i);
}
