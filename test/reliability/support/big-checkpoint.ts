// A generated Megatron checkpoint big enough (~150 MB) that an export spends a noticeable time writing,
// so kills and aborts land in the middle of it. Made once per test file with the project's own generator.
import { join } from 'node:path';
import { generateCheckpoint } from '../../../bench/generate/generate.js';
import { presetSpec } from '../../../bench/generate/model.js';

export function makeBigCheckpoint(dir: string): string {
  const root = join(dir, 'big-ckpt');
  generateCheckpoint({
    root,
    spec: presetSpec('llama', { numLayers: 4, hiddenSize: 1024, ffnHiddenSize: 2816, numAttentionHeads: 16, numQueryGroups: 4, kvChannels: 64, vocabSize: 16000, dtype: 'bfloat16' }),
    tp: 2,
    pp: 1,
    format: 'torch_dist',
    iteration: 10,
    seed: 1,
    digests: false,
  });
  return root;
}

/** `.<name>.tmp-<pid>-<random>` entries: an export's temporaries. */
export const isTemporary = (name: string) => /^\..+\.tmp-/.test(name);
