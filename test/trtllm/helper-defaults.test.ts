// TRTLLMHelper's constructor: options left out come from the transformerConfig (a documented deviation from
// Megatron's fixed defaults), explicit ones win, and an explicit one that contradicts the config is warned about.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../lib/megatron/open.js';
import type { Checkpoint } from '../../lib/megatron/types.js';
import { TRTLLMHelper } from '../../lib/trtllm/helper.js';
import { FIXTURES } from '../support/fixtures.js';

let llama: Checkpoint;
let gpt2: Checkpoint;
const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
beforeAll(() => {
  llama = openCheckpoint(join(FIXTURES, 'megatron/llama/torch/tp1pp1'));
  gpt2 = openCheckpoint(join(FIXTURES, 'megatron/gpt2/torch/tp1pp1'));
  process.on('warning', onWarning);
});
afterAll(() => {
  process.off('warning', onWarning);
  llama.close();
  gpt2.close();
});

describe('TRTLLMHelper constructor', () => {
  it('as the README shows it, on a rope/SwiGLU model: positions, rope, activation and max positions from the config', () => {
    const c = llama.config;
    const h = new TRTLLMHelper({ transformerConfig: c, modelType: 'llama' });
    expect(c.positionEmbeddingType).toBe('rope');
    expect(h.positionEmbeddingType).toBe('rope');
    expect(h.maxPositionEmbeddings).toBe(c.maxPositionEmbeddings);
    expect(h.rotaryBase).toBe(c.rotaryBase);
    expect(h.rotaryPercentage).toBe(c.rotaryPercent);
    expect(h.activation).toBe('swiglu');
    expect(h.warnings).toEqual([]);
    const cfg = h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: llama.tensors, dtype: 'bfloat16' }).configs[0]!.fields;
    expect(cfg).toMatchObject({ position_embedding_type: 'rope_gpt_neox', max_position_embeddings: c.maxPositionEmbeddings, hidden_act: 'silu' });
  });

  it('a learned-position GELU model keeps learned_absolute/gelu; rotary settings are not taken from it', () => {
    const h = new TRTLLMHelper({ transformerConfig: gpt2.config, modelType: 'gpt' });
    expect(h.positionEmbeddingType).toBe('learned_absolute');
    expect(h.activation).toBe('gelu');
    expect(h.rotaryBase).toBe(10000);
    expect(h.maxPositionEmbeddings).toBe(gpt2.config.maxPositionEmbeddings);
  });

  it('explicit options that contradict the config are used as given and warned about (helper.warnings + process warning)', async () => {
    warnings.length = 0;
    const h = new TRTLLMHelper({ transformerConfig: llama.config, modelType: 'llama', positionEmbeddingType: 'learned_absolute', activation: 'gelu' });
    expect(h.positionEmbeddingType).toBe('learned_absolute');
    expect(h.activation).toBe('gelu');
    expect(h.warnings).toHaveLength(2);
    expect(h.warnings[0]).toMatch(/positionEmbeddingType "learned_absolute" contradicts the transformerConfig, which implies "rope"/);
    expect(h.warnings[1]).toMatch(/activation "gelu" contradicts .* "swiglu"/);
    await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
    expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual(['MCORE_EXPORT_HELPER_OPTION', 'MCORE_EXPORT_HELPER_OPTION']);
  });

  it('explicit options that agree with the config: no warning', () => {
    const c = llama.config;
    const h = new TRTLLMHelper({ transformerConfig: c, modelType: 'llama', positionEmbeddingType: 'rope', rotaryBase: c.rotaryBase, activation: 'swiglu' });
    expect(h.warnings).toEqual([]);
  });
});
