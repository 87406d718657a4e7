// Our reader (openCheckpoint) against the generator's intent: every global tensor the reader assembles from a
// generated checkpoint — any TP/PP, either format — hashes to the sha256 the generator computed by
// re-generating that tensor whole in its TP1 layout (independently of the sharding and file writing).
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateCheckpoint } from '../../tools/generate/generate.js';
import { presetSpec, type Family } from '../../tools/generate/model.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { materialize } from '../support/materialize.js';

const work = mkdtempSync(join(tmpdir(), 'gen-reader-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const CASES: [Family, 'torch' | 'torch_dist', number, number][] = [
  ['llama', 'torch', 1, 1],
  ['llama', 'torch', 2, 2],
  ['llama', 'torch_dist', 2, 2],
  ['gpt', 'torch', 2, 1],
  ['gpt', 'torch', 1, 2],
  ['gpt', 'torch_dist', 2, 2],
  // MLA + DeepSeek-V3 MoE (fp32 expert_bias, dense layer 0), legacy only
  ['deepseek', 'torch', 1, 1],
  ['deepseek', 'torch', 2, 2],
];

describe('openCheckpoint reads generated checkpoints as generated', () => {
  it.each(CASES)('%s %s tp%i pp%i', (family, format, tp, pp) => {
    const root = join(work, `${family}-${format}-${tp}-${pp}`);
    const spec = presetSpec(family, { numLayers: 4 });
    const man = generateCheckpoint({ root, spec, tp, pp, format, globalDigests: true, digests: false });
    const ck = openCheckpoint(root);
    try {
      expect(ck.format).toBe(format);
      expect(ck.iteration).toBe(10);
      expect(ck.layout.tp).toBe(tp);
      expect(ck.layout.pp).toBe(pp);
      expect(ck.config.numLayers).toBe(spec.numLayers);
      expect(ck.config.numQueryGroups).toBe(spec.numQueryGroups);
      expect(ck.config.paddedVocabSize).toBe(man.paddedVocabSize);
      expect(ck.config.shareEmbeddingsAndOutputWeights).toBe(!spec.untieEmbeddings);
      const names = [...ck.tensors.keys()];
      for (const g of man.globals) {
        const t = ck.tensors.get(g.name);
        expect(t, `${g.name} missing; reader has ${names.slice(0, 8).join(', ')} ...`).toBeDefined();
        expect([...t!.shape]).toEqual(g.shape);
        expect(t!.dtype).toBe(g.dtype);
        const sha = createHash('sha256').update(materialize(t!)).digest('hex');
        expect(sha, g.name).toBe(g.sha256);
      }
      // nothing beyond the model's tensors (a tied model has no output weight even when PP>1 stored a copy)
      expect(names.filter((n) => !man.globals.some((g) => g.name === n))).toEqual([]);
    } finally {
      ck.close();
    }
  });
});
