// Test-only: the one place tests find the fixture set. The repository carries its own copy (test/fixtures/,
// refreshed from ../shared by scripts/refresh-fixtures.sh, never edited), so a clone tests with nothing beside
// it; MCORE_FIXTURES / MCORE_FIXTURES_MODERN point at another copy (e.g. ../shared/fixtures) when set.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));

/** The classic set: gpt2, gptnext, llama, mixtral checkpoints, Megatron's reference conversions, logits. */
export const FIXTURES = process.env['MCORE_FIXTURES'] || join(HERE, '../fixtures/classic');
/** The modern set: qwen2, qwen3, qwen3_moe, deepseek, deepseek_mla (TP1 PP1, both formats), logits. */
export const MODERN_FIXTURES = process.env['MCORE_FIXTURES_MODERN'] || join(HERE, '../fixtures/modern');

/** A path inside the classic set, e.g. fixture('megatron', 'llama', 'torch', 'tp1pp1'). */
export function fixture(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

/** A path inside the modern set, e.g. modernFixture('megatron', 'qwen3', 'torch_dist', 'tp1pp1'). */
export function modernFixture(...parts: string[]): string {
  return join(MODERN_FIXTURES, ...parts);
}

/** The FP8 set (test/fixtures-fp8): Transformer Engine FP8 checkpoints made from the classic weights, and
 * Megatron's own `fp8_quantized` conversions of them (see its README). */
export const FP8_FIXTURES = process.env['MCORE_FIXTURES_FP8'] || join(HERE, '../fixtures-fp8');

/** A path inside the FP8 set, e.g. fp8Fixture('megatron', 'llama', 'te1', 'torch', 'tp1pp1'). */
export function fp8Fixture(...parts: string[]): string {
  return join(FP8_FIXTURES, ...parts);
}
