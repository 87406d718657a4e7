// What TensorRT-LLM 1.x cannot hold is refused with E_UNSUPPORTED naming `mcore-export hf`, before anything is
// written; a tensor no rule places is never dropped. Reasons read from TensorRT-LLM's TRT-backend model code:
// models/deepseek_v2/model.py + convert.py (MLA only, fused_q_proj is a product of two checkpoint matrices, every
// layer after the first MoE), models/qwen/model.py (softmax MOE in every layer or none; qwen2_moe's shared expert
// always gated), layers/attention.py (q/k norm epsilon fixed at 1e-5).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ExportError } from '../../lib/errors.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import type { Checkpoint, MoeConfig, TransformerConfig } from '../../lib/megatron/types.js';
import { describeTrtllmTarget } from '../../lib/trtllm/arch/modern.js';
import { exportTrtllm, helperOptionsFor } from '../../lib/trtllm/export.js';
import { TRTLLMHelper } from '../../lib/trtllm/helper.js';
import { parseTrtllmArgs } from '../../lib/cli/commands/trtllm.js';
import { errorOf } from '../support/errors.js';
import { fixture, modernFixture } from '../support/fixtures.js';

const open = (model: string, fmt = 'torch') => openCheckpoint(modernFixture('megatron', model, fmt, 'tp1pp1'));
const tmp = mkdtempSync(join(tmpdir(), 'mcore-trtllm-modern-refusals-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function exportError(ckpt: Checkpoint, outDir: string, helperOptions = {}): Promise<ExportError> {
  const e: unknown = await exportTrtllm(ckpt, { outDir, tpSize: 2, helperOptions }).then(
    () => new Error('export succeeded'),
    (x: unknown) => x,
  );
  if (!(e instanceof ExportError)) throw e;
  return e;
}

describe('models TensorRT-LLM 1.x has no class for: E_UNSUPPORTED naming mcore-export hf, nothing written', () => {
  const cases = [
    ['deepseek', /router with sigmoid scores or an expert bias/],
    ['deepseek_mla', /Multi-Latent Attention/],
  ] as const;
  for (const [model, why] of cases) {
    for (const fmt of ['torch', 'torch_dist']) {
      test(`${model} (${fmt})`, async () => {
        const ckpt = open(model, fmt);
        const out = join(tmp, `${model}-${fmt}`);
        const e = await exportError(ckpt, out);
        expect(e.code).toBe('E_UNSUPPORTED');
        expect(e.message).toMatch(why);
        expect(e.message).toContain('`mcore-export hf`');
        expect(existsSync(out)).toBe(false);
        ckpt.close();
      });
    }
  }

  test('QK-layernorm with an epsilon other than TensorRT-LLM\'s 1e-5 (qwen3: 1e-6) is refused unless accepted', async () => {
    const ckpt = open('qwen3');
    const out = join(tmp, 'qwen3-eps');
    const e = await exportError(ckpt, out);
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.message).toMatch(/epsilon of 1e-05.*1e-06.*acceptQkNormEpsilon.*`mcore-export hf`/);
    expect(existsSync(out)).toBe(false);
    // the same model with the epsilon TensorRT-LLM has: accepted without the option
    const h = new TRTLLMHelper({ ...helperOptionsFor(ckpt, ckpt.modelType), transformerConfig: { ...ckpt.config, layernormEpsilon: 1e-5 } });
    expect(h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16' }).configs[0]!.fields['qwen_type']).toBe('qwen3');
    // the CLI's way to accept it (mcore-export trtllm / export)
    const { opts } = parseTrtllmArgs([modernFixture('megatron', 'qwen3', 'torch', 'tp1pp1'), '--out', out, '--accept-qk-norm-epsilon']);
    expect(opts.helperOptions).toEqual({ acceptQkNormEpsilon: true });
    const done = await exportTrtllm(ckpt, opts);
    expect(done.config['qwen_type']).toBe('qwen3');
    ckpt.close();
  });
});

describe('router and MoE settings only the config shows (TransformerConfig moe fields)', () => {
  const withMoe = (moe: Partial<MoeConfig>) => {
    const ckpt = open('qwen3_moe');
    const config: TransformerConfig = { ...ckpt.config, moe: { ...ckpt.config.moe!, ...moe } };
    const h = new TRTLLMHelper({ ...helperOptionsFor(ckpt, ckpt.modelType), transformerConfig: config, acceptQkNormEpsilon: true });
    try {
      return h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16' });
    } finally {
      ckpt.close();
    }
  };
  const refused: [string, Partial<MoeConfig>, RegExp][] = [
    ['sigmoid scores', { scoreFunction: 'sigmoid' }, /sigmoid/],
    ['top-k scaling factor 2.5', { topkScalingFactor: 2.5 }, /scaling factor of 2.5/],
    ['group-limited routing', { numGroups: 4, groupTopk: 2 }, /group-limited/],
    ['dense and MoE layers mixed', { layers: [false, true] }, /mix of dense and MoE layers/],
    ['gated shared experts', { sharedExpertIntermediateSize: 32, sharedExpertGate: true }, /gated shared experts/],
  ];
  for (const [what, moe, why] of refused) {
    test(what, () => {
      const e = errorOf(() => withMoe(moe));
      expect(e.code).toBe('E_UNSUPPORTED');
      expect(e.message).toMatch(why);
      expect(e.message).toContain('`mcore-export hf`');
    });
  }
  test('pre-softmax routing is MoeConfig normalization NONE; the default softmax top-k is RENORMALIZE', () => {
    expect(withMoe({ preSoftmax: true }).configs[0]!.fields['moe']).toEqual({ num_experts: 8, top_k: 2, normalization_mode: 0 });
    expect(withMoe({ scoreFunction: 'softmax', topkScalingFactor: 1 }).configs[0]!.fields['moe']).toEqual({ num_experts: 8, top_k: 2, normalization_mode: 1 });
  });
});

describe('other refusals', () => {
  test('QK-layernorm in a GPT-class (LayerNorm) model has no TensorRT-LLM class', () => {
    const ckpt = open('qwen3');
    const h = new TRTLLMHelper({ ...helperOptionsFor(ckpt, 'gptnext'), acceptQkNormEpsilon: true });
    const e = errorOf(() => h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16' }));
    expect([e.code, e.message.includes("QK-layernorm in a 'gptnext' model")]).toEqual(['E_UNSUPPORTED', true]);
    ckpt.close();
  });

  test('a non-gated MLP has no QWen (its MLP is always gated)', () => {
    const ckpt = open('qwen3');
    const h = new TRTLLMHelper({ ...helperOptionsFor(ckpt, ckpt.modelType), transformerConfig: { ...ckpt.config, gatedLinearUnit: false, activation: 'gelu' }, acceptQkNormEpsilon: true });
    const e = errorOf(() => h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16' }));
    expect([e.code, /non-gated gelu MLP/.test(e.message)]).toEqual(['E_UNSUPPORTED', true]);
    ckpt.close();
  });

  test('on-device conversion of a QWen-family model is refused (it writes the LLaMA layout)', () => {
    const ckpt = open('qwen2');
    const h = new TRTLLMHelper(helperOptionsFor(ckpt, ckpt.modelType));
    const e = errorOf(() =>
      h.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16', onDeviceDistributedConversion: true, vocabSize: 300, gpusPerNode: 1, parallelState: { tpRank: 0, tpSize: 1, ppRank: 0, ppSize: 1 } }),
    );
    expect(e.code).toBe('E_UNSUPPORTED');
    ckpt.close();
  });
});

describe('a tensor no rule places fails the export, named, before anything is written', () => {
  const cases = [
    ['qwen2', 'decoder.layers.1.self_attention.linear_qkv.scale'],
    ['qwen3', 'decoder.layers.0.self_attention.v_layernorm.weight'],
    ['qwen3_moe', 'decoder.layers.1.mlp.router.score_bias'],
  ] as const;
  for (const [model, extra] of cases) {
    test(`${model} + ${extra}`, async () => {
      const ckpt = open(model);
      const some = ckpt.tensors.get('decoder.final_layernorm.weight')!;
      const withExtra: Checkpoint = { ...ckpt, tensors: new Map([...ckpt.tensors, [extra, some]]), close: () => ckpt.close() };
      const out = join(tmp, `${model}-extra`);
      const e = await exportError(withExtra, out, { acceptQkNormEpsilon: true });
      expect(e.code).toBe('E_UNSUPPORTED');
      expect(e.tensor).toBe(extra);
      expect(existsSync(out)).toBe(false);
      ckpt.close();
    });
  }
});

test('describeTrtllmTarget (for inspect): the class each fixture gets, or the refusal', () => {
  const line = (model: string, fixtures = modernFixture) => {
    const ckpt = openCheckpoint(fixtures('megatron', model, 'torch', 'tp1pp1'));
    try {
      return describeTrtllmTarget(ckpt.config, ckpt.modelType, ckpt.tensors);
    } finally {
      ckpt.close();
    }
  };
  expect(line('qwen2')).toBe('Qwen2ForCausalLM, qwen_type qwen2');
  expect(line('qwen3')).toBe('Qwen3ForCausalLM, qwen_type qwen3 (needs --accept-qk-norm-epsilon: q/k-norm epsilon 1e-06)');
  expect(line('qwen3_moe')).toBe('Qwen3ForCausalLM, qwen_type qwen3_moe (needs --accept-qk-norm-epsilon: q/k-norm epsilon 1e-06)');
  expect(line('deepseek')).toMatch(/^refused: a MoE router with sigmoid scores/);
  expect(line('deepseek_mla')).toMatch(/^refused: Multi-Latent Attention/);
  expect(line('llama', fixture)).toBe('LlamaForCausalLM');
});
