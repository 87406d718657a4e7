// Megatron's fused layouts taken apart as views (no bytes move until the plan runs).
import { fail } from '../errors.js';
import type { TransformerConfig } from '../megatron/types.js';
import { fmtShape } from '../tensor/shape.js';
import { cat, narrow } from '../tensor/tensor.js';
import type { Tensor } from '../tensor/tensor.js';

export interface QkvParts {
  /** all query heads, [heads·d, ...] */
  q: Tensor;
  /** all key heads, [groups·d, ...] */
  k: Tensor;
  /** all value heads, [groups·d, ...] */
  v: Tensor;
}

/**
 * Splits fused QKV rows (weight [rows, H] or bias [rows]) laid out per query group as [q·(heads/groups), k, v].
 * Works by row ranges only, so it is correct however the tensor is tiled (TP shards may cut through a group).
 */
export function splitQkv(qkv: Tensor, cfg: TransformerConfig, name: string): QkvParts {
  const n = cfg.numAttentionHeads;
  const g = cfg.numQueryGroups;
  const d = cfg.kvChannels;
  const perGroup = n / g;
  const rows = (n + 2 * g) * d;
  if (qkv.shape[0] !== rows) fail('E_SHAPE', `fused QKV has ${qkv.shape[0]} rows, expected (${n} heads + 2·${g} groups)·${d} = ${rows}; shape ${fmtShape(qkv.shape)}`, { tensor: name });
  const groupRows = (perGroup + 2) * d;
  const q: Tensor[] = [];
  const k: Tensor[] = [];
  const v: Tensor[] = [];
  for (let i = 0; i < g; i++) {
    const base = i * groupRows;
    q.push(narrow(qkv, 0, base, perGroup * d));
    k.push(narrow(qkv, 0, base + perGroup * d, d));
    v.push(narrow(qkv, 0, base + (perGroup + 1) * d, d));
  }
  return { q: cat(q, 0), k: cat(k, 0), v: cat(v, 0) };
}

/** A gated MLP's fc1 rows [gate; up] (the TP1 layout) as its two halves. */
export function splitGatedFc1(fc1: Tensor, ffn: number, name: string): { gate: Tensor; up: Tensor } {
  if (fc1.shape[0] !== 2 * ffn) fail('E_SHAPE', `gated fc1 has ${fc1.shape[0]} rows, expected 2·${ffn}; shape ${fmtShape(fc1.shape)}`, { tensor: name });
  return { gate: narrow(fc1, 0, 0, ffn), up: narrow(fc1, 0, ffn, ffn) };
}

/** Drops vocabulary padding rows (embedding / output layer) down to `vocab` rows. */
export function trimVocab(t: Tensor, vocab: number, name: string): Tensor {
  if (t.shape[0]! < vocab) fail('E_SHAPE', `has ${t.shape[0]} vocabulary rows, fewer than the vocabulary size ${vocab}`, { tensor: name });
  return t.shape[0] === vocab ? t : narrow(t, 0, 0, vocab);
}
