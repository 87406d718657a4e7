// The files a Hugging Face export writes: the only ones `force` may replace (lib/export/atomic-output.ts).
import type { OutputKind } from '../export/atomic-output.js';
import { INDEX_NAME } from './shard.js';
import { isTokenizerFile } from './tokenizer.js';

const SHARD = /^model(-\d{5}-of-\d{5})?\.safetensors$/;

export const HF_OUTPUT: OutputKind = {
  what: 'Hugging Face model',
  owns: (name) => name === 'config.json' || name === 'generation_config.json' || name === INDEX_NAME || SHARD.test(name) || isTokenizerFile(name),
};
