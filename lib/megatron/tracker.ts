// Megatron's tracker file in a checkpoint root: the latest iteration's number (directory iter_%07d) or the word
// 'release' (directory release).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';

export const TRACKER_FILE = 'latest_checkpointed_iteration.txt';

/** The iteration directory `tracker` (in `root`) names, and its iteration (null for 'release'). */
export function trackedIteration(root: string, tracker: string): { dir: string; iteration: number | null } {
  let text: string;
  try {
    text = readFileSync(tracker, 'utf8').trim();
  } catch (e) {
    return fail('E_IO', `cannot read the tracker file: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { file: tracker, cause: e });
  }
  if (text === 'release') return { dir: join(root, 'release'), iteration: null };
  // at most 15 digits: every such number is exact as a double
  if (!/^\d{1,15}$/.test(text)) fail('E_FORMAT', `tracker holds '${text.slice(0, 40)}', expected an iteration number or 'release'`, { file: tracker });
  const n = Number(text);
  return { dir: join(root, `iter_${String(n).padStart(7, '0')}`), iteration: n };
}
