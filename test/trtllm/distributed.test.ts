// Megatron's on-device conversion (distributed_* references): each rank converts its own shard of the
// tp2pp1 / tp1pp2 legacy checkpoint, read straight from that rank's model_optim_rng.pt.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { helperOptionsFor } from '../../lib/trtllm/export.js';
import { TRTLLMHelper, type TrtllmPretrainedConfig, type TrtllmRankWeights } from '../../lib/trtllm/helper.js';
import { codeOf as code } from '../support/errors.js';
import { FIXTURES, headerText, legacyShard, MODEL_TYPE, type ReferenceCase, referenceCases } from './support/fixtures.js';
import { evalPlanTensor, safetensorsBytes } from '../support/reference-executor.js';
import { rankDiff } from './support/rank-diff.js';

const cases = referenceCases().filter((c) => c.distributed);

function rankFiles(model: string, tp: number, pp: number): string[][] {
  const root = join(FIXTURES, 'megatron', model, 'torch', `tp${tp}pp${pp}`, 'iter_0000010');
  return Array.from({ length: pp }, (_, p) => Array.from({ length: tp }, (_, t) => join(root, pp > 1 ? `mp_rank_${String(t).padStart(2, '0')}_${String(p).padStart(3, '0')}` : `mp_rank_${String(t).padStart(2, '0')}`, 'model_optim_rng.pt')));
}

test('distributed reference cases exist for tp2 and pp2', () => {
  expect(cases.length).toBeGreaterThanOrEqual(6);
});

/** Every rank of a distributed_* case converted on its own shard, as each GPU would. */
function convertEachRank(c: ReferenceCase, megatronCompat: boolean) {
  const ckpt = openCheckpoint(join(FIXTURES, 'megatron', c.model, 'torch', 'tp1pp1'), { modelType: MODEL_TYPE[c.model]! });
  const helper = new TRTLLMHelper(helperOptionsFor(ckpt, MODEL_TYPE[c.model]!));
  const shards = rankFiles(c.model, c.tp, c.pp).map((stage) => stage.map(legacyShard));
  const out: { ppRank: number; tpRank: number; weights: TrtllmRankWeights[]; configs: TrtllmPretrainedConfig[] }[] = [];
  for (let ppRank = 0; ppRank < c.pp; ppRank++) {
    for (let tpRank = 0; tpRank < c.tp; tpRank++) {
      const r = helper.getTrtllmPretrainedConfigAndModelWeights({
        modelStateDict: shards[ppRank]![tpRank]!, dtype: c.dtype, onDeviceDistributedConversion: true, vocabSize: ckpt.config.vocabSize!, gpusPerNode: 2,
        parallelState: { tpRank, tpSize: c.tp, ppRank, ppSize: c.pp, tensorParallelPeers: shards[ppRank] },
        megatronCompat,
      });
      out.push({ ppRank, tpRank, ...r });
    }
  }
  return out;
}

test.each(cases.map((c) => [`${c.model}/${c.name}`, c] as const))('megatronCompat: %s byte for byte', (_, c) => {
  const refConfig = readFileSync(join(c.dir, 'config.json'), 'utf8');
  for (const { ppRank, tpRank, weights, configs } of convertEachRank(c, true)) {
    expect(weights).toHaveLength(1);
    expect(weights[0]!.rank).toBe(ppRank * c.tp + tpRank);
    expect(configs[0]!.toJson()).toBe(refConfig);
    const ref = readFileSync(join(c.dir, `rank${weights[0]!.rank}.safetensors`));
    const mine = safetensorsBytes(weights[0]!.tensors);
    expect(headerText(mine)).toBe(headerText(ref));
    expect(Buffer.from(mine).equals(ref)).toBe(true);
  }
});

// Default: the same except that a tied model's last stage gets lm_head when its shard has no output layer (gpt2
// at TP2 PP1: its dim-0 embedding shard; at PP2 Megatron's last stage already has one), and bf16 layernorm-1p
// agrees bit for bit with Megatron's (gptnext).
test.each(cases.map((c) => [`${c.model}/${c.name}`, c] as const))('default: %s differs only by the tied lm_head', (_, c) => {
  const refConfig = readFileSync(join(c.dir, 'config.json'), 'utf8');
  for (const { weights, configs } of convertEachRank(c, false)) {
    expect(configs[0]!.toJson()).toBe(refConfig);
    const w = weights[0]!;
    const d = rankDiff(w.tensors, readFileSync(join(c.dir, `rank${w.rank}.safetensors`)));
    const addsLmHead = c.model === 'gpt2' && c.pp === 1;
    expect(d).toEqual({ added: addsLmHead ? ['lm_head.weight'] : [], removed: [], changed: [] });
    if (addsLmHead) {
      const emb = w.tensors.find((t) => t.name === 'transformer.vocab_embedding.weight')!;
      expect(Buffer.from(evalPlanTensor(w.tensors.find((t) => t.name === 'lm_head.weight')!)).equals(Buffer.from(evalPlanTensor(emb)))).toBe(true);
    }
  }
});

test('default on-device conversion pads a vocabulary that does not divide by TP (Megatron refuses it)', () => {
  const ckpt = openCheckpoint(join(FIXTURES, 'megatron', 'llama', 'torch', 'tp1pp1'), { modelType: 'llama' });
  const shards = rankFiles('llama', 2, 1)[0]!.map(legacyShard);
  const h = new TRTLLMHelper(helperOptionsFor(ckpt, 'llama'));
  for (const tpRank of [0, 1]) {
    const { weights, configs } = h.getTrtllmPretrainedConfigAndModelWeights({
      modelStateDict: shards[tpRank]!, dtype: 'bfloat16', onDeviceDistributedConversion: true, vocabSize: 301, gpusPerNode: 2,
      parallelState: { tpRank, tpSize: 2, ppRank: 0, ppSize: 1, tensorParallelPeers: shards },
    });
    expect(configs[0]!.fields['vocab_size']).toBe(301);
    for (const name of ['transformer.vocab_embedding.weight', 'lm_head.weight']) {
      const t = weights[0]!.tensors.find((x) => x.name === name)!;
      expect(t.shape).toEqual([151, 64]);
      const rows = Buffer.from(evalPlanTensor(t));
      if (tpRank === 1) expect(rows.subarray(150 * 128).every((b) => b === 0)).toBe(true); // row 301 of 302: padding
    }
  }
});

test('a tied last stage without output layer is E_NOT_FOUND by default (no silent lm_head-less rank)', () => {
  const ckpt = openCheckpoint(join(FIXTURES, 'megatron', 'gpt2', 'torch', 'tp1pp1'), { modelType: 'gpt' });
  const last = new Map(legacyShard(rankFiles('gpt2', 1, 2)[1]![0]!));
  expect(last.delete('output_layer.weight')).toBe(true);
  const o = { modelStateDict: last, dtype: 'float32' as const, onDeviceDistributedConversion: true, vocabSize: 200, gpusPerNode: 2, parallelState: { tpRank: 0, tpSize: 1, ppRank: 1, ppSize: 2 } };
  const h = new TRTLLMHelper(helperOptionsFor(ckpt, 'gpt'));
  expect(code(() => h.getTrtllmPretrainedConfigAndModelWeights(o))).toBe('E_NOT_FOUND');
  expect(h.getTrtllmPretrainedConfigAndModelWeights({ ...o, megatronCompat: true }).weights[0]!.tensors.some((t) => t.name === 'lm_head.weight')).toBe(false);
});

test("on-device conversion makes Megatron's argument checks", () => {
  const ckpt = openCheckpoint(join(FIXTURES, 'megatron', 'llama', 'torch', 'tp1pp1'), { modelType: 'llama' });
  const shard = legacyShard(rankFiles('llama', 2, 1)[0]![0]!);
  const base = { modelStateDict: shard, dtype: 'bfloat16' as const, onDeviceDistributedConversion: true, vocabSize: 300, gpusPerNode: 2, parallelState: { tpRank: 0, tpSize: 2, ppRank: 0, ppSize: 1, tensorParallelPeers: [shard, shard] } };
  const h = new TRTLLMHelper(helperOptionsFor(ckpt, 'llama'));
  expect(code(() => h.getTrtllmPretrainedConfigAndModelWeights({ ...base, vocabSize: undefined as unknown as number }))).toBe('E_USAGE');
  expect(code(() => h.getTrtllmPretrainedConfigAndModelWeights({ ...base, gpusPerNode: undefined as unknown as number }))).toBe('E_USAGE');
  expect(code(() => h.getTrtllmPretrainedConfigAndModelWeights({ ...base, exportConfig: { inferenceTpSize: 2 } }))).toBe('E_USAGE');
  expect(code(() => h.getTrtllmPretrainedConfigAndModelWeights({ ...base, vocabSize: 301, megatronCompat: true }))).toBe('E_CONFIG');
  expect(code(() => h.getTrtllmPretrainedConfigAndModelWeights({ ...base, parallelState: { tpRank: 0, tpSize: 2, ppRank: 0, ppSize: 1 } }))).toBe('E_USAGE');
  const mixtral = new TRTLLMHelper({ ...helperOptionsFor(ckpt, 'llama'), modelType: 'mixtral' });
  expect(code(() => mixtral.getTrtllmPretrainedConfigAndModelWeights(base))).toBe('E_UNSUPPORTED');
  // single-device conversion refuses vocabSize, as Megatron does
  expect(code(() => h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16', vocabSize: 300 }))).toBe('E_USAGE');
});
