// The quantization flags as a user meets them: refusals with stable codes before anything is written, and the
// config each format gets (the bytes are checked by native-ops.test.ts and test/interop/quantize.test.ts).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliAsync } from '../support/cli.js';
import { FIXTURES } from '../support/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'mcore-quant-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const LLAMA = join(FIXTURES, 'megatron/llama/torch/tp1pp1');
const MIXTRAL = join(FIXTURES, 'megatron/mixtral/torch/tp1pp1');

describe('--quantize', () => {
  it.each([
    [['hf', LLAMA, '--quantize', 'fp8-per-channel'], 1, /E_UNSUPPORTED: fp8-per-channel is a TensorRT-LLM format/],
    [['trtllm', LLAMA, '--quantize', 'fp8-block'], 1, /E_UNSUPPORTED: fp8-block has no TensorRT-LLM/],
    [['trtllm', LLAMA, '--quantize', 'int4-weight-only', '--group-size', '64'], 1, /E_UNSUPPORTED: TensorRT-LLM's W4A16 is per channel/],
    [['hf', LLAMA, '--quantize', 'int4-weight-only', '--group-size', '128'], 1, /E_UNSUPPORTED: .*columns are not a multiple of the group size 128/],
    [['hf', LLAMA, '--quantize', 'int3'], 2, /E_USAGE: --quantize must be one of int8-weight-only, int4-weight-only, fp8-per-channel, fp8-block/],
    [['hf', LLAMA, '--group-size', '32'], 2, /E_USAGE: --group-size and --quantize-exclude need --quantize/],
    [['hf', LLAMA, '--quantize', 'fp8-block', '--group-size', '32'], 2, /E_USAGE: --group-size applies to int4-weight-only only/],
  ])('%j exits %i with a coded error and writes nothing', async (args, code, message) => {
    const out = join(dir, `refused-${Math.random().toString(36).slice(2)}`);
    const r = await cliAsync([...args, '--out', out]);
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(code);
    expect(existsSync(out)).toBe(false);
  });

  it('hf int4: compressed-tensors config; routers, lm_head and excluded layers left unquantized and listed', async () => {
    const out = join(dir, 'mixtral-int4');
    const r = await cliAsync(['hf', MIXTRAL, '--out', out, '--quantize', 'int4-weight-only', '--group-size', '16', '--quantize-exclude', '*.layers.1.self_attn.o_proj', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { quantization_config: Record<string, unknown> };
    const q = config.quantization_config;
    expect(q['quant_method']).toBe('compressed-tensors');
    expect(q['format']).toBe('pack-quantized');
    expect(q['config_groups']).toMatchObject({ group_0: { targets: ['Linear'], weights: { num_bits: 4, type: 'int', symmetric: true, strategy: 'group', group_size: 16 } } });
    expect(q['ignore']).toEqual(['model.layers.0.block_sparse_moe.gate', 'model.layers.1.self_attn.o_proj', 'model.layers.1.block_sparse_moe.gate', 'lm_head']);
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    const names = Object.keys(index.weight_map);
    expect(names).toContain('model.layers.0.self_attn.q_proj.weight_packed');
    expect(names).toContain('model.layers.0.self_attn.q_proj.weight_scale');
    expect(names).toContain('model.layers.0.self_attn.q_proj.weight_shape');
    expect(names).toContain('model.layers.1.self_attn.o_proj.weight');
    expect(names).toContain('model.layers.0.block_sparse_moe.gate.weight');
    expect(names).not.toContain('model.layers.0.self_attn.q_proj.weight');
  }, 120_000);

  it('trtllm: fp8-per-channel and W8A16 configs', async () => {
    for (const [scheme, algo] of [['fp8-per-channel', 'FP8_PER_CHANNEL_PER_TOKEN'], ['int8-weight-only', 'W8A16']] as const) {
      const out = join(dir, `trt-${scheme}`);
      const r = await cliAsync(['trtllm', LLAMA, '--out', out, '--quantize', scheme, '--json']);
      expect(r.status, r.stderr).toBe(0);
      const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { quantization: unknown };
      expect(config.quantization).toEqual({ quant_algo: algo, kv_cache_quant_algo: null });
    }
  }, 120_000);
});
