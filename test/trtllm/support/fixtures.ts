// Test-only: where the shared fixtures are and how to read the reference conversions.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isView, readTorchSave } from '../../../lib/formats/torch-save.js';
import type { ModelType } from '../../../lib/megatron/types.js';
import { fromView, type Tensor } from '../../../lib/tensor/tensor.js';
import type { View } from '../../../lib/tensor/view.js';
import { FIXTURES } from '../../support/fixtures.js';

export { FIXTURES };
export const REFERENCE = join(FIXTURES, 'reference');

/** Our model type for each fixture model (what Megatron's TRTLLMHelper was given). */
export const MODEL_TYPE: Record<string, ModelType> = { gpt2: 'gpt', gptnext: 'gptnext', llama: 'llama', mixtral: 'mixtral' };

export interface ReferenceCase {
  readonly model: string;
  readonly name: string;
  readonly dir: string;
  readonly tp: number;
  readonly pp: number;
  readonly dtype: 'bfloat16' | 'float16' | 'float32';
  readonly parallelEmbedding: boolean;
  readonly distributed: boolean;
}

/** Every reference conversion present in the fixture set. */
export function referenceCases(): ReferenceCase[] {
  const out: ReferenceCase[] = [];
  for (const model of readdirSync(REFERENCE)) {
    for (const name of readdirSync(join(REFERENCE, model))) {
      const dir = join(REFERENCE, model, name);
      if (!existsSync(join(dir, 'config.json'))) continue;
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { tp_size: number; pp_size: number; dtype: ReferenceCase['dtype'] };
      out.push({ model, name, dir, tp: cfg.tp_size, pp: cfg.pp_size, dtype: cfg.dtype, parallelEmbedding: name.includes('parallel_embedding'), distributed: name.startsWith('distributed_') });
    }
  }
  return out;
}

/** One legacy per-rank file's `model` entries: the shard Megatron's on-device converter sees on that GPU. */
export function legacyShard(file: string): Map<string, Tensor> {
  const value = readTorchSave(file).value as Map<string, unknown>;
  const model = value.get('model') as Map<string, unknown>;
  return new Map([...model].filter(([, v]) => isView(v)).map(([k, v]) => [k, fromView(v as View)]));
}

export function headerText(bytes: Uint8Array): string {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + n));
}
