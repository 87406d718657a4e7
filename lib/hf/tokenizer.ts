// Copies a Hugging Face tokenizer's files next to the exported weights (only tokenizer files: a tokenizer
// directory is often a whole model directory whose config.json and weights must not overwrite ours).
import { copyFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fail } from '../errors.js';

const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'tokenizer.model',
  'spiece.model',
  'vocab.json',
  'merges.txt',
  'vocab.txt',
  'chat_template.jinja',
  'chat_template.json',
];

/** A file name `copyTokenizer` may write into an export. */
export const isTokenizerFile = (name: string): boolean => TOKENIZER_FILES.includes(name) || name.endsWith('.tiktoken');

/** The tokenizer files found in `dir` (E_NOT_FOUND when it has none); checked before any export work starts. */
export function tokenizerFiles(dir: string): string[] {
  const d = resolve(dir);
  if (!existsSync(d) || !statSync(d).isDirectory()) fail('E_NOT_FOUND', 'tokenizer directory does not exist', { file: d });
  const names = readdirSync(d).filter((n) => isTokenizerFile(n) && statSync(join(d, n)).isFile());
  if (names.length === 0) fail('E_NOT_FOUND', `no tokenizer files (${TOKENIZER_FILES.slice(0, 4).join(', ')}, ...) in the tokenizer directory`, { file: d });
  return names.sort();
}

export function copyTokenizer(dir: string, names: readonly string[], outDir: string): string[] {
  return names.map((n) => {
    const to = join(outDir, n);
    try {
      copyFileSync(join(resolve(dir), n), to);
    } catch (e) {
      fail('E_IO', `cannot copy tokenizer file: ${(e as Error).message}`, { file: join(dir, n), cause: e });
    }
    return to;
  });
}
