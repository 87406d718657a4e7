// TensorRT-LLM QWenForCausalLM exports of the modern fixtures (qwen2, qwen3, qwen3_moe): names, shapes and per-rank
// byte layouts, each derived here from the Megatron tensors by the rule TensorRT-LLM's own code applies
// (NVIDIA/TensorRT-LLM tensorrt_llm/models/qwen/model.py QWenDecoderLayer / QWenForCausalLM for which parameters
// exist; models/qwen/convert.py convert_hf_qwen for their layouts and TP splits; models/qwen/config.py QWenConfig
// for config.json). The numeric round trip through a reading of the checkpoint is test/interop/trtllm-qwen.test.ts.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { openCheckpoint } from '../../lib/megatron/open.js';
import type { Checkpoint } from '../../lib/megatron/types.js';
import { gatedSharedExpertModel } from './support/qwen2-moe.js';
import { errorOf } from '../support/errors.js';
import type { PlanTensor } from '../../lib/plan/plan.js';
import { exportTrtllm, helperOptionsFor } from '../../lib/trtllm/export.js';
import { verifyTrtllmDir } from '../../lib/trtllm/verify.js';
import { TRTLLMHelper, type TRTLLMHelperOptions } from '../../lib/trtllm/helper.js';
import { ppLayers } from '../../lib/trtllm/mapping.js';
import { materialize } from '../support/materialize.js';
import { modernFixture } from '../support/fixtures.js';
import { evalPlanTensor } from '../support/reference-executor.js';
import { type LegacyLayout, reshardLegacy } from '../support/reshard-legacy.js';

type Model = 'qwen2' | 'qwen3' | 'qwen3_moe';
const open = (model: string, fmt = 'torch') => openCheckpoint(modernFixture('megatron', model, fmt, 'tp1pp1'));
const bytes = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

function convert(ckpt: Checkpoint, tp: number, pp: number, extra: Partial<TRTLLMHelperOptions> = {}) {
  const h = new TRTLLMHelper({ ...helperOptionsFor(ckpt, ckpt.modelType), acceptQkNormEpsilon: true, ...extra });
  return h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16', exportConfig: { inferenceTpSize: tp, inferencePpSize: pp } });
}

/**
 * The parameters QWenForCausalLM declares on one rank (model.py): RmsNorm input/post norms; Attention qkv
 * [(nq/tp + 2·ceil(nkv/tp))·hd, H] (+ bias when attn_bias), dense [H, nq·hd/tp] without bias (dense_bias=False),
 * q/k_layernorm [hd] for qwen3*; GatedMLP fc/gate [F/tp, H], proj [H, F/tp], or MOE router [E, H] float32,
 * fc [E, 2F/tp, H], proj [E, H, F/tp]; vocab_embedding on the first stage; ln_f and lm_head
 * [pad(V, tp)/tp, H] on the last (the same shapes on every TP rank); layer numbers local to the stage (DecoderLayerList over mapping.pp_layers).
 */
function qwenParams(m: Model, ckpt: Checkpoint, tp: number, pp: number, ppRank: number): Record<string, [string, number[]]> {
  const c = ckpt.config;
  const [H, hd, nq, nkv, V] = [c.hiddenSize, c.kvChannels, c.numAttentionHeads, c.numQueryGroups, c.paddedVocabSize];
  const kvr = Math.ceil(nkv / tp);
  const out: Record<string, [string, number[]]> = {};
  if (ppRank === 0) out['transformer.vocab_embedding.weight'] = ['bfloat16', [V, H]];
  ppLayers(c.numLayers, pp, ppRank).forEach((_, i) => {
    const p = `transformer.layers.${i}.`;
    out[p + 'input_layernorm.weight'] = ['bfloat16', [H]];
    out[p + 'post_layernorm.weight'] = ['bfloat16', [H]];
    out[p + 'attention.qkv.weight'] = ['bfloat16', [(nq / tp + 2 * kvr) * hd, H]];
    if (m === 'qwen2') out[p + 'attention.qkv.bias'] = ['bfloat16', [(nq / tp + 2 * kvr) * hd]];
    out[p + 'attention.dense.weight'] = ['bfloat16', [H, (nq * hd) / tp]];
    if (m !== 'qwen2') {
      out[p + 'attention.q_layernorm.weight'] = ['bfloat16', [hd]];
      out[p + 'attention.k_layernorm.weight'] = ['bfloat16', [hd]];
    }
    if (m === 'qwen3_moe') {
      const [E, F] = [c.numMoeExperts!, c.moeFfnHiddenSize!];
      out[p + 'mlp.router.weight'] = ['float32', [E, H]];
      out[p + 'mlp.fc.weight'] = ['bfloat16', [E, (2 * F) / tp, H]];
      out[p + 'mlp.proj.weight'] = ['bfloat16', [E, H, F / tp]];
    } else {
      const F = c.ffnHiddenSize;
      out[p + 'mlp.fc.weight'] = ['bfloat16', [F / tp, H]];
      out[p + 'mlp.gate.weight'] = ['bfloat16', [F / tp, H]];
      out[p + 'mlp.proj.weight'] = ['bfloat16', [H, F / tp]];
    }
  });
  if (ppRank === pp - 1) {
    out['transformer.ln_f.weight'] = ['bfloat16', [H]];
    out['lm_head.weight'] = ['bfloat16', [Math.ceil(V / tp), H]];
  }
  return out;
}

describe('names and shapes per rank are the parameters QWenForCausalLM declares', () => {
  for (const m of ['qwen2', 'qwen3', 'qwen3_moe'] as const) {
    for (const [tp, pp] of [[1, 1], [2, 1], [1, 2], [2, 2]] as const) {
      test(`${m} tp${tp} pp${pp}`, () => {
        const ckpt = open(m);
        const { weights } = convert(ckpt, tp, pp);
        expect(weights.map((w) => w.rank)).toEqual(Array.from({ length: tp * pp }, (_, r) => r));
        for (const w of weights) {
          const got = Object.fromEntries(w.tensors.map((t) => [t.name, [t.dtype, [...t.shape]]]));
          expect(got).toEqual(qwenParams(m, ckpt, tp, pp, w.mapping.ppRank));
        }
        ckpt.close();
      });
    }
  }
});

/** Rows [start, start+count) of a row-major matrix given as bytes. */
const rows = (b: Buffer, rowBytes: number, start: number, count: number) => b.subarray(start * rowBytes, (start + count) * rowBytes);
const tensorOf = (ts: readonly PlanTensor[], name: string) => bytes(evalPlanTensor(ts.find((t) => t.name === name) ?? expect.fail(`no ${name}`)));
const source = (ckpt: Checkpoint, name: string) => bytes(materialize(ckpt.tensors.get(name) ?? expect.fail(`no ${name}`)));

/**
 * convert_hf_qwen's attention: Megatron's fused rows [g: q×(nq/nkv), k, v] are HF's q_proj/k_proj/v_proj heads;
 * KV heads duplicated to tp when nkv < tp (dup_kv_weight: h0,h0,h1,h1); each rank cat([split(q), split(k), split(v)]).
 */
function expectedQkv(src: Buffer, rowBytes: number, nq: number, nkv: number, hd: number, tp: number, r: number): Buffer {
  const q = nq / nkv;
  const head = (g: number, slot: number) => rows(src, rowBytes, (g * (q + 2) + slot) * hd, hd);
  const qHeads = Array.from({ length: nq }, (_, i) => head(Math.floor(i / q), i % q));
  const dup = nkv < tp ? tp / nkv : 1;
  const kHeads = Array.from({ length: nkv * dup }, (_, i) => head(Math.floor(i / dup), q));
  const vHeads = Array.from({ length: nkv * dup }, (_, i) => head(Math.floor(i / dup), q + 1));
  const part = (hs: Buffer[]) => hs.slice((r * hs.length) / tp, ((r + 1) * hs.length) / tp);
  return Buffer.concat([...part(qHeads), ...part(kHeads), ...part(vHeads)]);
}

describe('per-rank layouts follow convert_hf_qwen', () => {
  test('qwen2 TP2: qkv weight and bias per rank, dense columns, fc = activated half, gate = linear half, tied lm_head = embedding rows', () => {
    const ckpt = open('qwen2');
    const { weights } = convert(ckpt, 2, 1);
    const [H, hd] = [48, 8];
    const rb = H * 2;
    for (const w of weights) {
      const r = w.mapping.tpRank;
      for (const l of [0, 1]) {
        const p = `transformer.layers.${l}.`;
        const s = `decoder.layers.${l}.`;
        expect(tensorOf(w.tensors, p + 'attention.qkv.weight').equals(expectedQkv(source(ckpt, s + 'self_attention.linear_qkv.weight'), rb, 6, 2, hd, 2, r))).toBe(true);
        expect(tensorOf(w.tensors, p + 'attention.qkv.bias').equals(expectedQkv(source(ckpt, s + 'self_attention.linear_qkv.bias'), 2, 6, 2, hd, 2, r))).toBe(true);
        // dense: split_matrix_tp(dim=1): rank r holds input columns [r·24, (r+1)·24) of every output row
        const dense = source(ckpt, s + 'self_attention.linear_proj.weight');
        const cols = Buffer.concat(Array.from({ length: H }, (_, o) => dense.subarray(o * 48 * 2 + r * 24 * 2, o * 48 * 2 + (r + 1) * 24 * 2)));
        expect(tensorOf(w.tensors, p + 'attention.dense.weight').equals(cols)).toBe(true);
        // Megatron fc1 = [activated (gate_proj); linear (up_proj)], 128 rows each; TRT mlp.fc = gate_proj, mlp.gate = up_proj
        const fc1 = source(ckpt, s + 'mlp.linear_fc1.weight');
        expect(tensorOf(w.tensors, p + 'mlp.fc.weight').equals(rows(fc1, rb, r * 64, 64))).toBe(true);
        expect(tensorOf(w.tensors, p + 'mlp.gate.weight').equals(rows(fc1, rb, 128 + r * 64, 64))).toBe(true);
      }
      // tie_word_embeddings: lm_head = embedding (300 rows, 150 per rank), the embedding itself whole on the first stage
      const emb = source(ckpt, 'embedding.word_embeddings.weight');
      expect(tensorOf(w.tensors, 'lm_head.weight').equals(rows(emb, rb, r * 150, 150))).toBe(true);
      expect(tensorOf(w.tensors, 'transformer.vocab_embedding.weight').equals(emb)).toBe(true);
    }
    ckpt.close();
  });

  test('qwen3 TP4: KV heads duplicated (2 groups over 4 ranks), q/k norms whole on every rank', () => {
    const ckpt = open('qwen3');
    const { weights } = convert(ckpt, 4, 1);
    for (const w of weights) {
      for (const l of [0, 1, 2]) {
        const s = `decoder.layers.${l}.self_attention.`;
        const p = `transformer.layers.${l}.attention.`;
        expect(tensorOf(w.tensors, p + 'qkv.weight').equals(expectedQkv(source(ckpt, s + 'linear_qkv.weight'), 64 * 2, 4, 2, 32, 4, w.mapping.tpRank))).toBe(true);
        expect(tensorOf(w.tensors, p + 'q_layernorm.weight').equals(source(ckpt, s + 'q_layernorm.weight'))).toBe(true);
        expect(tensorOf(w.tensors, p + 'k_layernorm.weight').equals(source(ckpt, s + 'k_layernorm.weight'))).toBe(true);
      }
    }
    ckpt.close();
  });

  test('qwen3_moe TP2 PP2 (torch_dist): expert fc = cat([up, gate]) of this rank\'s F/2 rows, proj columns, float32 router, stage-local layer numbers', () => {
    const ckpt = open('qwen3_moe', 'torch_dist');
    const { weights } = convert(ckpt, 2, 2);
    const [E, F, H] = [8, 16, 64];
    const rb = H * 2;
    for (const w of weights) {
      const { tpRank: r, ppRank } = w.mapping;
      const l = ppRank; // 2 layers over 2 stages: global layer = stage, local number 0
      const fc = tensorOf(w.tensors, 'transformer.layers.0.mlp.fc.weight');
      const proj = tensorOf(w.tensors, 'transformer.layers.0.mlp.proj.weight');
      for (let e = 0; e < E; e++) {
        const src = source(ckpt, `decoder.layers.${l}.mlp.experts.local_experts.${e}.linear_fc1.weight`);
        // Megatron expert fc1 rows [gate (activated); up (linear)]; TRT (convert_hf_qwen) cat([w3 = up, w1 = gate]) after split(dim=1)
        const want = Buffer.concat([rows(src, rb, F + r * (F / 2), F / 2), rows(src, rb, r * (F / 2), F / 2)]);
        expect(rows(fc, rb, e * F, F).equals(want)).toBe(true);
        const src2 = source(ckpt, `decoder.layers.${l}.mlp.experts.local_experts.${e}.linear_fc2.weight`);
        const cols = Buffer.concat(Array.from({ length: H }, (_, o) => src2.subarray((o * F + (r * F) / 2) * 2, (o * F + ((r + 1) * F) / 2) * 2)));
        expect(proj.subarray(e * H * (F / 2) * 2, (e + 1) * H * (F / 2) * 2).equals(cols)).toBe(true);
      }
      // router: get_weight(..., torch.float32): the bf16 values widened exactly (bf16 bits << 16)
      const router = tensorOf(w.tensors, 'transformer.layers.0.mlp.router.weight');
      const src = source(ckpt, `decoder.layers.${l}.mlp.router.weight`);
      const widened = Buffer.alloc(src.length * 2);
      for (let i = 0; i < src.length / 2; i++) widened.writeUInt32LE(src.readUInt16LE(i * 2) << 16 >>> 0, i * 4);
      expect(router.equals(widened)).toBe(true);
    }
    ckpt.close();
  });
});

describe('config.json is a QWenConfig', () => {
  const cfgOf = (m: Model, tp = 2) => {
    const ckpt = open(m);
    const { configs } = convert(ckpt, tp, 1);
    ckpt.close();
    return JSON.parse(configs[0]!.toJson()) as Record<string, unknown>;
  };
  test('qwen2: Qwen2ForCausalLM, qkv bias only (attn_bias, dense has none), tied, vocab_size = the embedding rows', () => {
    const c = cfgOf('qwen2');
    expect(c).toMatchObject({ architecture: 'Qwen2ForCausalLM', qwen_type: 'qwen2', attn_bias: true, mlp_bias: false, qk_layernorm: false, head_size: 8, num_key_value_heads: 2, vocab_size: 300, intermediate_size: 128, hidden_act: 'silu', tie_word_embeddings: true, rotary_base: 1000000, norm_epsilon: 1e-6 });
    expect(c['moe']).toEqual({ num_experts: 0, top_k: 0, normalization_mode: 0 });
    expect(c['mapping']).toMatchObject({ tp_size: 2, pp_size: 1, world_size: 2 });
    // keys Megatron's converter writes for the LLaMA path and QWen does not read
    for (const k of ['bias', 'share_embedding_table', 'moe_num_experts', 'moe_tp_mode']) expect(c).not.toHaveProperty(k);
  });
  test('--vocab-size: the embedding keeps V rows (vocab_size V), lm_head pad(V, tp) rows split, pad rows zero', () => {
    const ckpt = open('qwen2');
    const h = new TRTLLMHelper(helperOptionsFor(ckpt, ckpt.modelType));
    const { weights, configs } = h.convertSingleDevice(ckpt.tensors, { dtype: 'bfloat16', tpSize: 2, ppSize: 1, useParallelEmbedding: false, embeddingShardingDim: 0, vocabSize: 299 });
    expect(configs[0]!.fields['vocab_size']).toBe(299);
    const emb = source(ckpt, 'embedding.word_embeddings.weight');
    const rb = 48 * 2;
    for (const w of weights) {
      expect(w.tensors.find((t) => t.name === 'transformer.vocab_embedding.weight')!.shape).toEqual([299, 48]);
      const lm = tensorOf(w.tensors, 'lm_head.weight');
      expect(lm.length).toBe(150 * rb);
      const want = w.mapping.tpRank === 0 ? rows(emb, rb, 0, 150) : Buffer.concat([rows(emb, rb, 150, 149), Buffer.alloc(rb)]);
      expect(lm.equals(want)).toBe(true);
    }
    ckpt.close();
  });
  test('TRTLLMHelper without maxPositionEmbeddings: taken from the transformerConfig (our documented deviation from Megatron\'s null), seq_length the same', () => {
    const ckpt = open('qwen2');
    const h = new TRTLLMHelper({ transformerConfig: ckpt.config, modelType: 'llama', activation: 'swiglu', positionEmbeddingType: 'rope' });
    const { configs } = h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16' });
    expect(ckpt.config.maxPositionEmbeddings).toBe(64);
    expect(configs[0]!.fields).toMatchObject({ architecture: 'Qwen2ForCausalLM', max_position_embeddings: 64, seq_length: 64 });
    ckpt.close();
  });
  test('qwen3: head_size 32 (≠ hidden/heads), qk_layernorm, no bias', () => {
    expect(cfgOf('qwen3')).toMatchObject({ architecture: 'Qwen3ForCausalLM', qwen_type: 'qwen3', head_size: 32, hidden_size: 64, num_attention_heads: 4, attn_bias: false, qk_layernorm: true, tie_word_embeddings: false });
  });
  test('qwen3_moe: swiglu MoE, per-expert width, RENORMALIZE (Megatron\'s softmax over the top-k)', () => {
    const c = cfgOf('qwen3_moe');
    expect(c).toMatchObject({ architecture: 'Qwen3ForCausalLM', qwen_type: 'qwen3_moe', hidden_act: 'swiglu', intermediate_size: 16, moe_intermediate_size: 16, moe_shared_expert_intermediate_size: 0 });
    expect(c['moe']).toEqual({ num_experts: 8, top_k: 2, normalization_mode: 1 });
  });
});

describe('written exports pass `mcore-export verify`', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mcore-trtllm-qwen-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  for (const m of ['qwen2', 'qwen3', 'qwen3_moe'] as const) {
    test(`${m} tp2 pp2`, async () => {
      const ckpt = open(m);
      const out = join(tmp, m);
      await exportTrtllm(ckpt, { outDir: out, tpSize: 2, ppSize: 2, helperOptions: { acceptQkNormEpsilon: true } });
      ckpt.close();
      const v = verifyTrtllmDir(out);
      expect(v.problems).toEqual([]);
      expect([v.ok, v.ranks]).toEqual([true, 4]);
      if (m !== 'qwen2') {
        // a q/k norm missing from a rank file is caught
        const { problems } = verifyTrtllmDir(renameTensor(out, 'rank3.safetensors', 'transformer.layers.0.attention.k_layernorm.weight'));
        expect(problems.map((p) => [p.code, p.tensor])).toEqual([
          ['E_FORMAT', 'transformer.layers.0.attention.x_layernorm.weight'],
          ['E_NOT_FOUND', 'transformer.layers.0.attention.k_layernorm.weight'],
        ]);
      }
    });
  }
});

/** A copy of an export directory where one tensor of one rank file is renamed (same length: `k_` → `x_`). */
function renameTensor(dir: string, file: string, name: string): string {
  const copy = `${dir}-renamed`;
  cpSync(dir, copy, { recursive: true });
  const buf = readFileSync(join(copy, file));
  const n = Number(buf.readBigUInt64LE(0));
  const header = buf.subarray(8, 8 + n).toString().replace(`"${name}"`, `"${name.replace('.k_', '.x_')}"`);
  writeFileSync(join(copy, file), Buffer.concat([buf.subarray(0, 8), Buffer.from(header), buf.subarray(8 + n)]));
  return copy;
}

describe('other training layouts (re-sharded from the TP1 fixtures) give the same rank files', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mcore-trtllm-qwen-layouts-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const layouts: [Model, string, LegacyLayout][] = [
    ['qwen2', 'pp2', { pp: 2 }],
    ['qwen3', 'tp2-te', { tp: 2, te: true }],
    ['qwen3_moe', 'ep2-te-grouped', { ep: 2, experts: 'te-grouped' }],
    ['qwen3_moe', 'tp2-te', { tp: 2, te: true }], // MoE layers' pre-MLP norm named mlp.linear_fc1.layer_norm_weight
    ['qwen3_moe', 'tp2ep2-legacy-grouped', { tp: 2, ep: 2, experts: 'legacy-grouped' }],
  ];
  for (const [m, name, layout] of layouts) {
    test(`${m} ${name} → TensorRT-LLM tp2 = the same from tp1pp1`, () => {
      const src = modernFixture('megatron', m, 'torch', 'tp1pp1');
      const dst = join(tmp, `${m}-${name}`);
      reshardLegacy(src, dst, layout);
      const [ref, got] = [openCheckpoint(src), openCheckpoint(dst)];
      // TEGroupedMLP experts keep their spelling (linear_fc1.weight<e>); the rules stack them like local_experts
      if (layout.experts === 'te-grouped') expect([...got.tensors.keys()].some((n) => /linear_fc1\.weight\d+$/.test(n))).toBe(true);
      const [a, b] = [convert(ref, 2, 1), convert(got, 2, 1)];
      expect(b.configs[0]!.toJson()).toBe(a.configs[0]!.toJson());
      a.weights.forEach((w, r) => {
        const other = b.weights[r]!.tensors;
        expect(other.map((t) => t.name)).toEqual(w.tensors.map((t) => t.name));
        w.tensors.forEach((t, i) => expect(bytes(evalPlanTensor(other[i]!)).equals(bytes(evalPlanTensor(t))), t.name).toBe(true));
      });
      ref.close();
      got.close();
    });
  }
});

describe("Megatron's own converter on qwen2 (fixtures/modern/reference): the same bytes under the same names", () => {
  /** name → raw bytes of a safetensors file */
  const tensorsOf = (file: string) => {
    const buf = readFileSync(file);
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString()) as Record<string, { data_offsets: [number, number] }>;
    delete header['__metadata__'];
    return new Map(Object.entries(header).map(([k, v]) => [k, buf.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1])]));
  };
  for (const [tp, pp] of [[1, 1], [2, 1], [1, 2]] as const) {
    test(`tp${tp} pp${pp}`, () => {
      const dir = modernFixture('reference', 'qwen2', `tp${tp}_pp${pp}_bfloat16`);
      const ckpt = open('qwen2');
      const { weights } = convert(ckpt, tp, pp);
      for (const w of weights) {
        const ref = tensorsOf(join(dir, `rank${w.rank}.safetensors`));
        const ours = new Map(w.tensors.map((t) => [t.name, bytes(evalPlanTensor(t))]));
        for (const [name, b] of ref) expect(ours.get(name)?.equals(b), name).toBe(true);
        // the one tensor Megatron leaves out: the tied lm_head, which TensorRT-LLM 1.x does not tie across TP/PP
        expect([...ours.keys()].filter((k) => !ref.has(k))).toEqual(w.mapping.ppRank === pp - 1 ? ['lm_head.weight'] : []);
      }
      const refCfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      // Megatron says LlamaForCausalLM with bias: false next to qkv bias tensors (LLaMA would then drop them)
      expect([refCfg['architecture'], refCfg['bias']]).toEqual(['LlamaForCausalLM', false]);
      ckpt.close();
    });
  }
});

// Made from qwen3_moe by test/trtllm/support/qwen2-moe.ts (no fixture has a gated shared expert): layouts only here;
// test/interop/trtllm-qwen.test.ts checks its TP splits numerically.
describe('gated shared experts → QWen qwen2_moe (SharedMoE with use_shared_gate)', () => {
  const synthesize = () => {
    const ckpt = open('qwen3_moe');
    const { sd, config } = gatedSharedExpertModel(ckpt);
    return { ckpt, sd, h: new TRTLLMHelper({ ...helperOptionsFor(ckpt, ckpt.modelType), transformerConfig: config }) };
  };

  test('config: Qwen2MoeForCausalLM, shared width, no q/k norms', () => {
    const { ckpt, sd, h } = synthesize();
    const { configs } = h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: sd, dtype: 'bfloat16', exportConfig: { inferenceTpSize: 2 } });
    expect(configs[0]!.fields).toMatchObject({ architecture: 'Qwen2MoeForCausalLM', qwen_type: 'qwen2_moe', qk_layernorm: false, hidden_act: 'swiglu', intermediate_size: 16, moe_intermediate_size: 16, moe_shared_expert_intermediate_size: 16 });
    ckpt.close();
  });

  test('TP2: shared_expert.fc = [up_r; gate_r] (convert_hf_qwen), proj columns, shared_expert_gate [1, H] whole', () => {
    const { ckpt, sd, h } = synthesize();
    const { weights } = h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: sd, dtype: 'bfloat16', exportConfig: { inferenceTpSize: 2 } });
    const [S, H] = [16, 64];
    const rb = H * 2;
    for (const w of weights) {
      const r = w.mapping.tpRank;
      const names = w.tensors.map((t) => t.name);
      expect(names.filter((n) => n.includes('layernorm') && n.includes('attention'))).toEqual([]);
      for (const l of [0, 1]) {
        const p = `transformer.layers.${l}.mlp.`;
        const fc1 = bytes(materialize(sd.get(`decoder.layers.${l}.mlp.shared_experts.linear_fc1.weight`)!));
        const fc = tensorOf(w.tensors, p + 'shared_expert.fc.weight');
        expect(fc.equals(Buffer.concat([rows(fc1, rb, S + (r * S) / 2, S / 2), rows(fc1, rb, (r * S) / 2, S / 2)]))).toBe(true);
        const fc2 = bytes(materialize(sd.get(`decoder.layers.${l}.mlp.shared_experts.linear_fc2.weight`)!));
        const cols = Buffer.concat(Array.from({ length: H }, (_, o) => fc2.subarray((o * S + (r * S) / 2) * 2, (o * S + ((r + 1) * S) / 2) * 2)));
        expect(tensorOf(w.tensors, p + 'shared_expert.proj.weight').equals(cols)).toBe(true);
        const gate = w.tensors.find((t) => t.name === p + 'shared_expert_gate.weight')!;
        expect([gate.dtype, [...gate.shape]]).toEqual(['bfloat16', [1, H]]);
        expect(bytes(evalPlanTensor(gate)).equals(bytes(materialize(sd.get(`decoder.layers.${l}.mlp.shared_experts.gate_weight`)!)))).toBe(true);
      }
    }
    ckpt.close();
  });

  test('ungated shared experts, or gated ones with q/k norms, are refused', () => {
    const { ckpt, sd, h } = synthesize();
    const ungated = new TRTLLMHelper({ ...helperOptionsFor(ckpt, ckpt.modelType), transformerConfig: { ...h.transformerConfig, moe: { ...h.transformerConfig.moe!, sharedExpertGate: false } } });
    const noGate = new Map([...sd].filter(([k]) => !k.endsWith('gate_weight')));
    expect(errorOf(() => ungated.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: noGate, dtype: 'bfloat16' })).message).toMatch(/without a gate/);
    const withNorms = new TRTLLMHelper({ ...helperOptionsFor(ckpt, ckpt.modelType), transformerConfig: { ...h.transformerConfig, qkLayernorm: true }, acceptQkNormEpsilon: true });
    expect(errorOf(() => withNorms.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: sd, dtype: 'bfloat16' })).message).toMatch(/gated shared experts with QK-layernorm/);
    ckpt.close();
  });
});
