// Megatron's FP8 export (`fp8_quantized`, `fp8_kvcache`) byte for byte: every reference conversion in
// test/fixtures-fp8/reference (Megatron's own TRTLLMHelper on the TE 1.x legacy checkpoint, see its README) is
// reproduced by exportTrtllm (native executor, files on disk) from the TE 1.x and TE 2.x checkpoints, legacy and
// torch_dist: TE 2.x stores no scale_inv, so that it matches too shows our float32 1/scale_fwd equals TE 1.x's.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { TrtDType } from '../../lib/trtllm/config.js';
import { ExportError } from '../../lib/errors.js';
import { nativeExecutor } from '../../lib/export/executor.js';
import { features } from '../../lib/native.js';
import { PyBytesIO } from '../../lib/formats/pickle-torch.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { decodeTeExtraState } from '../../lib/megatron/te-extra-state.js';
import { exportTrtllm, helperOptionsFor } from '../../lib/trtllm/export.js';
import { TRTLLMHelper } from '../../lib/trtllm/helper.js';
import { fixture, fp8Fixture } from '../support/fixtures.js';
import { MODEL_TYPE } from './support/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-export-fp8-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Case {
  model: string;
  name: string;
  dir: string;
  tp: number;
  pp: number;
  dtype: TrtDType;
  kv: boolean;
}

const cases: Case[] = readdirSync(fp8Fixture('reference'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((m) =>
    readdirSync(fp8Fixture('reference', m.name)).filter((name) => !name.startsWith('distributed_')).map((name) => {
      const r = /^tp(\d+)_pp(\d+)_(bfloat16|float16|float32)(_kvcache)?$/.exec(name);
      if (!r) throw new Error(`unexpected reference case ${m.name}/${name}`);
      return { model: m.name, name, dir: fp8Fixture('reference', m.name, name), tp: Number(r[1]), pp: Number(r[2]), dtype: r[3]! as TrtDType, kv: r[4] !== undefined };
    }),
  );

const sources = (model: string) => ['te1/torch/tp1pp1', 'te2/torch/tp1pp1', ...(model === 'llama' ? ['te1/torch_dist/tp1pp1', 'te2/torch_dist/tp1pp1'] : [])];

test('the FP8 reference set covers three models, TP, PP, three dtypes and the FP8 KV cache', () => {
  expect(new Set(cases.map((c) => c.model))).toEqual(new Set(['gpt2', 'gptnext', 'llama']));
  expect(cases.some((c) => c.tp > 1) && cases.some((c) => c.pp > 1) && cases.some((c) => c.kv) && cases.some((c) => !c.kv)).toBe(true);
  expect(new Set(cases.map((c) => c.dtype))).toEqual(new Set(['bfloat16', 'float16', 'float32']));
});

describe.each(cases.map((c) => [`${c.model}/${c.name}`, c] as const))('%s', (_, c) => {
  // Megatron's own bytes, so Megatron's layout where it differs from what TensorRT-LLM 1.x needs (tied gpt2: no lm_head)
  test.each(sources(c.model))('from %s: exportTrtllm --fp8 writes Megatron\'s bytes', async (source) => {
    const ckpt = openCheckpoint(fp8Fixture('megatron', c.model, ...source.split('/')), { modelType: MODEL_TYPE[c.model]! });
    const out = join(tmp, `${c.model}-${c.name}-${source.replaceAll('/', '-')}`);
    const r = await exportTrtllm(ckpt, { outDir: out, tpSize: c.tp, ppSize: c.pp, dtype: c.dtype, fp8Quantized: true, fp8Kvcache: c.kv, threads: 2, megatronCompat: true });
    expect(r.files.map((f) => f.path.slice(out.length + 1)).sort()).toEqual(readdirSync(c.dir).sort());
    for (const f of readdirSync(c.dir)) expect(readFileSync(join(out, f)).equals(readFileSync(join(c.dir, f))), f).toBe(true);
    rmSync(out, { recursive: true });
  });
});

// The CUDA executor scales and casts on the GPU: the same bytes (run this file on the GPU machine).
const gpus = (() => {
  try {
    return features().cudaDevices;
  } catch {
    return 0;
  }
})();
if (!gpus) console.log('fp8: the --device cuda comparison is skipped here: no usable GPU (bench/gpu/run-session.sh runs it on a GPU machine)');
test.skipIf(!gpus)('--device cuda writes the same FP8 bytes for every reference case', async () => {
  for (const c of cases) {
    const ckpt = openCheckpoint(fp8Fixture('megatron', c.model, 'te2', 'torch', 'tp1pp1'), { modelType: MODEL_TYPE[c.model]! });
    const out = join(tmp, `cuda-${c.model}-${c.name}`);
    await exportTrtllm(ckpt, { outDir: out, tpSize: c.tp, ppSize: c.pp, dtype: c.dtype, fp8Quantized: true, fp8Kvcache: c.kv, device: 'cuda', megatronCompat: true });
    for (const f of readdirSync(c.dir)) expect(readFileSync(join(out, f)).equals(readFileSync(join(c.dir, f))), `${c.model}/${c.name}/${f}`).toBe(true);
  }
});

test('TRTLLMHelper.getTrtllmPretrainedConfigAndModelWeights takes fp8Quantized / fp8Kvcache / extraState', () => {
  const ckpt = openCheckpoint(fp8Fixture('megatron', 'llama', 'te1', 'torch', 'tp1pp1'), { modelType: 'llama' });
  const helper = new TRTLLMHelper(helperOptionsFor(ckpt, 'llama'));
  const { weights, configs } = helper.getTrtllmPretrainedConfigAndModelWeights({
    modelStateDict: ckpt.tensors, dtype: 'bfloat16', exportConfig: { inferenceTpSize: 2 }, fp8Quantized: true, fp8Kvcache: false, extraState: ckpt.extraState!,
  });
  expect(configs[0]!.toJson()).toBe(readFileSync(fp8Fixture('reference', 'llama', 'tp2_pp1_bfloat16', 'config.json'), 'utf8'));
  const byName = new Map(weights[1]!.tensors.map((t) => [t.name, t]));
  for (const n of ['attention.qkv', 'attention.dense', 'mlp.fc', 'mlp.gate', 'mlp.proj']) {
    expect(byName.get(`transformer.layers.2.${n}.weight`)!.dtype).toBe('float8_e4m3fn');
    expect(byName.get(`transformer.layers.2.${n}.weights_scaling_factor`)!.shape).toEqual([1]);
    expect(byName.get(`transformer.layers.2.${n}.activation_scaling_factor`)!.dtype).toBe('float32');
  }
  for (const n of ['transformer.vocab_embedding.weight', 'lm_head.weight', 'transformer.ln_f.weight', 'transformer.layers.0.input_layernorm.weight']) expect(byName.get(n)!.dtype).toBe('bfloat16');
  expect(byName.has('transformer.layers.0.attention.kv_cache_scaling_factor')).toBe(false);
});

test.each([
  ['llama', 300, true],
  ['gpt2', 200, false],
] as const)('on-device conversion (%s, TP1, vocab %i, kv cache %s) writes Megatron\'s DistributedTRTLLMModelWeightsConverter bytes', async (model, vocabSize, kv) => {
  const ckpt = openCheckpoint(fp8Fixture('megatron', model, 'te2', 'torch', 'tp1pp1'), { modelType: MODEL_TYPE[model]! });
  const helper = new TRTLLMHelper(helperOptionsFor(ckpt, MODEL_TYPE[model]!));
  const { weights, configs } = helper.getTrtllmPretrainedConfigAndModelWeights({
    modelStateDict: ckpt.tensors, dtype: 'bfloat16', onDeviceDistributedConversion: true, vocabSize, gpusPerNode: 1,
    parallelState: { tpRank: 0, tpSize: 1, ppRank: 0, ppSize: 1 }, fp8Quantized: true, fp8Kvcache: kv, extraState: ckpt.extraState!, megatronCompat: true,
  });
  const ref = fp8Fixture('reference', model, `distributed_tp1_bfloat16${kv ? '_kvcache' : ''}`);
  expect(configs[0]!.toJson()).toBe(readFileSync(join(ref, 'config.json'), 'utf8'));
  const path = join(tmp, `on-device-${model}.safetensors`);
  await nativeExecutor({ files: [{ path, tensors: weights[0]!.tensors }] }, { threads: 2 });
  expect(readFileSync(path).equals(readFileSync(join(ref, 'rank0.safetensors')))).toBe(true);
});

describe('Transformer Engine extra state', () => {
  const ckpts = { te1: openCheckpoint(fp8Fixture('megatron', 'gpt2', 'te1', 'torch', 'tp1pp1')), te2: openCheckpoint(fp8Fixture('megatron', 'gpt2', 'te2', 'torch', 'tp1pp1')) };
  const key = 'decoder.layers.1.mlp.linear_fc2._extra_state';

  test('TE 1.x (BytesIO of torch.save) and TE 2.x (uint8 tensor of a pickle with a recipe) decode to the same scales', () => {
    const a = decodeTeExtraState(ckpts.te1.extraState!.get(key)!(), key)!;
    const b = decodeTeExtraState(ckpts.te2.extraState!.get(key)!(), key)!;
    expect([a.encoding, b.encoding]).toEqual(['te1', 'te2']);
    expect(a.scaleFwd.length).toBe(3);
    expect([...b.scaleFwd]).toEqual([...a.scaleFwd]);
    // TE 2.x has no scale_inv: ours is float32 1/scale, which equals TE 1.x's stored torch.reciprocal values
    expect([...b.scaleInvFwd]).toEqual([...a.scaleInvFwd]);
    expect([...a.scaleInvFwd]).toEqual([...a.scaleFwd].map((s) => Math.fround(1 / s)));
  });

  test('modules without FP8 state decode to null (TE 2.x empty tensor, TE 1.x None, core_attention)', () => {
    const k = 'decoder.layers.0.self_attention.core_attention._extra_state';
    expect(decodeTeExtraState(ckpts.te2.extraState!.get(k)!(), k)).toBeNull();
    expect(decodeTeExtraState(ckpts.te1.extraState!.get(k)!(), k)).toBeNull();
    expect(decodeTeExtraState(null, k)).toBeNull();
  });

  test('a TE 2.x recipe without per-tensor scales (current scaling) is refused with E_UNSUPPORTED', () => {
    const state = Buffer.from('\x80\x02}X\x06\x00\x00\x00recipectransformer_engine.common.recipe\nFloat8CurrentScaling\n)\x81s.', 'latin1');
    expect(() => decodeTeExtraState(new Uint8Array(state), 'x')).toThrow(expect.objectContaining({ code: 'E_UNSUPPORTED', message: expect.stringMatching(/Float8CurrentScaling/) }));
  });

  test('truncated or corrupted TE 1.x / TE 2.x state ends in a coded error, never a crash', () => {
    const v = ckpts.te2.extraState!.get(key)!() as { storage: { path: string; byteOffset: number }; offset: number; shape: number[] };
    const te2 = readFileSync(v.storage.path).subarray(v.storage.byteOffset + v.offset, v.storage.byteOffset + v.offset + v.shape[0]!);
    const te1 = (ckpts.te1.extraState!.get(key)!() as PyBytesIO).bytes;
    expect(decodeTeExtraState(new Uint8Array(te2), key)).not.toBeNull();
    for (const [wrap, bytes] of [[(b: Uint8Array) => b, te2], [(b: Uint8Array) => new PyBytesIO(b), te1]] as const) {
      for (let cut = 1; cut < bytes.length; cut += 97) expect(() => decodeTeExtraState(wrap(bytes.slice(0, cut)), key)).toThrow(ExportError);
      for (let at = 0; at < bytes.length; at += 61) {
        const b = bytes.slice();
        b[at] = b[at]! ^ 0x5a;
        try {
          decodeTeExtraState(wrap(b), key);
        } catch (e) {
          expect(e).toBeInstanceOf(ExportError);
        }
      }
    }
  });

  test('a pickle naming any other global is refused, never executed (E_SECURITY)', () => {
    const evil = new Uint8Array(Buffer.from('\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.', 'latin1'));
    expect(() => decodeTeExtraState(evil, 'x')).toThrow(expect.objectContaining({ code: 'E_SECURITY' }));
    expect(() => decodeTeExtraState(new PyBytesIO(new Uint8Array([1, 2, 3])), 'x')).toThrow(ExportError);
  });
});

test('without --fp8 the FP8 checkpoints export as the classic model does (TE names, extra state ignored)', async () => {
  for (const te of ['te1', 'te2']) {
    const ckpt = openCheckpoint(fp8Fixture('megatron', 'llama', te, 'torch', 'tp1pp1'), { modelType: 'llama' });
    const out = join(tmp, `plain-${te}`);
    await exportTrtllm(ckpt, { outDir: out, tpSize: 2, dtype: 'bfloat16', threads: 2 });
    const ref = fixture('reference', 'llama', 'tp2_pp1_bfloat16');
    for (const f of readdirSync(ref)) expect(readFileSync(join(out, f)).equals(readFileSync(join(ref, f))), `${te} ${f}`).toBe(true);
  }
});

test('--fp8 on a checkpoint without FP8 state fails with E_CONFIG before anything is written', async () => {
  const ckpt = openCheckpoint(fixture('megatron', 'llama', 'torch', 'tp1pp1'), { modelType: 'llama' });
  const out = join(tmp, 'no-fp8-state');
  await expect(exportTrtllm(ckpt, { outDir: out, fp8Quantized: true })).rejects.toMatchObject({ code: 'E_CONFIG' });
  expect(existsSync(out)).toBe(false);
  // a legacy checkpoint trained with TP > 1 keeps per-rank states that are not merged: the message says where scales come from
  const tp2 = openCheckpoint(fixture('megatron', 'llama', 'torch', 'tp2pp1'), { modelType: 'llama' });
  await expect(exportTrtllm(tp2, { outDir: out, fp8Quantized: true })).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/torch_dist and TP1 PP1 legacy/) });
  expect(existsSync(out)).toBe(false);
  // the KV-cache flag alone needs no FP8 state (Megatron writes 1.0 scales): it is the config's kv algo only
  const r = await exportTrtllm(ckpt, { outDir: out, fp8Kvcache: true, dryRun: true });
  expect(r.config['quantization']).toEqual({ quant_algo: null, kv_cache_quant_algo: 'FP8' });
});
