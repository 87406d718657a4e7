// Megatron's single-device reference conversions (its TRTLLMHelper on the tp1pp1 model), from every checkpoint
// layout and format: with `megatronCompat` reproduced byte for byte (names, dtypes, shapes, values, header layout,
// config.json); by default identical except where Megatron's output is wrong for TensorRT-LLM 1.x, and exactly there.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { openCheckpoint } from '../../lib/megatron/open.js';
import type { Checkpoint } from '../../lib/megatron/types.js';
import { helperOptionsFor } from '../../lib/trtllm/export.js';
import { TRTLLMHelper } from '../../lib/trtllm/helper.js';
import { FIXTURES, headerText, MODEL_TYPE, type ReferenceCase, referenceCases } from './support/fixtures.js';
import { evalPlanTensor, safetensorsBytes } from '../support/reference-executor.js';
import { rankDiff, readSafetensors } from './support/rank-diff.js';

const single = referenceCases().filter((c) => !c.distributed);
const sources = ['torch/tp1pp1', 'torch/tp2pp1', 'torch/tp1pp2', 'torch_dist/tp1pp1', 'torch_dist/tp2pp1', 'torch_dist/tp1pp2'];
const opened = new Map<string, Checkpoint>();
function open(model: string, source: string): Checkpoint {
  const key = `${model}/${source}`;
  if (!opened.has(key)) opened.set(key, openCheckpoint(join(FIXTURES, 'megatron', model, source), { modelType: MODEL_TYPE[model]! }));
  return opened.get(key)!;
}

function convert(c: ReferenceCase, source: string, megatronCompat: boolean) {
  const ckpt = open(c.model, source);
  const helper = new TRTLLMHelper(helperOptionsFor(ckpt, MODEL_TYPE[c.model]!));
  return helper.getTrtllmPretrainedConfigAndModelWeights({
    modelStateDict: ckpt.tensors,
    dtype: c.dtype,
    exportConfig: { inferenceTpSize: c.tp, inferencePpSize: c.pp, useParallelEmbedding: c.parallelEmbedding },
    megatronCompat,
  });
}

test('the fixture set has single-device reference cases for three models', () => {
  expect(new Set(single.map((c) => c.model))).toEqual(new Set(['gpt2', 'gptnext', 'llama']));
  expect(single.length).toBeGreaterThanOrEqual(30);
});

describe.each(sources)('megatronCompat: byte for byte from %s', (source) => {
  test.each(single.map((c) => [`${c.model}/${c.name}`, c] as const))('%s', (_, c) => {
    const { weights, configs } = convert(c, source, true);
    expect(weights.map((w) => w.rank)).toEqual(Array.from({ length: c.tp * c.pp }, (_, i) => i));
    const refConfig = readFileSync(join(c.dir, 'config.json'), 'utf8');
    for (const cfg of configs) expect(cfg.toJson()).toBe(refConfig);
    for (const w of weights) {
      const ref = readFileSync(join(c.dir, `rank${w.rank}.safetensors`));
      const mine = safetensorsBytes(w.tensors);
      expect(headerText(mine)).toBe(headerText(ref));
      expect(Buffer.from(mine).equals(ref)).toBe(true);
    }
  });
});

/**
 * What the default output changes in Megatron's reference cases, and why:
 * - tied embeddings (gpt2): `lm_head.weight` added on every last-stage rank (its TP rows of the word embeddings);
 *   TensorRT-LLM 1.x ties a missing lm_head only when embedding and lm_head have the same local shape on the same
 *   rank, which holds at TP1 PP1 only (and with dim-0 parallel embedding at PP1).
 * - layernorm-1p (gptnext) exported as float16: every norm weight (`+1` in float32, rounded once to float16;
 *   Megatron rounds `1+g` to bfloat16 first). As bfloat16 the two agree bit for bit.
 * Config fields never differ here: every fixture vocabulary divides by the TP sizes and no model has QKV bias only.
 */
function expectedDiff(c: ReferenceCase, rank: number): { added: string[]; changed: (name: string) => boolean } {
  const lastStage = Math.floor(rank / c.tp) === c.pp - 1;
  const added = c.model === 'gpt2' && lastStage ? ['lm_head.weight'] : [];
  const isNorm = (n: string) => /(input_layernorm|post_layernorm|ln_f)\.weight$/.test(n);
  return { added, changed: (n) => c.model === 'gptnext' && c.dtype === 'float16' && isNorm(n) };
}

describe('default (what TensorRT-LLM 1.x needs): differs from the references exactly where Megatron is wrong', () => {
  test.each(single.map((c) => [`${c.model}/${c.name}`, c] as const))('%s', (_, c) => {
    const { weights, configs } = convert(c, 'torch_dist/tp2pp1', false);
    const refConfig = readFileSync(join(c.dir, 'config.json'), 'utf8');
    for (const cfg of configs) expect(cfg.toJson()).toBe(refConfig);
    for (const w of weights) {
      const ref = readFileSync(join(c.dir, `rank${w.rank}.safetensors`));
      const d = rankDiff(w.tensors, ref);
      const want = expectedDiff(c, w.rank);
      expect(d.removed).toEqual([]);
      expect(d.added).toEqual(want.added);
      const names = w.tensors.map((t) => t.name).filter((n) => !d.added.includes(n));
      expect(d.changed).toEqual(names.filter(want.changed).sort());
      if (want.added.length > 0) {
        // the added lm_head is this TP rank's rows of the word embeddings the first stage carries
        const tpRank = w.rank % c.tp;
        const first = readSafetensors(readFileSync(join(c.dir, `rank${tpRank}.safetensors`))).get('transformer.vocab_embedding.weight')!;
        const lm = w.tensors.find((t) => t.name === 'lm_head.weight')!;
        const rowBytes = first.bytes.byteLength / first.shape[0]!;
        const start = c.parallelEmbedding ? 0 : tpRank * lm.shape[0]! * rowBytes;
        expect(Buffer.from(evalPlanTensor(lm)).equals(Buffer.from(first.bytes.subarray(start, start + lm.shape[0]! * rowBytes)))).toBe(true);
      }
    }
  });
});
