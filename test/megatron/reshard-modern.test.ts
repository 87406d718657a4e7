// The layouts the modern fixtures lack (TP2, PP2, EP2, TP2×EP2, the grouped-GEMM expert spellings, Transformer
// Engine names), made from the real TP1 fixtures by test/support/reshard-legacy.ts (Megatron's cuts written out
// on their own), opened by openCheckpoint: every tensor must equal the TP1 original, byte for byte, under its
// spelling (TE fused norm names, TEGroupedMLP `linear_fc1.weight<g>`; legacy GroupedMLP comes back as
// SequentialMLP names). Also: an unknown tensor in a TP2 rank file has no merge rule and is refused by name.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { errorOf } from '../support/errors.js';
import { modernFixture } from '../support/fixtures.js';
import { materialize } from '../support/materialize.js';
import { type DistLayout, reshardDist } from '../support/reshard-dist.js';
import { type LegacyLayout, reshardLegacy } from '../support/reshard-legacy.js';

const tmp = mkdtempSync(join(tmpdir(), 'reshard-modern-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const DENSE: [string, LegacyLayout][] = [
  ['tp2', { tp: 2 }],
  ['pp2', { pp: 2 }],
  ['tp2-te', { tp: 2, te: true }],
];
const MOE: [string, LegacyLayout][] = [
  ['ep2', { ep: 2 }],
  ['tp2ep2', { tp: 2, ep: 2 }],
  ['ep2-te-grouped', { ep: 2, experts: 'te-grouped' }],
  ['tp2ep2-legacy-grouped', { tp: 2, ep: 2, experts: 'legacy-grouped' }],
];
const CASES: [string, string, LegacyLayout][] = [
  ...['qwen2', 'qwen3'].flatMap((m) => DENSE.map(([n, l]) => [m, n, l] as [string, string, LegacyLayout])),
  ...['qwen3_moe', 'deepseek', 'deepseek_mla'].flatMap((m) => [...DENSE, ...MOE].map(([n, l]) => [m, n, l] as [string, string, LegacyLayout])),
];

/** The TP1 local-spec SequentialMLP name a re-sharded name stands for. */
function canonical(name: string): string {
  return name
    .replace(/self_attention\.linear_qkv\.layer_norm_(weight|bias)$/, 'input_layernorm.$1')
    .replace(/mlp\.linear_fc1\.layer_norm_(weight|bias)$/, 'pre_mlp_layernorm.$1')
    .replace(/self_attention\.linear_q_up_proj\.layer_norm_weight$/, 'self_attention.q_layernorm.weight')
    .replace(/self_attention\.linear_kv_up_proj\.layer_norm_weight$/, 'self_attention.kv_layernorm.weight')
    .replace(/mlp\.experts\.(linear_fc[12])\.weight(\d+)$/, 'mlp.experts.local_experts.$2.$1.weight');
}

describe('re-sharded modern fixtures read back as the TP1 tensors', () => {
  test.each(CASES)('%s %s', (model, name, layout) => {
    const src = modernFixture('megatron', model, 'torch', 'tp1pp1');
    const ref = openCheckpoint(src);
    const dst = join(tmp, `${model}-${name}`);
    reshardLegacy(src, dst, layout);
    const got = openCheckpoint(dst);
    expect(got.layout).toMatchObject({ tp: layout.tp ?? 1, pp: layout.pp ?? 1, ep: layout.ep ?? 1 });
    const names = [...got.tensors.keys()];
    expect(names.map(canonical).sort()).toEqual([...ref.tensors.keys()].sort());
    if (layout.te) expect(names.some((n) => n.includes('layer_norm_weight'))).toBe(true);
    if (layout.experts === 'te-grouped') expect(names.some((n) => /linear_fc1\.weight\d+$/.test(n))).toBe(true);
    for (const n of names) {
      const a = got.tensors.get(n)!;
      const b = ref.tensors.get(canonical(n))!;
      expect({ n, dtype: a.dtype, shape: a.shape }).toEqual({ n, dtype: b.dtype, shape: b.shape });
      expect(Buffer.from(materialize(a)).equals(Buffer.from(materialize(b))), n).toBe(true);
    }
    got.close();
    ref.close();
  });
});

describe('unknown tensors are refused by name', () => {
  test('a TP2 checkpoint with a tensor no merge rule knows fails with E_UNSUPPORTED naming it', () => {
    const dst = join(tmp, 'unknown-tp2');
    reshardLegacy(modernFixture('megatron', 'deepseek_mla', 'torch', 'tp1pp1'), dst, { tp: 2, unknownTensor: 'decoder.layers.2.self_attention.linear_mystery.weight' });
    const e = errorOf(() => openCheckpoint(dst));
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.tensor).toBe('decoder.layers.2.self_attention.linear_mystery.weight');
  });
});

describe('torch_dist of the modern fixtures = their legacy files', () => {
  // stacked (qwen3_moe) and per-layer (mixed dense/MoE) keys, experts [E, 2F, H] in gate/up chunks, fp32 expert_bias
  test.each(['qwen2', 'qwen3', 'qwen3_moe', 'deepseek', 'deepseek_mla'])('%s', (model) => {
    const legacy = openCheckpoint(modernFixture('megatron', model, 'torch', 'tp1pp1'));
    const dist = openCheckpoint(modernFixture('megatron', model, 'torch_dist', 'tp1pp1'));
    expect([...dist.tensors.keys()].sort()).toEqual([...legacy.tensors.keys()].sort());
    for (const [n, t] of dist.tensors) {
      const l = legacy.tensors.get(n)!;
      expect({ n, dtype: t.dtype, shape: t.shape }).toEqual({ n, dtype: l.dtype, shape: l.shape });
      expect(Buffer.from(materialize(t)).equals(Buffer.from(materialize(l))), n).toBe(true);
    }
    if (model.startsWith('deepseek')) expect(dist.tensors.get('decoder.layers.1.mlp.router.expert_bias')?.dtype).toBe('float32');
  });
});

describe('torch_dist re-chunked as TP2 / EP2 / TP2×EP2 reads back as the TP1 tensors', () => {
  const DIST: [string, DistLayout][] = [
    ['tp2', { tp: 2 }],
    ['ep2', { ep: 2 }],
    ['tp2ep2', { tp: 2, ep: 2 }],
  ];
  const cases = ['qwen2', 'qwen3', 'qwen3_moe', 'deepseek', 'deepseek_mla'].flatMap((m) => DIST.filter(([n]) => n === 'tp2' || !['qwen2', 'qwen3'].includes(m)).map(([n, l]) => [m, n, l] as [string, string, DistLayout]));
  test.each(cases)('%s %s', (model, name, layout) => {
    const ref = openCheckpoint(modernFixture('megatron', model, 'torch', 'tp1pp1'));
    const dst = join(tmp, `dist-${model}-${name}`);
    reshardDist(modernFixture('megatron', model, 'torch_dist', 'tp1pp1'), dst, layout);
    const got = openCheckpoint(dst);
    expect(got.format).toBe('torch_dist');
    expect(got.layout).toMatchObject({ tp: layout.tp ?? 1, ep: layout.ep ?? 1 });
    // more chunks than files: the tiling was really cut
    expect(got.layout.files.length).toBe((layout.tp ?? 1) * (layout.ep ?? 1));
    expect([...got.tensors.keys()].sort()).toEqual([...ref.tensors.keys()].sort());
    for (const [n, t] of got.tensors) {
      const b = ref.tensors.get(n)!;
      expect({ n, dtype: t.dtype, shape: t.shape }).toEqual({ n, dtype: b.dtype, shape: b.shape });
      expect(Buffer.from(materialize(t)).equals(Buffer.from(materialize(b))), n).toBe(true);
    }
  });
});
