// openCheckpoint on every fixture: the format is detected from the directory alone, every entry path (root,
// tracker file, iteration dir, single file) opens the same checkpoint, and the legacy and torch_dist saves of
// one model (two independent readers over files Megatron wrote) give the same tensors.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { errorOf } from '../support/errors.js';
import { configFromArgs } from '../../lib/megatron/config.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import type { Tensor } from '../../lib/tensor/tensor.js';
import { materialize } from '../support/materialize.js';
import { FIXTURES } from '../support/fixtures.js';

const ROOT = FIXTURES;
const FIX = join(ROOT, 'megatron');
const manifest = JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8'));
const models = readdirSync(FIX).sort();
const tmp = mkdtempSync(join(tmpdir(), 'open-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const digest = (t: Tensor) => createHash('sha256').update(materialize(t)).digest('hex');

describe('format detection', () => {
  test.each(models)('%s: root, tracker, iteration dir and single file agree', (model) => {
    const root = join(FIX, model, 'torch', 'tp1pp1');
    const a = openCheckpoint(root);
    expect(a.format).toBe('torch');
    expect(a.iteration).toBe(10);
    expect(a.modelType).toBe(manifest.models[model].hyperparameters['TRTLLMHelper model_type']);
    expect(a.config.numLayers).toBe(manifest.models[model].hyperparameters.num_layers);
    const others = [
      openCheckpoint(join(root, 'latest_checkpointed_iteration.txt')),
      openCheckpoint(join(root, 'iter_0000010')),
      openCheckpoint(join(root, 'iter_0000010', 'mp_rank_00', 'model_optim_rng.pt')),
    ];
    for (const b of others) {
      expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
      expect(b.config).toEqual(a.config);
    }
    expect(openCheckpoint(join(FIX, model, 'torch_dist', 'tp1pp1')).format).toBe('torch_dist');
  });

  test.each(models)('%s: legacy and torch_dist saves hold the same tensors', (model) => {
    const legacy = openCheckpoint(join(FIX, model, 'torch', 'tp1pp1'));
    const dist = openCheckpoint(join(FIX, model, 'torch_dist', 'tp1pp1'));
    expect([...dist.tensors.keys()].sort()).toEqual([...legacy.tensors.keys()].sort());
    for (const [name, t] of legacy.tensors) {
      const d = dist.tensors.get(name)!;
      expect([name, d.dtype, d.shape]).toEqual([name, t.dtype, t.shape]);
      expect([name, digest(d)]).toEqual([name, digest(t)]);
    }
  });

  test('a safetensors file opens with a caller-given config, and refuses without one', () => {
    const file = join(ROOT, 'reference/llama/tp1_pp1_bfloat16/rank0.safetensors');
    expect(errorOf(() => openCheckpoint(file)).code).toBe('E_CONFIG');
    const args = openCheckpoint(join(FIX, 'llama/torch/tp1pp1')).args!;
    const ck = openCheckpoint(file, { config: configFromArgs(args, 'test') });
    expect(ck.format).toBe('safetensors');
    expect(ck.tensors.size).toBeGreaterThan(0);
    expect(ck.modelType).toBe('llama');
  });
});

describe('paths that are not checkpoints', () => {
  test('missing path, empty dir, tracker pointing nowhere, tracker with garbage, non-zip file', () => {
    expect(errorOf(() => openCheckpoint(join(tmp, 'nothing'))).code).toBe('E_NOT_FOUND');
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    expect(errorOf(() => openCheckpoint(empty)).code).toBe('E_NOT_FOUND');

    const dangling = join(tmp, 'dangling');
    mkdirSync(dangling);
    writeFileSync(join(dangling, 'latest_checkpointed_iteration.txt'), '20\n');
    const e = errorOf(() => openCheckpoint(dangling));
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.file).toBe(join(dangling, 'iter_0000020'));

    const garbage = join(tmp, 'garbage');
    mkdirSync(garbage);
    writeFileSync(join(garbage, 'latest_checkpointed_iteration.txt'), '../../etc');
    expect(errorOf(() => openCheckpoint(garbage)).code).toBe('E_FORMAT');

    const notZip = join(tmp, 'old.pt');
    writeFileSync(notZip, Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc]));
    expect(errorOf(() => openCheckpoint(notZip)).code).toBe('E_UNSUPPORTED');
  });

  test('iteration dirs without a tracker are listed in the error', () => {
    const dir = join(tmp, 'untracked');
    mkdirSync(join(dir, 'iter_0000005'), { recursive: true });
    const e = errorOf(() => openCheckpoint(dir));
    expect(e.code).toBe('E_NOT_FOUND');
    expect(e.message).toContain('iter_0000005');
  });
});
