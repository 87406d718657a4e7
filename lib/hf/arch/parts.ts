// State-dict pieces several architectures write the same way: norms, always-present biases, embeddings, lm_head.
import { zeros, type Tensor } from '../../tensor/tensor.js';
import type { Affine } from '../../plan/plan.js';
import type { SourceTensors } from '../source.js';
import { trimVocab } from '../split.js';
import type { HfRuleContext, HfTensor } from '../types.js';

/** `<hfName>.weight` (through the convention affine, if any) and, for LayerNorm targets, `<hfName>.bias`. */
export function normTensors(src: SourceTensors, hfName: string, names: (w: 'weight' | 'bias') => string[], affine: Affine | undefined, withBias: boolean): HfTensor[] {
  const out: HfTensor[] = [{ name: `${hfName}.weight`, tensor: src.get(...names('weight')), ...(affine ? { affine } : {}) }];
  if (withBias) out.push({ name: `${hfName}.bias`, tensor: src.get(...names('bias')) });
  return out;
}

/** A linear's bias for a target module that always has one: zeros when the checkpoint has none (adding zero changes nothing). */
export function biasOrZeros(src: SourceTensors, name: string, weight: Tensor): Tensor {
  return src.maybe(name) ?? zeros(weight.dtype, [weight.shape[0]!]);
}

/** The word embedding, cut to the vocabulary kept. */
export function wordEmbeddings(ctx: HfRuleContext): Tensor {
  return trimVocab(ctx.src.get('embedding.word_embeddings.weight'), ctx.vocab, 'embedding.word_embeddings.weight');
}

/**
 * lm_head.weight: the output layer, or the embedding when the checkpoint ties them; nothing when tied and
 * `writeWhenTied` is false (the target config ties them too). A tied PP>1 checkpoint keeps a copy of the
 * embedding as output_layer.weight: same values, nothing to add.
 */
export function lmHead(ctx: HfRuleContext, writeWhenTied: boolean): HfTensor[] {
  const tied = ctx.cfg.shareEmbeddingsAndOutputWeights;
  if (tied) ctx.src.ignore((n) => n === 'output_layer.weight');
  if (tied && !writeWhenTied) return [];
  const name = tied ? 'embedding.word_embeddings.weight' : 'output_layer.weight';
  return [{ name: 'lm_head.weight', tensor: trimVocab(ctx.src.get(name), ctx.vocab, name) }];
}
