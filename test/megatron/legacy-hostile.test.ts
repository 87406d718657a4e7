// Broken legacy checkpoints, built as altered copies of fixtures in a tmp dir: each fails with a coded error that
// names the offending file.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { errorOf } from '../support/errors.js';
import { openLegacy } from '../../lib/megatron/legacy.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { fixture } from '../support/fixtures.js';

const FIX = fixture('megatron');
const tmp = mkdtempSync(join(tmpdir(), 'legacy-hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An iteration dir in tmp with the given rank dirs copied from a fixture layout, each optionally altered. */
function iterCopy(name: string, model: string, layout: string, ranks: Record<string, ((b: Buffer) => Buffer) | null>): string {
  const dir = join(tmp, name, 'iter_0000010');
  for (const [rank, alter] of Object.entries(ranks)) {
    mkdirSync(join(dir, rank), { recursive: true });
    const src = join(FIX, model, 'torch', layout, 'iter_0000010', rank, 'model_optim_rng.pt');
    const dst = join(dir, rank, 'model_optim_rng.pt');
    if (alter) writeFileSync(dst, alter(readFileSync(src)));
    else copyFileSync(src, dst);
  }
  return dir;
}

/** Same-length byte replacement of the first occurrence of `from` at or after `after`. */
function patch(b: Buffer, from: Buffer, to: Buffer, after = 0): Buffer {
  expect(to.length).toBe(from.length);
  const at = b.indexOf(from, after);
  expect(at).toBeGreaterThan(0);
  const out = Buffer.from(b);
  to.copy(out, at);
  return out;
}

describe('hostile legacy checkpoints', () => {
  test('a missing tensor-parallel rank directory', () => {
    const dir = iterCopy('missing-tp', 'gpt2', 'tp2pp1', { mp_rank_00: null });
    const e = errorOf(() => openLegacy(dir));
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.message).toContain('mp_rank_01');
    expect(e.file).toBe(dir);
  });

  test('a missing pipeline stage', () => {
    const dir = iterCopy('missing-pp', 'llama', 'tp1pp2', { mp_rank_00_001: null });
    const e = errorOf(() => openLegacy(dir));
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.message).toContain('mp_rank_00_000');
  });

  test('a rank directory outside the layout', () => {
    const dir = iterCopy('extra-rank', 'gpt2', 'tp2pp1', { mp_rank_00: null, mp_rank_01: null });
    mkdirSync(join(dir, 'mp_rank_02'));
    copyFileSync(join(dir, 'mp_rank_01', 'model_optim_rng.pt'), join(dir, 'mp_rank_02', 'model_optim_rng.pt'));
    const e = errorOf(() => openLegacy(dir));
    expect(e.code).toBe('E_FORMAT');
    expect(e.file).toBe(join(dir, 'mp_rank_02', 'model_optim_rng.pt'));
  });

  test('shapes that disagree between tensor-parallel ranks', () => {
    // rank 1's linear_proj.weight is pickled with size (64, 32): make it (32, 32) (still inside its storage)
    const key = Buffer.from('decoder.layers.0.self_attention.linear_proj.weight');
    const dir = iterCopy('bad-shape', 'gpt2', 'tp2pp1', {
      mp_rank_00: null,
      mp_rank_01: (b) => patch(b, Buffer.from([0x4b, 64, 0x4b, 32, 0x86]), Buffer.from([0x4b, 32, 0x4b, 32, 0x86]), b.indexOf(key)),
    });
    const e = errorOf(() => openLegacy(dir));
    expect(e.code).toBe('E_SHAPE');
    expect(e.file).toBe(join(dir, 'mp_rank_01', 'model_optim_rng.pt'));
    expect(e.tensor).toBe('decoder.layers.0.self_attention.linear_proj.weight');
  });

  test('a tensor that reaches past its storage', () => {
    const key = Buffer.from('decoder.layers.0.self_attention.linear_proj.weight');
    const dir = iterCopy('past-storage', 'gpt2', 'tp2pp1', {
      mp_rank_00: null,
      mp_rank_01: (b) => patch(b, Buffer.from([0x4b, 64, 0x4b, 32, 0x86]), Buffer.from([0x4b, 65, 0x4b, 32, 0x86]), b.indexOf(key)),
    });
    const e = errorOf(() => openLegacy(dir));
    expect(e.code).toBe('E_FORMAT');
    expect(e.file).toBe(join(dir, 'mp_rank_01', 'model_optim_rng.pt'));
  });

  test('rank files of two different checkpoints mixed', () => {
    const dir = iterCopy('mixed', 'gpt2', 'tp2pp1', { mp_rank_00: null });
    mkdirSync(join(dir, 'mp_rank_01'));
    copyFileSync(join(FIX, 'llama/torch/tp2pp1/iter_0000010/mp_rank_01/model_optim_rng.pt'), join(dir, 'mp_rank_01', 'model_optim_rng.pt'));
    const e = errorOf(() => openLegacy(dir));
    expect(e.code).toBe('E_FORMAT');
    expect(e.file).toBe(join(dir, 'mp_rank_01', 'model_optim_rng.pt'));
  });

  test('a pickle global outside the allowlist in a rank file (same length as the one it replaces)', () => {
    const dir = iterCopy('evil-global', 'gpt2', 'tp2pp1', {
      mp_rank_00: null,
      mp_rank_01: (b) => patch(b, Buffer.from('collections\nOrderedDict\n'), Buffer.from('subprocess\ncheck_output\n')),
    });
    const e = errorOf(() => openCheckpoint(dir));
    expect(e.code).toBe('E_SECURITY');
    expect(e.message).toContain('subprocess.check_output');
    expect(e.file).toBe(join(dir, 'mp_rank_01', 'model_optim_rng.pt'));
  });

  test('a truncated rank file', () => {
    const dir = iterCopy('truncated', 'llama', 'tp2pp1', { mp_rank_00: null, mp_rank_01: (b) => b.subarray(0, b.length - 100) });
    const e = errorOf(() => openLegacy(dir));
    expect(e.code).toBe('E_FORMAT');
    expect(e.file).toBe(join(dir, 'mp_rank_01', 'model_optim_rng.pt'));
  });

  test('one rank of a sharded checkpoint opened as a single file', () => {
    const e = errorOf(() => openLegacy(join(FIX, 'gpt2/torch/tp2pp1/iter_0000010/mp_rank_00/model_optim_rng.pt')));
    expect(e.code).toBe('E_USAGE');
  });
});
