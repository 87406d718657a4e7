// torch.save archives of every legacy fixture: names, dtypes and shapes agree with the manifest (written by the
// Python tooling that made the fixtures), and every view stays inside its storage.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readTorchSave } from '../../lib/formats/torch-save.js';
import { type View, checkInBounds } from '../../lib/tensor/view.js';
import { FIXTURES } from '../support/fixtures.js';

const FIX = FIXTURES;
const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8'));

const cases: [string, string, string, string][] = [];
for (const [model, m] of Object.entries<any>(manifest.models)) {
  for (const [layout, c] of Object.entries<any>(m.checkpoints)) {
    if (!layout.startsWith('torch/')) continue;
    for (const rank of Object.keys(c.ranks)) {
      const file = c.files.find((f: { path: string }) => f.path.includes(`/${rank}/`)).path;
      cases.push([model, layout, rank, file]);
    }
  }
}

describe('legacy model_optim_rng.pt files', () => {
  test.each(cases)('%s %s %s', (model, layout, rank, file) => {
    const info = manifest.models[model].checkpoints[layout].ranks[rank];
    const top = readTorchSave(join(FIX, file)).value as Map<string, unknown>;
    expect([...top.keys()]).toEqual(info.top_level_keys);
    expect(top.get('iteration')).toBe(info.iteration);
    expect(top.get('checkpoint_version')).toBe(info.checkpoint_version);
    expect(Object.keys(top.get('args') as object).length).toBe(info.n_args);
    const sd = top.get('model') as Map<string, View | null>;
    const expected = Object.entries<any>(info.model);
    expect([...sd.keys()]).toEqual(expected.map(([k]) => k));
    for (const [k, want] of expected) {
      const v = sd.get(k);
      if (want === 'None') {
        expect(v).toBeNull();
        continue;
      }
      expect([k, v!.dtype, v!.shape]).toEqual([k, want[0], want[1]]);
      checkInBounds(v!);
    }
  });
});
