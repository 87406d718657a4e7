// openTorchDist on every torch_dist fixture: the logical tensors must be the TP1 PP1 legacy state dict —
// same names, dtypes and shapes as the manifest lists for the legacy tp1pp1 file, and (when the interop venv
// exists) the same bytes as PyTorch's own torch.load of that legacy file.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { openTorchDist } from '../../lib/megatron/torch-dist.js';
import { checkTiling } from '../../lib/tensor/tensor.js';
import { materialize } from '../support/materialize.js';
import { pythonUnavailable, runPython } from '../formats/safetensors-python.js';

const FIX = FIXTURES;
const manifest = JSON.parse(readFileSync(join(FIX, 'manifest.json'), 'utf8'));

/** [model, layout] of every torch_dist checkpoint in the manifest */
const cases: [string, string][] = [];
for (const [model, m] of Object.entries<any>(manifest.models)) {
  for (const layout of Object.keys(m.checkpoints)) if (layout.startsWith('torch_dist/')) cases.push([model, layout.slice('torch_dist/'.length)]);
}
const models = [...new Set(cases.map(([m]) => m))];

function legacyFile(model: string): string {
  const c = manifest.models[model].checkpoints['torch/tp1pp1'];
  return join(FIX, c.files.find((f: { path: string }) => f.path.endsWith('model_optim_rng.pt')).path);
}

/** torch.load of a legacy file with Megatron's classes stubbed (never imported): per tensor dtype, shape, sha256. */
const LEGACY_DIGESTS = `
import hashlib, importlib.abc, importlib.machinery, json, sys, types, torch
class Stub:
    def __init__(self, *a, **k): pass
    def __setstate__(self, s): pass
class StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == 'megatron' or name.startswith('megatron.'):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
    def create_module(self, spec):
        m = types.ModuleType(spec.name)
        m.__getattr__ = lambda attr: type(attr, (Stub,), {})
        return m
    def exec_module(self, m): pass
sys.meta_path.insert(0, StubFinder())
out = {}
for path in json.load(sys.stdin):
    sd = torch.load(path, map_location='cpu', weights_only=False)['model']
    out[path] = {k: {'dtype': str(t.dtype).replace('torch.', ''), 'shape': list(t.shape),
                     'sha256': hashlib.sha256(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()).hexdigest()}
                 for k, t in sd.items() if torch.is_tensor(t)}
print(json.dumps(out))
`;
import { FIXTURES } from '../support/fixtures.js';

type Digests = Record<string, { dtype: string; shape: number[]; sha256: string }>;
const noPython = pythonUnavailable();
let digests: Record<string, Digests> = {};

beforeAll(() => {
  if (noPython) return;
  digests = runPython<Record<string, Digests>>(LEGACY_DIGESTS, models.map(legacyFile));
}, 300_000);

describe('openTorchDist on the fixtures', () => {
  test.each(cases)('%s %s: names, dtypes, shapes = the legacy tp1pp1 state dict (manifest)', (model, layout) => {
    const ckpt = openTorchDist(join(FIX, 'megatron', model, 'torch_dist', layout));
    const legacy = manifest.models[model].checkpoints['torch/tp1pp1'].ranks.mp_rank_00.model as Record<string, [string, number[]] | 'None'>;
    const want = Object.entries(legacy).filter(([, v]) => v !== 'None');
    expect([...ckpt.tensors.keys()].sort()).toEqual(want.map(([k]) => k).sort());
    for (const [name, [dtype, shape]] of want as [string, [string, number[]]][]) {
      const t = ckpt.tensors.get(name)!;
      expect([name, t.dtype, t.shape]).toEqual([name, dtype, shape]);
      checkTiling(t, name);
    }
    expect(ckpt.format).toBe('torch_dist');
    expect(ckpt.iteration).toBe(10);
    const tp = /tp(\d+)/.exec(layout)?.[1] ?? '1';
    const pp = /pp(\d+)/.exec(layout)?.[1] ?? '1';
    const ep = /ep(\d+)/.exec(layout)?.[1] ?? '1';
    expect([ckpt.layout.tp, ckpt.layout.pp, ckpt.layout.ep]).toEqual([Number(tp), Number(pp), Number(ep)]);
    const distcp = manifest.models[model].checkpoints[`torch_dist/${layout}`].files.filter((f: { path: string }) => f.path.endsWith('.distcp'));
    expect(ckpt.layout.files).toEqual(distcp.map((f: { path: string }) => join(FIX, f.path)).sort());
    expect(ckpt.modelType).toBe(manifest.models[model].hyperparameters['TRTLLMHelper model_type']);
  });

  test.skipIf(noPython !== null).each(cases)('%s %s: bytes = torch.load of the legacy tp1pp1 file', (model, layout) => {
    const ckpt = openTorchDist(join(FIX, 'megatron', model, 'torch_dist', layout));
    const want = digests[legacyFile(model)]!;
    expect([...ckpt.tensors.keys()].sort()).toEqual(Object.keys(want).sort());
    for (const [name, t] of ckpt.tensors) {
      const sha = createHash('sha256').update(materialize(t)).digest('hex');
      expect([name, t.dtype, t.shape, sha]).toEqual([name, want[name]!.dtype, want[name]!.shape, want[name]!.sha256]);
    }
  });

  test('an iteration directory opens the same as the checkpoint root', () => {
    const root = join(FIX, 'megatron/llama/torch_dist/tp2pp1');
    const a = openTorchDist(root);
    const b = openTorchDist(join(root, 'iter_0000010'));
    expect(b.path).toBe(a.path);
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
  });

  test('model type override', () => {
    const ckpt = openTorchDist(join(FIX, 'megatron/llama/torch_dist/tp1pp1'), { modelType: 'gemma' });
    expect(ckpt.modelType).toBe('gemma');
  });
});

if (noPython) {
  describe('byte comparison with torch.load', () => {
    test.skip(`skipped: ${noPython}`, () => {});
  });
}
