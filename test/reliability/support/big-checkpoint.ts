// Generated Megatron checkpoints for the reliability tests: ~150 MB (an export spends a noticeable time writing,
// so kills and aborts land in the middle of it), ~1 GB (signals) and ~19 MB (many randomized runs). Made once
// per test file with the project's own generator.
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { generateCheckpoint } from '../../../tools/generate/generate.js';
import { presetSpec } from '../../../tools/generate/model.js';

type LlamaShape = Parameters<typeof presetSpec>[1];

/** A generated llama checkpoint (bf16, torch_dist) named `name` under `dir`, from the project's own generator. */
function generated(dir: string, name: string, shape: LlamaShape, tp: number, seed: number): string {
  const root = join(dir, name);
  generateCheckpoint({ root, spec: presetSpec('llama', { ...shape, dtype: 'bfloat16' }), tp, pp: 1, format: 'torch_dist', iteration: 10, seed, digests: false });
  return root;
}

export const makeBigCheckpoint = (dir: string): string =>
  generated(dir, 'big-ckpt', { numLayers: 4, hiddenSize: 1024, ffnHiddenSize: 2816, numAttentionHeads: 16, numQueryGroups: 4, kvChannels: 64, vocabSize: 16000 }, 2, 1);

/**
 * About 1.07 GB (9 layers, hidden 2048): big enough that an export is still writing when a signal arrives.
 * Generated once per test file that needs it (~10 s).
 */
export const makeGigabyteCheckpoint = (dir: string): string =>
  generated(dir, 'gigabyte-ckpt', { numLayers: 9, hiddenSize: 2048, ffnHiddenSize: 5632, numAttentionHeads: 16, numQueryGroups: 4, kvChannels: 128, vocabSize: 32000 }, 1, 2);

/** About 19 MB: exports take a fraction of a second, for many randomized runs. */
export const makeSmallCheckpoint = (dir: string): string =>
  generated(dir, 'small-ckpt', { numLayers: 2, hiddenSize: 512, ffnHiddenSize: 1408, numAttentionHeads: 8, numQueryGroups: 2, kvChannels: 64, vocabSize: 4000 }, 1, 3);

/** The staging directories of exports to `target` (`.<name>.tmp-<pid>-<random>` beside it). */
export function stagingDirs(target: string): string[] {
  const parent = dirname(target);
  const prefix = `.${basename(target)}.`;
  return existsSync(parent) ? readdirSync(parent).filter((n) => n.startsWith(prefix) && /\.(tmp|old)-\d+-/.test(n)).map((n) => join(parent, n)) : [];
}

/** `.<name>.tmp-<pid>-<random>` entries: an export's temporaries. */
export const isTemporary = (name: string) => /^\..+\.tmp-/.test(name);
