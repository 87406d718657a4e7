// mergeLegacy on synthetic shards for the layouts the fixtures lack (virtual pipeline, TP × EP, GLU experts):
// known global tensors are cut the way Megatron shards them (spec §1.5), put in rank state dicts with local
// layer and expert numbers, and the merge must give the global tensors back, element for element.
import { describe, expect, test } from 'vitest';
import { ExportError } from '../../lib/errors.js';
import { mergeLegacy, type MergeOptions, type RankStateDict } from '../../lib/megatron/merge.js';
import { memoryView, type View } from '../../lib/tensor/view.js';
import { materialize } from '../support/materialize.js';

const H = 4;
const F = 6;
const E = 4;

/** A row-major int32 tensor whose elements are all different across tensors. */
let seed = 0;
function globalTensor(shape: number[]): Int32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = Int32Array.from({ length: n }, (_, i) => seed + i);
  seed += 100_000;
  return a;
}
const view = (a: Int32Array, shape: number[]): View => memoryView(new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)), 'int32', shape);
const rows = (a: Int32Array, cols: number, from: number, count: number) => a.slice(from * cols, (from + count) * cols);
function colsOf(a: Int32Array, nrows: number, ncols: number, from: number, count: number): Int32Array {
  const out = new Int32Array(nrows * count);
  for (let r = 0; r < nrows; r++) for (let c = 0; c < count; c++) out[r * count + c] = a[r * ncols + from + c]!;
  return out;
}
const bytesOf = (a: Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

interface Global {
  shape: number[];
  data: Int32Array;
  /** rank t's piece */
  shard: (t: number, tp: number) => View;
}
function column(shape: number[]): Global {
  const data = globalTensor(shape);
  const cols = shape.slice(1).reduce((a, b) => a * b, 1);
  return { shape, data, shard: (t, tp) => view(rows(data, cols, (t * shape[0]!) / tp, shape[0]! / tp), [shape[0]! / tp, ...shape.slice(1)]) };
}
function row(shape: [number, number]): Global {
  const data = globalTensor(shape);
  return { shape, data, shard: (t, tp) => view(colsOf(data, shape[0], shape[1], (t * shape[1]) / tp, shape[1] / tp), [shape[0], shape[1] / tp]) };
}
function replicated(shape: number[]): Global {
  const data = globalTensor(shape);
  return { shape, data, shard: () => view(data, shape) };
}
/** SwiGLU fc1 [2F', H]: rank t holds [gate_t; up_t] */
function glu(f: number): Global {
  const data = globalTensor([2 * f, H]);
  return {
    shape: [2 * f, H],
    data,
    shard: (t, tp) => {
      const part = f / tp;
      const gate = rows(data, H, t * part, part);
      const up = rows(data, H, f + t * part, part);
      const both = new Int32Array(gate.length + up.length);
      both.set(gate);
      both.set(up, gate.length);
      return view(both, [2 * part, H]);
    },
  };
}

function model(o: { tp: number; pp: number; ep: number; vp: number; layers: number; moe: boolean; tied: boolean }) {
  const globals = new Map<string, Global>();
  globals.set('embedding.word_embeddings.weight', column([12, H]));
  for (let l = 0; l < o.layers; l++) {
    const p = `decoder.layers.${l}.`;
    globals.set(`${p}input_layernorm.weight`, replicated([H]));
    globals.set(`${p}self_attention.linear_qkv.weight`, column([12, H]));
    globals.set(`${p}self_attention.linear_proj.weight`, row([H, 6]));
    globals.set(`${p}pre_mlp_layernorm.weight`, replicated([H]));
    if (o.moe) {
      globals.set(`${p}mlp.router.weight`, replicated([E, H]));
      for (let e = 0; e < E; e++) {
        globals.set(`${p}mlp.experts.local_experts.${e}.linear_fc1.weight`, glu(F));
        globals.set(`${p}mlp.experts.local_experts.${e}.linear_fc2.weight`, row([H, F]));
      }
    } else {
      globals.set(`${p}mlp.linear_fc1.weight`, glu(F));
      globals.set(`${p}mlp.linear_fc2.weight`, row([H, F]));
      globals.set(`${p}mlp.linear_fc2.bias`, replicated([H]));
    }
  }
  globals.set('decoder.final_layernorm.weight', replicated([H]));
  const output = column([12, H]);
  if (!o.tied) globals.set('output_layer.weight', output);

  // Which chunk (vp, pp) holds global layer l: chunks ordered vp·PP + pp, layers spread evenly.
  const chunks = o.vp * o.pp;
  const per = o.layers / chunks;
  const shards: RankStateDict[] = [];
  for (let vp = 0; vp < o.vp; vp++) {
    for (let pp = 0; pp < o.pp; pp++) {
      const c = vp * o.pp + pp;
      for (let t = 0; t < o.tp; t++) {
        for (let ep = 0; ep < o.ep; ep++) {
          const entries = new Map<string, unknown>();
          for (const [name, g] of globals) {
            const m = /^decoder\.layers\.(\d+)\.(.*)$/.exec(name);
            if (!m) {
              const first = c === 0 && name.startsWith('embedding.');
              const last = c === chunks - 1 && !name.startsWith('embedding.');
              if (first || last) entries.set(name, g.shard(t, o.tp));
              continue;
            }
            const l = Number(m[1]);
            if (Math.floor(l / per) !== c) continue;
            let rest = m[2]!;
            const ex = /^mlp\.experts\.local_experts\.(\d+)\.(.*)$/.exec(rest);
            if (ex) {
              const e = Number(ex[1]);
              const perRank = E / o.ep;
              if (Math.floor(e / perRank) !== ep) continue;
              rest = `mlp.experts.local_experts.${e % perRank}.${ex[2]}`;
            }
            entries.set(`decoder.layers.${l - c * per}.${rest}`, g.shard(t, o.tp));
            if (rest.endsWith('.weight')) entries.set(`decoder.layers.${l - c * per}.${rest.replace(/\.weight$/, '._extra_state')}`, null);
          }
          // the tied copy on the last stage (PP > 1), which the merge must drop
          if (o.tied && o.pp > 1 && c === chunks - 1) entries.set('output_layer.weight', output.shard(t, o.tp));
          shards.push({ tp: t, pp, ep, vp, file: `rank-${vp}-${pp}-${t}-${ep}`, entries });
        }
      }
    }
  }
  const opts: MergeOptions = { tp: o.tp, pp: o.pp, ep: o.ep, vp: o.vp, numLayers: o.layers, gatedLinearUnit: true, numExperts: o.moe ? E : undefined, tiedEmbeddings: o.tied };
  return { globals, shards, opts };
}

describe('mergeLegacy gives back the global tensors', () => {
  test.each([
    { tp: 2, pp: 2, ep: 1, vp: 2, layers: 8, moe: false, tied: true },
    { tp: 3, pp: 1, ep: 1, vp: 1, layers: 2, moe: false, tied: false },
    { tp: 2, pp: 1, ep: 2, vp: 1, layers: 2, moe: true, tied: false },
    { tp: 1, pp: 2, ep: 4, vp: 1, layers: 4, moe: true, tied: true },
  ])('TP$tp PP$pp EP$ep VP$vp moe=$moe tied=$tied', (o) => {
    const { globals, shards, opts } = model(o);
    const merged = mergeLegacy(shards, opts);
    expect([...merged.keys()].sort()).toEqual([...globals.keys()].sort());
    for (const [name, g] of globals) {
      const t = merged.get(name)!;
      expect([name, t.shape]).toEqual([name, g.shape]);
      expect([name, Buffer.from(materialize(t)).equals(Buffer.from(bytesOf(g.data)))]).toEqual([name, true]);
    }
    // layer order follows the chunks: vp-major, then pipeline stage
    const layerOrder = [...merged.keys()].map((n) => /^decoder\.layers\.(\d+)\./.exec(n)?.[1]).filter((x) => x !== undefined).map(Number);
    expect(layerOrder).toEqual([...layerOrder].sort((a, b) => a - b));
  });

  test('a layer count that disagrees with args, or with decoder_first_pipeline_num_layers', () => {
    const { shards, opts } = model({ tp: 1, pp: 2, ep: 1, vp: 1, layers: 4, moe: false, tied: false });
    expect(() => mergeLegacy(shards, { ...opts, numLayers: 5 })).toThrow(ExportError);
    expect(() => mergeLegacy(shards, { ...opts, firstStageLayers: 3 })).toThrow(/decoder_first_pipeline_num_layers/);
  });

  test('an expert count that disagrees with args.num_experts', () => {
    const { shards, opts } = model({ tp: 1, pp: 1, ep: 2, vp: 1, layers: 2, moe: true, tied: false });
    expect(() => mergeLegacy(shards, { ...opts, numExperts: 8 })).toThrow(/local experts/);
  });

  test('an unknown tensor under TP > 1 is refused rather than guessed', () => {
    const { shards, opts } = model({ tp: 2, pp: 1, ep: 1, vp: 1, layers: 2, moe: false, tied: false });
    for (const s of shards) (s.entries as Map<string, unknown>).set('decoder.layers.0.self_attention.mystery.weight', memoryView(new Uint8Array(16), 'int32', [4]));
    try {
      mergeLegacy(shards, opts);
      throw new Error('expected a refusal');
    } catch (e) {
      expect((e as ExportError).code).toBe('E_UNSUPPORTED');
      expect((e as ExportError).tensor).toBe('decoder.layers.0.self_attention.mystery.weight');
    }
  });
});
