// Megatron's build_and_save_engine arguments → trtllm-build argv. Expected defaults are Megatron's, read from
// megatron/core/export/trtllm/trtllm_helper.py @d98e8a64 (max_input_len 1024, max_output_len 1024,
// max_batch_size 4, paged_kv_cache True, tokens_per_block 128, paged_context_fmha False, ...).
// The build itself runs the STAND-IN trtllm-build (TensorRT-LLM cannot be installed here).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildOptionsToArgv, withMegatronDefaults } from '../../lib/engine/options.js';
import { buildAndSaveEngine, megatronBuildOptions } from '../../lib/engine/megatron.js';
import { fixture } from '../support/fixtures.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const STAND_IN = join(HERE, '../support/fake-trtllm-build/trtllm-build');
const CKPT = fixture('reference/gptnext/tp1_pp1_bfloat16');

function flagMap(argv: string[]): Map<string, string | true> {
  const m = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i]!.startsWith('--')) continue;
    const next = argv[i + 1];
    m.set(argv[i]!, next !== undefined && !next.startsWith('--') ? next : true);
  }
  return m;
}

describe("Megatron's build_and_save_engine arguments", () => {
  it('no arguments → Megatron defaults', () => {
    const f = flagMap(buildOptionsToArgv(megatronBuildOptions({})));
    expect(Object.fromEntries(f)).toEqual({
      '--max_input_len': '1024', '--max_seq_len': '2048', '--max_batch_size': '4', '--max_beam_width': '1',
      '--max_prompt_embedding_table_size': '0', '--kv_cache_type': 'paged', '--tokens_per_block': '128',
      '--remove_input_padding': 'enable', '--use_paged_context_fmha': 'disable', '--multiple_profiles': 'disable',
      '--gpt_attention_plugin': 'auto', '--gemm_plugin': 'auto',
    });
  });

  it('None (null) arguments mean "not given", as in Python', () => {
    expect(megatronBuildOptions({ maxNumTokens: null, maxSeqLen: null, loraCkptList: null })).toEqual(megatronBuildOptions({}));
  });

  it('LoRA: loraCkptList → --lora_dir, useLoraPlugin → --lora_plugin, source nemo, rank 64', () => {
    const f = flagMap(buildOptionsToArgv(megatronBuildOptions({ useLoraPlugin: 'float16', loraCkptList: ['/l1'], loraTargetModules: ['attn_qkv'] })));
    expect(f.get('--lora_plugin')).toBe('float16');
    expect(f.get('--lora_dir')).toBe('/l1');
    expect(f.get('--lora_ckpt_source')).toBe('nemo');
    expect(f.get('--max_lora_rank')).toBe('64');
    expect(f.get('--lora_target_modules')).toBe('attn_qkv');
  });

  it('paged_kv_cache=False drops the 128-token block default instead of failing', () => {
    const f = flagMap(buildOptionsToArgv(megatronBuildOptions({ pagedKvCache: false })));
    expect(f.get('--kv_cache_type')).toBe('continuous');
    expect(f.has('--tokens_per_block')).toBe(false);
    expect(withMegatronDefaults({ kvCacheType: 'disabled' }).tokensPerBlock).toBeUndefined();
  });

  it('useRefit=True is refused (trtllm-build hard-codes refit=False)', () => {
    expect(() => megatronBuildOptions({ useRefit: true }) && buildOptionsToArgv(megatronBuildOptions({ useRefit: true }))).toThrow(/E_UNSUPPORTED/);
  });

  it('unknown argument names are refused', () => {
    expect(() => megatronBuildOptions({ maxOutputLength: 3 } as never)).toThrow(/E_USAGE/);
  });

  describe('buildAndSaveEngine on a real checkpoint', () => {
    let work: string;
    beforeEach(() => { work = mkdtempSync(join(tmpdir(), 'mlm-build-')); });
    afterEach(() => rmSync(work, { recursive: true, force: true }));

    it('runs trtllm-build with the mapped arguments', async () => {
      const record = join(work, 'argv.json');
      const res = await buildAndSaveEngine(CKPT, join(work, 'engine'), { maxInputLen: 256, maxOutputLen: 256, maxBatchSize: 2 },
        { trtllmBuild: STAND_IN, env: { FAKE_TRTLLM_RECORD: record } });
      const f = flagMap(JSON.parse(readFileSync(record, 'utf8')).argv);
      expect(f.get('--max_seq_len')).toBe('512');
      expect(f.get('--max_batch_size')).toBe('2');
      expect(res.files.map((x) => x.name)).toEqual(['config.json', 'rank0.engine']);
    });
  });
});

describe('TRTLLMHelper.buildAndSaveEngine', () => {
  let work: string;
  beforeEach(() => { work = mkdtempSync(join(tmpdir(), 'helper-build-')); });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('writes in-memory weights to a temporary checkpoint, builds, and removes the temporary', async () => {
    const { openCheckpoint } = await import('../../lib/megatron/open.js');
    const { TRTLLMHelper } = await import('../../lib/trtllm/helper.js');
    const { helperOptionsFor } = await import('../../lib/trtllm/export.js');
    const { tsExecutor } = await import('../hf/support/executor.js');
    const ckpt = openCheckpoint(fixture('megatron/llama/torch/tp1pp1'));
    try {
      const helper = new TRTLLMHelper(helperOptionsFor(ckpt, ckpt.modelType));
      const { weights, configs } = helper.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16', exportConfig: { inferenceTpSize: 2 } });
      const seen = join(work, 'seen');
      const record = join(work, 'argv.json');
      const res = await helper.buildAndSaveEngine(
        { engineDir: join(work, 'engine'), trtllmModelWeights: weights, trtllmModelConfig: configs, executor: tsExecutor, maxBatchSize: 2 },
        { trtllmBuild: STAND_IN, env: { FAKE_TRTLLM_RECORD: record, FAKE_TRTLLM_COPY_CHECKPOINT: seen } },
      );
      expect(res.worldSize).toBe(2);
      // what trtllm-build read = Megatron's own TP2 conversion of this checkpoint
      const ref = fixture('reference/llama/tp2_pp1_bfloat16');
      for (const n of ['rank0.safetensors', 'rank1.safetensors']) expect(Buffer.compare(readFileSync(join(seen, n)), readFileSync(join(ref, n))), n).toBe(0);
      expect(flagMap(JSON.parse(readFileSync(record, 'utf8')).argv).get('--max_batch_size')).toBe('2');
      expect(readdirSync(work).sort()).toEqual(['argv.json', 'engine', 'seen']); // temporary checkpoint removed
      // one rank of an on-device conversion cannot make an engine
      await expect(helper.buildAndSaveEngine({ engineDir: join(work, 'e2'), trtllmModelWeights: weights.slice(0, 1), trtllmModelConfig: configs })).rejects.toThrow(/E_USAGE.*missing rank\(s\) 1/);
    } finally {
      ckpt.close();
    }
  });
});
