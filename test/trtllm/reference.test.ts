// Every single-device reference conversion (Megatron's TRTLLMHelper on the tp1pp1 model) is reproduced byte for
// byte — names, dtypes, shapes, values, header layout and config.json — from every checkpoint layout and format.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { openCheckpoint } from '../../lib/megatron/open.js';
import type { Checkpoint } from '../../lib/megatron/types.js';
import { helperOptionsFor } from '../../lib/trtllm/export.js';
import { TRTLLMHelper } from '../../lib/trtllm/helper.js';
import { FIXTURES, headerText, MODEL_TYPE, referenceCases } from './support/fixtures.js';
import { safetensorsBytes } from './support/plan-eval.js';

const single = referenceCases().filter((c) => !c.distributed);
const sources = ['torch/tp1pp1', 'torch/tp2pp1', 'torch/tp1pp2', 'torch_dist/tp1pp1', 'torch_dist/tp2pp1', 'torch_dist/tp1pp2'];
const opened = new Map<string, Checkpoint>();
function open(model: string, source: string): Checkpoint {
  const key = `${model}/${source}`;
  if (!opened.has(key)) opened.set(key, openCheckpoint(join(FIXTURES, 'megatron', model, source), { modelType: MODEL_TYPE[model]! }));
  return opened.get(key)!;
}

test('the fixture set has single-device reference cases for three models', () => {
  expect(new Set(single.map((c) => c.model))).toEqual(new Set(['gpt2', 'gptnext', 'llama']));
  expect(single.length).toBeGreaterThanOrEqual(30);
});

describe.each(sources)('from %s', (source) => {
  test.each(single.map((c) => [`${c.model}/${c.name}`, c] as const))('%s', (_, c) => {
    const ckpt = open(c.model, source);
    const helper = new TRTLLMHelper(helperOptionsFor(ckpt, MODEL_TYPE[c.model]!));
    const { weights, configs } = helper.getTrtllmPretrainedConfigAndModelWeights({
      modelStateDict: ckpt.tensors,
      dtype: c.dtype,
      exportConfig: { inferenceTpSize: c.tp, inferencePpSize: c.pp, useParallelEmbedding: c.parallelEmbedding },
    });
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
