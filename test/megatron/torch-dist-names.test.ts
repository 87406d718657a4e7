// torch_dist key → legacy name rules on shapes the fixtures do not have: TE naming kept, grouped-GEMM experts,
// non-homogeneous (per-layer) keys, uneven chunks. Tensors are small memory views whose element values encode
// their global index, so a misplaced block shows up as a wrong value.
import { describe, expect, test } from 'vitest';
import { isExportError } from '../../lib/errors.js';
import { isModelWeightKey, legacyEntries, unstack } from '../../lib/megatron/dcp-names.js';
import { contiguousStrides, numel } from '../../lib/tensor/shape.js';
import { checkTiling, type Block, type Tensor } from '../../lib/tensor/tensor.js';
import { memoryView } from '../../lib/tensor/view.js';
import { materialize } from '../support/materialize.js';

/** A float32 tensor of `shape` whose element at flat index i is i, cut into the given boxes (as DCP chunks). */
function chunked(shape: number[], boxes: { at: number[]; size: number[] }[]): Tensor {
  const strides = contiguousStrides(shape);
  const blocks: Block[] = boxes.map(({ at, size }) => {
    const vals = new Float32Array(numel(size));
    const idx = size.map(() => 0);
    for (let k = 0; k < vals.length; k++) {
      vals[k] = idx.reduce((s, x, d) => s + (x + at[d]!) * strides[d]!, 0);
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d]! < size[d]!) break;
        idx[d] = 0;
      }
    }
    return { at, view: memoryView(new Uint8Array(vals.buffer), 'float32', size) };
  });
  return { dtype: 'float32', shape, blocks };
}

const values = (t: Tensor) => [...new Float32Array(materialize(t).buffer)];
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('legacyEntries', () => {
  const te = { numLayers: 2, localSpec: false, groupedGemm: false };
  const local = { ...te, localSpec: true };

  test('stacked layers become per-layer tensors with the right elements', () => {
    // [2 layers, 4, 3], TP2 row split: chunks of [1, 2, 3]
    const t = chunked([2, 4, 3], [0, 1].flatMap((l) => [0, 2].map((r) => ({ at: [l, r, 0], size: [1, 2, 3] }))));
    const out = legacyEntries('decoder.layers.self_attention.linear_qkv.weight', t, te);
    expect(out.map(([n]) => n)).toEqual(['decoder.layers.0.self_attention.linear_qkv.weight', 'decoder.layers.1.self_attention.linear_qkv.weight']);
    out.forEach(([n, x], l) => {
      checkTiling(x, n);
      expect(x.shape).toEqual([4, 3]);
      expect(values(x)).toEqual(range(l * 12, 12));
    });
  });

  test('norm renames only for the local spec', () => {
    const t = chunked([2, 3], [{ at: [0, 0], size: [2, 3] }]);
    expect(legacyEntries('decoder.layers.mlp.linear_fc1.layer_norm_weight', t, te).map(([n]) => n)).toEqual(['decoder.layers.0.mlp.linear_fc1.layer_norm_weight', 'decoder.layers.1.mlp.linear_fc1.layer_norm_weight']);
    expect(legacyEntries('decoder.layers.mlp.linear_fc1.layer_norm_weight', t, local).map(([n]) => n)).toEqual(['decoder.layers.0.pre_mlp_layernorm.weight', 'decoder.layers.1.pre_mlp_layernorm.weight']);
    expect(legacyEntries('decoder.layers.self_attention.linear_qkv.layer_norm_bias', t, local).map(([n]) => n)).toEqual(['decoder.layers.0.input_layernorm.bias', 'decoder.layers.1.input_layernorm.bias']);
  });

  test('experts: SequentialMLP and grouped-GEMM names; per-layer (non-homogeneous) keys', () => {
    // [2 layers, 3 experts, 4 rows, 2] with gate/up halves as separate chunks, as Megatron writes fc1
    const t = chunked([2, 3, 4, 2], [0, 1].flatMap((l) => [0, 1, 2].flatMap((e) => [0, 2].map((r) => ({ at: [l, e, r, 0], size: [1, 1, 2, 2] })))));
    const seq = legacyEntries('decoder.layers.mlp.experts.experts.linear_fc1.weight', t, local);
    expect(seq.map(([n]) => n)).toEqual([0, 1].flatMap((l) => [0, 1, 2].map((e) => `decoder.layers.${l}.mlp.experts.local_experts.${e}.linear_fc1.weight`)));
    seq.forEach(([, x], i) => expect(values(x)).toEqual(range(i * 8, 8)));
    const grouped = legacyEntries('decoder.layers.mlp.experts.linear_fc1.weight', t, { ...te, groupedGemm: true });
    expect(grouped.map(([n]) => n).slice(0, 3)).toEqual([0, 1, 2].map((e) => `decoder.layers.0.mlp.experts.linear_fc1.weight${e}`));
    const perLayer = legacyEntries('decoder.layers.5.mlp.experts.experts.linear_fc2.weight', chunked([3, 2, 2], [{ at: [0, 0, 0], size: [3, 2, 2] }]), local);
    expect(perLayer.map(([n]) => n)).toEqual([0, 1, 2].map((e) => `decoder.layers.5.mlp.experts.local_experts.${e}.linear_fc2.weight`));
  });

  test('uneven chunks spanning several layers are split per layer', () => {
    const t = chunked([2, 3], [{ at: [0, 0], size: [2, 1] }, { at: [0, 1], size: [2, 2] }]);
    const out = legacyEntries('decoder.layers.final_thing.weight', t, te);
    out.forEach(([n, x], l) => {
      checkTiling(x, n);
      expect(values(x)).toEqual(range(l * 3, 3));
    });
  });

  test('non-layer keys pass through; a stacked key not led by num_layers is E_FORMAT', () => {
    const emb = chunked([4, 2], [{ at: [0, 0], size: [4, 2] }]);
    expect(legacyEntries('embedding.word_embeddings.weight', emb, te)).toEqual([['embedding.word_embeddings.weight', emb]]);
    try {
      legacyEntries('decoder.layers.mlp.linear_fc2.weight', chunked([3, 2], [{ at: [0, 0], size: [3, 2] }]), te);
      expect.unreachable();
    } catch (e) {
      expect(isExportError(e) && e.code).toBe('E_FORMAT');
    }
  });

  test('unstack keeps blocks zero-copy (same storages)', () => {
    const t = chunked([2, 2], [{ at: [0, 0], size: [2, 2] }]);
    const [a, b] = unstack(t, 'x');
    expect(a!.blocks[0]!.view.storage).toBe(t.blocks[0]!.view.storage);
    expect(b!.blocks[0]!.view.offset).toBe(2);
  });
});

test('isModelWeightKey skips non-weights', () => {
  for (const k of ['common_state/shard_0_1', 'rng_state/shard_0.0_1.1', 'optimizer.state.exp_avg.x', 'decoder.layers.mlp.linear_fc1._extra_state/shard_0_2', 'decoder.layers.mlp.experts.linear_fc1._extra_state3/shard_0.3_2.4']) {
    expect([k, isModelWeightKey(k)]).toEqual([k, false]);
  }
  expect(isModelWeightKey('decoder.layers.mlp.linear_fc1.weight')).toBe(true);
});
