import { fail } from '../errors.js';
import type { TransformerConfig } from '../megatron/types.js';
import * as T from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ConversionDict } from './conversion-dict.js';
import { splitLayerNumber } from './layers.js';
import { type ConvertedWeight, convertWeights, kvHeads, type MegatronStateDict, type RuleSettings } from './rules.js';

/** Where a rank sits in the (inference = training) parallel layout, as Megatron's parallel_state reports it. */
export interface ParallelState {
  readonly tpRank: number;
  readonly tpSize: number;
  readonly ppRank: number;
  readonly ppSize: number;
  /**
   * The state dicts of every TP rank of this pipeline stage, by TP rank: what Megatron's all-reduce gathers the
   * vocabulary rows from. Needed only when tpSize > 1 and this stage holds word embeddings or an output layer.
   */
  readonly tensorParallelPeers?: readonly MegatronStateDict[] | undefined;
}

/**
 * Megatron's on-device conversion of one rank's own shard (DistributedTRTLLMModelWeightsConverter): the layers
 * are already split for this rank, so each is converted as a TP-1 model with this rank's share of the heads;
 * word embeddings and output layer lose their training padding (rows beyond `tokenizerVocabSize`) and are split
 * across TP again; layer numbers stay the stage-local ones of the shard.
 */
export function convertRankShard(
  shard: MegatronStateDict,
  dict: ConversionDict,
  settings: Omit<RuleSettings, 'tpSize' | 'useParallelEmbedding' | 'embeddingShardingDim' | 'vocabSize' | 'tiedLmHead'>,
  ps: ParallelState,
  tokenizerVocabSize: number,
): ConvertedWeight[] {
  const { tpRank, tpSize } = ps;
  const c = settings.config;
  const nkv = kvHeads(c);
  if (nkv % tpSize !== 0 || c.numAttentionHeads % tpSize !== 0) {
    fail('E_UNSUPPORTED', `on-device conversion needs the ${nkv} query groups and ${c.numAttentionHeads} heads to divide by tensor parallelism ${tpSize}`);
  }
  const local: TransformerConfig = { ...c, numAttentionHeads: c.numAttentionHeads / tpSize, numQueryGroups: nkv / tpSize };
  const sd = new Map<string, Tensor>();
  for (const [name, t] of shard) {
    const base = splitLayerNumber(name).base;
    const layer = dict[base];
    if (layer === 'vocab_embedding' || layer === 'lm_head') sd.set(name, unpaddedVocabShard(name, t, ps, tokenizerVocabSize, settings.megatronCompat ?? false));
    else if (layer === 'position_embedding') {
      if (t.shape[0]! % tpSize !== 0) fail('E_CONFIG', `position embedding rows ${t.shape[0]} do not split into ${tpSize}`, { tensor: name });
      sd.set(name, T.chunk(t, tpSize, 0)[tpRank]!);
    } else sd.set(name, t);
  }
  // tied embeddings: the last stage writes lm_head from the word embeddings when it holds no output layer
  const tiedLmHead = !settings.megatronCompat && ps.ppRank === ps.ppSize - 1;
  const out = convertWeights(sd, dict, { ...settings, config: local, tpSize: 1, useParallelEmbedding: false, embeddingShardingDim: 0, tiedLmHead });
  if (tiedLmHead && !out.some((w) => w.name === 'lm_head.weight')) {
    fail('E_NOT_FOUND', 'the last pipeline stage has neither an output layer nor word embeddings to write lm_head from (TensorRT-LLM needs it there); pass the state dict with output_layer.weight, which Megatron keeps on the last stage of a tied model');
  }
  return out;
}

/**
 * This rank's rows of the tokenizer vocabulary. Megatron (VocabUtility) needs vocab % tp = 0; by default every
 * rank holds ceil(vocab/tp) rows, the last one zero-padded, which is both TensorRT-LLM's dim-0 embedding shard and
 * its lm_head shard (`pad(vocab, tp) / tp` rows).
 */
function unpaddedVocabShard(name: string, own: Tensor, ps: ParallelState, vocab: number, megatronCompat: boolean): Tensor {
  let full = own;
  if (ps.tpSize > 1) {
    const peers = ps.tensorParallelPeers;
    if (!peers || peers.length !== ps.tpSize) fail('E_USAGE', `parallelState.tensorParallelPeers must hold the state dicts of all ${ps.tpSize} TP ranks to gather the vocabulary`, { tensor: name });
    full = T.cat(
      peers.map((p, r) => p.get(name) ?? fail('E_NOT_FOUND', `TP rank ${r} has no ${name}`, { tensor: name })),
      0,
    );
  }
  if (!Number.isInteger(vocab) || vocab < 1 || vocab > full.shape[0]!) fail('E_CONFIG', `vocab_size ${vocab} must be between 1 and the ${full.shape[0]} vocabulary rows`, { tensor: name });
  if (megatronCompat && vocab % ps.tpSize !== 0) fail('E_CONFIG', `on-device conversion splits the ${vocab}-token vocabulary evenly over ${ps.tpSize} TP ranks (Megatron's VocabUtility); it does not divide`, { tensor: name });
  const per = Math.ceil(vocab / ps.tpSize);
  const start = ps.tpRank * per;
  const have = Math.max(0, Math.min(per, vocab - start));
  const rows = T.narrow(full, 0, Math.min(start, vocab), have);
  return have === per ? rows : T.cat([rows, T.zeros(full.dtype, [per - have, ...full.shape.slice(1)])], 0);
}

export const ON_DEVICE_MODEL_TYPES = ['gpt', 'gptnext', 'llama'] as const;
