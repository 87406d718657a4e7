// The generator's DeepSeek-V3-shaped family (the streaming-export benchmark's model): Megatron's args make our
// config an MLA + MoE model with the layer pattern asked for, the Hugging Face export of a TP2 PP2 checkpoint
// is a DeepseekV3ForCausalLM with every tensor placed, and torch_dist (3-D stacked experts) is refused.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { generateCheckpoint } from '../../tools/generate/generate.js';
import { presetSpec } from '../../tools/generate/model.js';
import { exportHf } from '../../lib/hf/export.js';
import { explainModelFamily } from '../../lib/megatron/model-type.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { errorOf } from '../support/errors.js';

const work = mkdtempSync(join(tmpdir(), 'gen-deepseek-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('generator family deepseek', () => {
  test('config from the generated args, and a DeepseekV3 export of TP2 PP2', async () => {
    const spec = presetSpec('deepseek', { numLayers: 4 });
    const root = join(work, 'tp2pp2');
    const man = generateCheckpoint({ root, spec, tp: 2, pp: 2, format: 'torch', digests: false });
    const ck = openCheckpoint(root);
    expect(ck.config.mla).toMatchObject({ qLoraRank: 32, kvLoraRank: 32, qkHeadDim: 16, qkPosEmbHeadDim: 8, vHeadDim: 16, ropeType: 'yarn' });
    expect(ck.config.moe).toMatchObject({ numExperts: 8, topk: 2, ffnHiddenSize: 16, sharedExpertIntermediateSize: 32, scoreFunction: 'sigmoid', enableExpertBias: true, layers: [false, true, true, true] });
    expect(explainModelFamily(ck.config)?.family).toBe('deepseek_v3');
    expect(ck.tensors.get('decoder.layers.3.mlp.router.expert_bias')?.dtype).toBe('float32');
    expect(man.globals.find((g) => g.name.endsWith('expert_bias'))?.dtype).toBe('float32');
    const r = await exportHf(ck, { outDir: join(work, 'hf'), dtype: 'bfloat16' });
    expect(r.architecture).toBe('DeepseekV3ForCausalLM');
    // embed, lm_head, final norm; 4 layers × (2 norms + 7 attention); layer 0: 3 MLP; layers 1-3: gate + bias + 8×3 experts + 3 shared
    expect(r.tensors).toBe(3 + 4 * 9 + 3 + 3 * (2 + 24 + 3));
  });
  test('torch_dist is refused for MLA / MoE specs', () => {
    const e = errorOf(() => generateCheckpoint({ root: join(work, 'dist'), spec: presetSpec('deepseek'), format: 'torch_dist' }));
    expect(e.code).toBe('E_UNSUPPORTED');
  });
});
