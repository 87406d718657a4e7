// Every sharded legacy layout of every fixture model, merged, equals the model's TP1 PP1 legacy checkpoint:
// same names, dtypes, shapes and bytes. The sharded files were written by Megatron itself (resharded from
// the same weights), so agreement checks the merge rules against Megatron, not against this code.
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { openLegacy } from '../../lib/megatron/legacy.js';
import { checkTiling, type Tensor } from '../../lib/tensor/tensor.js';
import { materialize } from '../support/materialize.js';
import { fixture } from '../support/fixtures.js';

const FIX = fixture('megatron');
const iterDir = (model: string, layout: string) => join(FIX, model, 'torch', layout, 'iter_0000010');

const digest = (t: Tensor) => createHash('sha256').update(materialize(t)).digest('hex');

const baselines = new Map<string, Map<string, { dtype: string; shape: readonly number[]; sha: string }>>();
function baseline(model: string) {
  let b = baselines.get(model);
  if (!b) {
    const ck = openLegacy(iterDir(model, 'tp1pp1'));
    b = new Map([...ck.tensors].map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape, sha: digest(t) }]));
    baselines.set(model, b);
  }
  return b;
}

const cases: [string, string][] = [];
for (const model of readdirSync(FIX).sort()) {
  for (const layout of readdirSync(join(FIX, model, 'torch')).sort()) if (layout !== 'tp1pp1') cases.push([model, layout]);
}

describe('legacy layouts merge to the TP1 PP1 tensors', () => {
  test('there are sharded layouts for every model', () => {
    expect(new Set(cases.map((c) => c[0])).size).toBe(readdirSync(FIX).length);
    expect(cases.some((c) => c[1] === 'ep2')).toBe(true);
  });

  test.each(cases)('%s %s', (model, layout) => {
    const want = baseline(model);
    const ck = openLegacy(iterDir(model, layout));
    expect(ck.iteration).toBe(10);
    // same names in the same (TP1 state-dict) order
    expect([...ck.tensors.keys()]).toEqual([...want.keys()]);
    for (const [name, t] of ck.tensors) {
      checkTiling(t, name);
      const w = want.get(name)!;
      expect([name, t.dtype, t.shape]).toEqual([name, w.dtype, w.shape]);
      expect([name, digest(t)]).toEqual([name, w.sha]);
    }
    const m = /^tp(\d)pp(\d)$/.exec(layout);
    if (m) expect([ck.layout.tp, ck.layout.pp, ck.layout.ep]).toEqual([Number(m[1]), Number(m[2]), 1]);
    else expect(ck.layout.ep).toBe(2);
    // sharded layouts really are tilings of several files
    if (ck.layout.tp > 1) {
      const qkv = ck.tensors.get('decoder.layers.0.self_attention.linear_qkv.weight')!;
      expect(new Set(qkv.blocks.map((b) => (b.view.storage as { path: string }).path)).size).toBe(ck.layout.tp);
    }
  });

  test('tp1pp1 names are TP1 legacy names without extra state, tied output layer or local indices', () => {
    for (const model of readdirSync(FIX)) {
      const names = [...baseline(model).keys()];
      expect(names.some((n) => n.includes('_extra_state'))).toBe(false);
      expect(names).toContain('embedding.word_embeddings.weight');
      expect(names).toContain('decoder.final_layernorm.weight');
    }
    // gpt2 ties embeddings: no output layer even from the PP2 copy
    expect(baseline('gpt2').has('output_layer.weight')).toBe(false);
    expect(baseline('llama').has('output_layer.weight')).toBe(true);
    // mixtral: 4 global experts per layer
    const experts = [...baseline('mixtral').keys()].filter((n) => /^decoder\.layers\.1\.mlp\.experts\.local_experts\.\d+\.linear_fc1\.weight$/.test(n));
    expect(experts.length).toBe(4);
  });
});
