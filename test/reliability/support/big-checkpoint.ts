// A generated Megatron checkpoint big enough (~150 MB) that an export spends a noticeable time writing,
// so kills and aborts land in the middle of it. Made once per test file with the project's own generator.
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { generateCheckpoint } from '../../../tools/generate/generate.js';
import { presetSpec } from '../../../tools/generate/model.js';

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

/**
 * A generated llama checkpoint of about 1.07 GB (9 layers, hidden 2048, bf16, torch_dist): big enough that an
 * export is still writing when a signal arrives. Generated once per test file that needs it (~10 s).
 */
export function makeGigabyteCheckpoint(dir: string): string {
  const root = join(dir, 'gigabyte-ckpt');
  generateCheckpoint({
    root,
    spec: presetSpec('llama', { numLayers: 9, hiddenSize: 2048, ffnHiddenSize: 5632, numAttentionHeads: 16, numQueryGroups: 4, kvChannels: 128, vocabSize: 32000, dtype: 'bfloat16' }),
    tp: 1,
    pp: 1,
    format: 'torch_dist',
    iteration: 10,
    seed: 2,
    digests: false,
  });
  return root;
}

/** A small llama checkpoint (~19 MB): exports take a fraction of a second, for many randomized runs. */
export function makeSmallCheckpoint(dir: string): string {
  const root = join(dir, 'small-ckpt');
  generateCheckpoint({
    root,
    spec: presetSpec('llama', { numLayers: 2, hiddenSize: 512, ffnHiddenSize: 1408, numAttentionHeads: 8, numQueryGroups: 2, kvChannels: 64, vocabSize: 4000, dtype: 'bfloat16' }),
    tp: 1,
    pp: 1,
    format: 'torch_dist',
    iteration: 10,
    seed: 3,
    digests: false,
  });
  return root;
}

/** The staging directories of exports to `target` (`.<name>.tmp-<pid>-<random>` beside it). */
export function stagingDirs(target: string): string[] {
  const parent = dirname(target);
  const prefix = `.${basename(target)}.`;
  return existsSync(parent) ? readdirSync(parent).filter((n) => n.startsWith(prefix) && /\.(tmp|old)-\d+-/.test(n)).map((n) => join(parent, n)) : [];
}

/** `.<name>.tmp-<pid>-<random>` entries: an export's temporaries. */
export const isTemporary = (name: string) => /^\..+\.tmp-/.test(name);
