// Multi-token-prediction layers: a generated DeepSeek-V3-shaped checkpoint with MTP layers (tools/generate --mtp)
// exported to DeepSeek-V3's `model.layers.<L+k>` slots. Every MTP tensor of the export is checked — name, shape,
// bytes — against the generator's own values of the Megatron tensor it must come from, through a mapping and row
// slicing written here (not the code under test). Also: the reader's MTP names (legacy `mtp_model_layer` →
// `transformer_layer`, the last stage's embedding replica dropped, torch_dist per-layer experts), and the
// targets without a place (GLM-4-MoE; a dense MTP layer) leaving them out with a note.
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { toPlain } from '../../lib/export/pyjson.js';
import { exportHf } from '../../lib/hf/export.js';
import { toHfModel } from '../../lib/hf/convert.js';
import { legacyEntries } from '../../lib/megatron/dcp-names.js';
import { mergeLegacy, type RankStateDict } from '../../lib/megatron/merge.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import type { Checkpoint } from '../../lib/megatron/types.js';
import { fromView } from '../../lib/tensor/tensor.js';
import { memoryView } from '../../lib/tensor/view.js';
import { generateCheckpoint, globalTensors } from '../../tools/generate/generate.js';
import { presetSpec, type GlobalTensor, type ModelSpec } from '../../tools/generate/model.js';
import { makeContext, produceBlocks } from '../../tools/generate/tensors.js';
import { modernFixture } from '../support/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'hf-mtp-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const SEED = 3;
const MTP = 2;
const spec: ModelSpec = presetSpec('deepseek', { numLayers: 3, mtpNumLayers: MTP, vocabSize: 250 });
const L = spec.numLayers;
const H = spec.hiddenSize;
const moe = spec.moe!;
const mla = spec.mla!;

/** Bytes of rows [r0, r0+n) of a generated global tensor (all rows when n is undefined), from the generator's values. */
function genRows(name: string, r0 = 0, n?: number): Buffer {
  const t: GlobalTensor | undefined = globalTensors(spec, 1).find((g) => g.name === name);
  if (!t) throw new Error(`generator has no tensor ${name}`);
  const cols = t.shape.length === 1 ? t.shape[0]! : t.shape[1]!;
  const rows = t.shape.length === 1 ? 1 : t.shape[0]!;
  const parts: Buffer[] = [];
  produceBlocks(makeContext(spec, SEED), t, [{ row0: r0, nrows: n ?? rows, col0: 0, ncols: cols }], (c) => parts.push(Buffer.from(c)));
  return Buffer.concat(parts);
}

/** The export's tensors: name → dtype, shape, bytes (safetensors parsed here). */
function readExport(dir: string): Map<string, { dtype: string; shape: number[]; bytes: Buffer }> {
  const out = new Map<string, { dtype: string; shape: number[]; bytes: Buffer }>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.safetensors'))) {
    const buf = readFileSync(join(dir, f));
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString()) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    for (const [k, v] of Object.entries(header)) {
      if (k === '__metadata__') continue;
      out.set(k, { dtype: v.dtype, shape: v.shape, bytes: buf.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]) });
    }
  }
  return out;
}

/**
 * What DeepSeek-V3's slot `model.layers.<L+k>.<x>` must hold, per vLLM deepseek_mtp.py / transformers MtpModel:
 * [source tensor (generator name), first row, rows] — rows undefined = the whole tensor.
 */
function expectedMtp(k: number): Map<string, [string, number, number | undefined]> {
  const p = `mtp.layers.${k}.`;
  const t = `${p}mtp_model_layer.`;
  const h = `model.layers.${L + k}.`;
  const m = new Map<string, [string, number, number | undefined]>();
  const whole = (hf: string, src: string) => m.set(`${h}${hf}`, [src, 0, undefined]);
  const rows = (hf: string, src: string, r0: number, n: number) => m.set(`${h}${hf}`, [src, r0, n]);
  rows('embed_tokens.weight', 'embedding.word_embeddings.weight', 0, spec.vocabSize);
  whole('enorm.weight', `${p}enorm.weight`);
  whole('hnorm.weight', `${p}hnorm.weight`);
  whole('eh_proj.weight', `${p}eh_proj.weight`);
  whole('shared_head.norm.weight', `${p}final_layernorm.weight`);
  rows('shared_head.head.weight', 'output_layer.weight', 0, spec.vocabSize);
  whole('input_layernorm.weight', `${t}input_layernorm.weight`);
  whole('post_attention_layernorm.weight', `${t}pre_mlp_layernorm.weight`);
  whole('self_attn.q_a_proj.weight', `${t}self_attention.linear_q_down_proj.weight`);
  whole('self_attn.q_a_layernorm.weight', `${t}self_attention.q_layernorm.weight`);
  whole('self_attn.q_b_proj.weight', `${t}self_attention.linear_q_up_proj.weight`);
  whole('self_attn.kv_a_proj_with_mqa.weight', `${t}self_attention.linear_kv_down_proj.weight`);
  whole('self_attn.kv_a_layernorm.weight', `${t}self_attention.kv_layernorm.weight`);
  whole('self_attn.kv_b_proj.weight', `${t}self_attention.linear_kv_up_proj.weight`);
  whole('self_attn.o_proj.weight', `${t}self_attention.linear_proj.weight`);
  whole('mlp.gate.weight', `${t}mlp.router.weight`);
  whole('mlp.gate.e_score_correction_bias', `${t}mlp.router.expert_bias`);
  const F = moe.ffnHiddenSize;
  for (let j = 0; j < moe.numExperts; j++) {
    const e = `${t}mlp.experts.local_experts.${j}.`;
    rows(`mlp.experts.${j}.gate_proj.weight`, `${e}linear_fc1.weight`, 0, F);
    rows(`mlp.experts.${j}.up_proj.weight`, `${e}linear_fc1.weight`, F, F);
    whole(`mlp.experts.${j}.down_proj.weight`, `${e}linear_fc2.weight`);
  }
  const S = moe.sharedExpertIntermediateSize;
  rows('mlp.shared_experts.gate_proj.weight', `${t}mlp.shared_experts.linear_fc1.weight`, 0, S);
  rows('mlp.shared_experts.up_proj.weight', `${t}mlp.shared_experts.linear_fc1.weight`, S, S);
  whole('mlp.shared_experts.down_proj.weight', `${t}mlp.shared_experts.linear_fc2.weight`);
  return m;
}

describe('DeepSeek-V3 export of multi-token-prediction layers (generated TP2 PP3 checkpoint)', () => {
  let ck: Checkpoint;
  let exported: ReturnType<typeof readExport>;
  let notes: readonly string[] | undefined;
  let config: Record<string, unknown>;
  beforeAll(async () => {
    const root = join(work, 'tp2pp3');
    generateCheckpoint({ root, spec, tp: 2, pp: 3, format: 'torch', seed: SEED, digests: false });
    ck = openCheckpoint(root);
    const out = join(work, 'hf');
    const r = await exportHf(ck, { outDir: out, dtype: 'bfloat16' });
    notes = r.notes;
    exported = readExport(out);
    config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  });

  test('the reader names the inner layer transformer_layer and keeps one embedding', () => {
    const names = [...ck.tensors.keys()];
    expect(names.filter((n) => n.includes('mtp_model_layer'))).toEqual([]);
    expect(names).toContain('mtp.layers.1.transformer_layer.mlp.experts.local_experts.7.linear_fc2.weight');
    expect(ck.config.mtpNumLayers).toBe(MTP);
  });

  test('config: num_nextn_predict_layers, no note', () => {
    expect(config).toMatchObject({ architectures: ['DeepseekV3ForCausalLM'], num_hidden_layers: L, num_nextn_predict_layers: MTP, num_mtp_layers: MTP });
    expect(notes ?? []).toEqual([]);
  });

  test('every MTP tensor: name, shape and bytes from the right Megatron rows', () => {
    const want = new Map([...Array(MTP).keys()].flatMap((k) => [...expectedMtp(k)]));
    const got = [...exported.keys()].filter((n) => Number(/^model\.layers\.(\d+)\./.exec(n)?.[1] ?? -1) >= L);
    expect(got.sort()).toEqual([...want.keys()].sort());
    for (const [name, [src, r0, n]] of want) {
      const t = exported.get(name)!;
      const bytes = genRows(src, r0, n);
      const float32 = name.endsWith('e_score_correction_bias');
      expect(t.dtype, name).toBe(float32 ? 'F32' : 'BF16');
      expect(t.bytes.length, name).toBe(bytes.length);
      expect(t.bytes.equals(bytes), name).toBe(true);
    }
    expect(exported.get(`model.layers.${L}.eh_proj.weight`)!.shape).toEqual([H, 2 * H]);
    expect(exported.get(`model.layers.${L + 1}.self_attn.q_b_proj.weight`)!.shape).toEqual([spec.numAttentionHeads * (mla.qkHeadDim + mla.qkPosEmbHeadDim), mla.qLoraRank]);
    expect(exported.get(`model.layers.${L}.shared_head.head.weight`)!.shape).toEqual([spec.vocabSize, H]);
  });
});

describe('targets and layers without a place', () => {
  test('GLM-4-MoE (GQA DeepSeek) leaves MTP tensors out with a note', () => {
    const ck = openCheckpoint(modernFixture('megatron', 'deepseek', 'torch', 'tp1pp1'));
    const extra = new Map(ck.tensors);
    extra.set('mtp.layers.0.enorm.weight', ck.tensors.get('decoder.final_layernorm.weight')!);
    const m = toHfModel({ config: { ...ck.config, mtpNumLayers: 1 }, modelType: ck.modelType, tensors: extra, args: ck.args, where: ck.path });
    expect(m.architecture).toBe('Glm4MoeForCausalLM');
    expect(m.notes).toEqual([expect.stringMatching(/^1 multi-token-prediction layer\(s\) left out \(1 tensors under mtp\.layers\.\*\): Glm4MoeForCausalLM has no place/)]);
    expect(toPlain(m.config)).toMatchObject({ num_nextn_predict_layers: 0 });
  });

  test('a dense MTP layer has no DeepSeek-V3 slot (its MTP blocks are MoE): left out with a note', () => {
    const dense = presetSpec('deepseek', { numLayers: 2, mtpNumLayers: 1, moe: { ...moe, firstKDense: 2 } });
    const root = join(work, 'dense-mtp');
    generateCheckpoint({ root, spec: dense, format: 'torch', digests: false });
    const ck = openCheckpoint(root);
    const m = toHfModel({ config: ck.config, modelType: ck.modelType, tensors: ck.tensors, args: ck.args, where: ck.path });
    expect(m.tensors.some((t) => t.name.startsWith('model.layers.2.'))).toBe(false);
    expect(m.notes).toEqual([expect.stringMatching(/^1 multi-token-prediction layer\(s\) left out .*MTP layer 0 is dense/)]);
    expect(toPlain(m.config)).toMatchObject({ num_nextn_predict_layers: 0 });
  });

  test('a layer count that disagrees with mtp_num_layers (a repeated MTP layer) is refused', () => {
    const ck = openCheckpoint(join(work, 'tp2pp3'));
    let code = '';
    try {
      toHfModel({ config: { ...ck.config, mtpNumLayers: 3 }, modelType: ck.modelType, tensors: ck.tensors, args: ck.args, where: ck.path });
    } catch (e) {
      code = (e as { code: string }).code;
    }
    expect(code).toBe('E_UNSUPPORTED');
  });
});

describe('torch_dist MTP names', () => {
  test('the inner layer is per layer: experts unstacked, local-spec norms renamed', () => {
    const E = 3;
    const data = new Uint8Array(E * 2 * 4 * 4);
    const stacked = fromView(memoryView(data, 'float32', [E, 2, 4]));
    const naming = { numLayers: 5, localSpec: true, groupedGemm: false };
    const experts = legacyEntries('mtp.layers.0.transformer_layer.mlp.experts.experts.linear_fc1.weight', stacked, naming);
    expect(experts.map(([n, t]) => [n, t.shape])).toEqual([0, 1, 2].map((j) => [`mtp.layers.0.transformer_layer.mlp.experts.local_experts.${j}.linear_fc1.weight`, [2, 4]]));
    const norm = fromView(memoryView(new Uint8Array(16), 'float32', [4]));
    expect(legacyEntries('mtp.layers.1.transformer_layer.self_attention.linear_qkv.layer_norm_weight', norm, naming).map(([n]) => n)).toEqual(['mtp.layers.1.transformer_layer.input_layernorm.weight']);
    expect(legacyEntries('mtp.layers.1.eh_proj.weight', norm, naming).map(([n]) => n)).toEqual(['mtp.layers.1.eh_proj.weight']);
  });
});

describe('legacy MTP layouts the merge refuses', () => {
  const v = (shape: number[]) => memoryView(new Uint8Array(shape.reduce((a, b) => a * b, 4)), 'float32', shape);
  const rank = (ep: number, extra: [string, ReturnType<typeof v>][]): RankStateDict => ({
    tp: 0, pp: 0, ep, vp: 0, file: `ep${ep}.pt`,
    entries: new Map<unknown, unknown>([['decoder.layers.0.input_layernorm.weight', v([4])], ...extra]),
  });
  const opts = { tp: 1, pp: 1, vp: 1, numLayers: 1, gatedLinearUnit: true, tiedEmbeddings: true };
  const codeOf = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return [(e as { code: string }).code, (e as Error).message];
    }
    return ['', ''];
  };

  test('MTP experts under expert parallelism: E_UNSUPPORTED naming the case', () => {
    const expert = 'mtp.layers.0.mtp_model_layer.mlp.experts.local_experts.0.linear_fc2.weight';
    const [code, msg] = codeOf(() => mergeLegacy([rank(0, [[expert, v([4, 2])]]), rank(1, [[expert, v([4, 2])]])], { ...opts, ep: 2 }));
    expect(code).toBe('E_UNSUPPORTED');
    expect(msg).toMatch(/multi-token-prediction layer's experts are read at EP1 only/);
  });

  test('legacy GroupedMLP experts in an MTP layer: E_UNSUPPORTED', () => {
    const [code, msg] = codeOf(() => mergeLegacy([rank(0, [['mtp.layers.0.transformer_layer.mlp.experts.weight1', v([4, 8])]])], { ...opts, ep: 1 }));
    expect(code).toBe('E_UNSUPPORTED');
    expect(msg).toMatch(/GroupedMLP .* multi-token-prediction/);
  });
});
