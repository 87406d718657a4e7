// What TRTLLMHelper returns, per output rank: its weights (copy-plan tensors) and its PretrainedConfig.
// A module of its own because the engine build (lib/engine/megatron.ts) takes them too.
import type { PyJson } from '../export/pyjson.js';
import type { PlanTensor } from '../plan/plan.js';
import type { RankMapping } from './mapping.js';

/** One rank's converted weights: plan tensors (metadata, nothing read yet) in file order. */
export interface TrtllmRankWeights {
  readonly rank: number;
  readonly mapping: RankMapping;
  readonly tensors: readonly PlanTensor[];
}

/** One rank's PretrainedConfig: the config.json fields (shared by all ranks) and the rank's mapping. */
export interface TrtllmPretrainedConfig {
  readonly rank: number;
  readonly mapping: RankMapping;
  readonly fields: { readonly [k: string]: PyJson };
  /** config.json text exactly as Megatron's tooling writes it (`json.dump(indent=2)`) */
  toJson(): string;
}
