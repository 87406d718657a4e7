// Broken or hostile torch_dist directories: a copy of a real fixture with one thing changed must fail with a
// stable code that names the file, never crash or read outside the checkpoint.
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, unlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { openTorchDist } from '../../lib/megatron/torch-dist.js';
import { fixture } from '../support/fixtures.js';
import { errorOf } from '../support/errors.js';

const SRC = fixture('megatron/llama/torch_dist/tp2pp1');
const work = mkdtempSync(join(tmpdir(), 'torch-dist-errors-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** A fresh copy of the fixture, changed by `edit(iterDir)`. */
function broken(edit: (iterDir: string) => void): string {
  const dir = join(work, `case${n++}`);
  cpSync(SRC, dir, { recursive: true });
  edit(join(dir, 'iter_0000010'));
  return dir;
}

/** Replaces every occurrence of `from` by `to` (same length, so the pickle stays well-formed). */
function replaceBytes(file: string, from: string, to: string): void {
  expect(to.length).toBe(from.length);
  const b = readFileSync(file);
  const f = Buffer.from(from, 'latin1');
  let i = b.indexOf(f);
  expect(i).toBeGreaterThanOrEqual(0);
  while (i >= 0) {
    Buffer.from(to, 'latin1').copy(b, i);
    i = b.indexOf(f, i + 1);
  }
  writeFileSync(file, b);
}

describe('openTorchDist refuses broken checkpoints', () => {
  test('sharded_backend zarr → E_UNSUPPORTED', () => {
    const dir = broken((d) => writeFileSync(join(d, 'metadata.json'), '{"sharded_backend": "zarr", "sharded_backend_version": 1}'));
    const e = errorOf(() => openTorchDist(dir));
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.message).toContain('metadata.json');
  });

  test('plain DCP without metadata.json → E_UNSUPPORTED', () => {
    const dir = broken((d) => unlinkSync(join(d, 'metadata.json')));
    expect(errorOf(() => openTorchDist(dir)).code).toBe('E_UNSUPPORTED');
  });

  test('truncated .metadata → E_FORMAT naming it', () => {
    const dir = broken((d) => truncateSync(join(d, '.metadata'), Math.floor(statSync(join(d, '.metadata')).size / 2)));
    const e = errorOf(() => openTorchDist(dir));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('.metadata');
  });

  test('a storage path leaving the directory → E_FORMAT', () => {
    const dir = broken((d) => replaceBytes(join(d, '.metadata'), '__1_0.distcp', '../x0.distcp'));
    const e = errorOf(() => openTorchDist(dir));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('../x0.distcp');
  });

  test('a class outside the allowlist in .metadata → E_SECURITY', () => {
    const dir = broken((d) => replaceBytes(join(d, '.metadata'), 'StorageMeta', 'StorageMetX'));
    expect(errorOf(() => openTorchDist(dir)).code).toBe('E_SECURITY');
  });

  test('a truncated .distcp → E_FORMAT naming the file', () => {
    const dir = broken((d) => truncateSync(join(d, '__1_0.distcp'), 1000));
    const e = errorOf(() => openTorchDist(dir));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('__1_0.distcp');
  });

  test('a missing .distcp → E_NOT_FOUND', () => {
    const dir = broken((d) => unlinkSync(join(d, '__0_0.distcp')));
    expect(errorOf(() => openTorchDist(dir)).code).toBe('E_NOT_FOUND');
  });

  test('args without num_layers → E_FORMAT naming the common state', () => {
    const dir = broken((d) => {
      replaceBytes(join(d, '__0_0.distcp'), 'num_layers', 'num_layerX');
    });
    const e = errorOf(() => openTorchDist(dir));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('num_layers');
    expect(e.message).toContain('__0_0.distcp');
  });

  test('not a checkpoint at all → E_NOT_FOUND', () => {
    expect(errorOf(() => openTorchDist(work)).code).toBe('E_NOT_FOUND');
  });
});
