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
