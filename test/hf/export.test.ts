// exportHf end to end on real fixtures: the directory transformers expects, shards within the limit, an index
// that covers every tensor, bytes that are the checkpoint's (cast where asked), all-or-nothing writing.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openSafetensors } from '../../lib/formats/safetensors-dir.js';
import { readSafetensorsHeader } from '../../lib/formats/safetensors.js';
import { exportHf, type PlanExecutor } from '../../lib/hf/export.js';
import { toHfModel } from '../../lib/hf/convert.js';
import { fromView } from '../../lib/tensor/tensor.js';
import { materialize } from '../support/materialize.js';
import { testExecutor } from './support/executor.js';
import { tp1Checkpoint } from './support/tp1-fixture.js';

let tmp: string;
let execute: PlanExecutor;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hf-export-'));
  const ex = await testExecutor();
  execute = ex.execute;
  console.log(`exportHf tests run with the ${ex.which}`);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const json = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, any>;

describe('llama → sharded bfloat16 directory', () => {
  const ckpt = tp1Checkpoint('llama');
  const max = 20_000;
  let out: string;
  beforeAll(async () => {
    out = join(tmp, 'llama-bf16');
    await exportHf(ckpt, { outDir: out, dtype: 'bf16', maxShardSize: max, execute });
  });

  test('files: config, generation config, index, model-0000i-of-0000N shards, nothing else', () => {
    const files = readdirSync(out).sort();
    const shards = files.filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(3);
    shards.forEach((s, i) => expect(s).toBe(`model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`));
    expect(files).toEqual(['config.json', 'generation_config.json', 'model.safetensors.index.json', ...shards].sort());
    expect(readdirSync(tmp).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  test('the index covers every tensor exactly once, total_size is the data bytes, shards stay within the limit', () => {
    const index = json(join(out, 'model.safetensors.index.json'));
    const hf = toHfModel({ config: ckpt.config, modelType: 'llama', tensors: ckpt.tensors, args: ckpt.args });
    expect(Object.keys(index.weight_map).sort()).toEqual(hf.tensors.map((t) => t.name).sort());
    let total = 0;
    const seen = new Set<string>();
    for (const file of new Set(Object.values(index.weight_map) as string[])) {
      const h = readSafetensorsHeader(join(out, file));
      expect(h.metadata).toEqual({ format: 'pt' });
      if (h.entries.length > 1) expect(h.dataLength).toBeLessThanOrEqual(max);
      for (const e of h.entries) {
        expect(index.weight_map[e.name]).toBe(file);
        expect(seen.has(e.name)).toBe(false);
        seen.add(e.name);
        expect(e.dtype).toBe('BF16');
      }
      total += h.dataLength;
    }
    expect(index.metadata.total_size).toBe(total);
    expect(seen.size).toBe(hf.tensors.length);
  });

  test('shapes are the HF ones and bytes the checkpoint rows they come from', () => {
    const st = openSafetensors(out);
    const hf = toHfModel({ config: ckpt.config, modelType: 'llama', tensors: ckpt.tensors, args: ckpt.args });
    for (const t of hf.tensors) {
      const v = st.tensors.get(t.name)!;
      expect(v.shape).toEqual(t.tensor.shape);
      expect(materialize(fromView(v))).toEqual(materialize(t.tensor));
    }
  });

  test('config.json and generation_config.json', () => {
    const c = json(join(out, 'config.json'));
    expect(Object.keys(c).slice(0, 2)).toEqual(['architectures', 'model_type']);
    expect(c).toMatchObject({ architectures: ['LlamaForCausalLM'], model_type: 'llama', torch_dtype: 'bfloat16', vocab_size: 300, hidden_size: 64, num_hidden_layers: 4, num_key_value_heads: 2, head_dim: 8, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 64 });
    expect(json(join(out, 'generation_config.json'))).toEqual({ _from_model_config: true });
    // transformers' strict config classes refuse an int where a float is declared: floats are written as Python writes them
    const text = readFileSync(join(out, 'config.json'), 'utf8');
    expect(text).toContain('"attention_dropout": 0.0');
    expect(text).toContain('"rope_theta": 10000.0');
    expect(text).toContain('"rms_norm_eps": 1e-05');
  });
});

test('bfloat16 → float32 widens exactly (bf16 bits are the top half of the fp32 bits)', async () => {
  const ckpt = tp1Checkpoint('llama');
  const out = join(tmp, 'llama-f32');
  const r = await exportHf(ckpt, { outDir: out, dtype: 'float32', execute });
  expect(r).toMatchObject({ dtype: 'float32', architecture: 'LlamaForCausalLM', tensors: 39 });
  const v = openSafetensors(out).tensors.get('model.layers.3.mlp.down_proj.weight')!;
  expect(v.dtype).toBe('float32');
  const got = new Uint32Array(materialize(fromView(v)).slice().buffer);
  const src = new Uint16Array(materialize(ckpt.tensors.get('decoder.layers.3.mlp.linear_fc2.weight')!).slice().buffer);
  expect(got.length).toBe(src.length);
  for (let i = 0; i < src.length; i++) expect(got[i]).toBe(src[i]! << 16 >>> 0);
});

test('progress reports bytes up to the total the index states', async () => {
  const seen: { bytesDone: number; bytesTotal: number }[] = [];
  const out = join(tmp, 'progress');
  const r = await exportHf(tp1Checkpoint('mixtral'), { outDir: out, execute, onProgress: (p) => seen.push(p) });
  expect(seen.length).toBeGreaterThan(0);
  const last = seen[seen.length - 1]!;
  expect(last.bytesDone).toBe(last.bytesTotal);
  // the executor counts whole shard files (headers included): at least the tensor bytes
  expect(last.bytesTotal).toBeGreaterThanOrEqual(r.bytes);
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.bytesDone).toBeGreaterThanOrEqual(seen[i - 1]!.bytesDone);
});

describe('all-or-nothing writing and refusals', () => {
  test('a non-empty output directory is refused without force and left untouched; force replaces only a previous export', async () => {
    const ckpt = tp1Checkpoint('gpt2');
    const out = join(tmp, 'busy');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    await expect(exportHf(ckpt, { outDir: out, execute })).rejects.toThrow(/E_USAGE.*not empty/);
    await expect(exportHf(ckpt, { outDir: out, force: true, execute })).rejects.toThrow(/E_USAGE.*keep\.txt/);
    expect(readdirSync(out)).toEqual(['keep.txt']);
    rmSync(join(out, 'keep.txt'));
    writeFileSync(join(out, 'model-00001-of-00009.safetensors'), 'an older export');
    await expect(exportHf(ckpt, { outDir: out, execute })).rejects.toThrow(/E_USAGE.*not empty/);
    await exportHf(ckpt, { outDir: out, force: true, execute });
    expect(readdirSync(out)).not.toContain('model-00001-of-00009.safetensors');
    expect(json(join(out, 'config.json'))).toMatchObject({ architectures: ['GPT2LMHeadModel'], torch_dtype: 'float32' });
    expect(readdirSync(tmp).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  test('an aborted export leaves no directory and no staging files', async () => {
    const ac = new AbortController();
    ac.abort();
    const out = join(tmp, 'aborted');
    await expect(exportHf(tp1Checkpoint('gpt2'), { outDir: out, execute, signal: ac.signal })).rejects.toThrow(/E_ABORTED/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  test('a failing executor leaves nothing behind', async () => {
    const out = join(tmp, 'failed');
    const broken: PlanExecutor = async (plan) => {
      writeFileSync(plan.files[0]!.path, 'partial');
      throw new Error('disk full');
    };
    await expect(exportHf(tp1Checkpoint('gpt2'), { outDir: out, execute: broken })).rejects.toThrow('disk full');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  test('bad settings are coded errors raised before anything is written', async () => {
    const ckpt = tp1Checkpoint('gpt2');
    const out = join(tmp, 'never');
    await expect(exportHf(ckpt, { outDir: out, dtype: 'int8', execute })).rejects.toThrow(/E_USAGE/);
    await expect(exportHf(ckpt, { outDir: out, maxShardSize: '5 parsecs', execute })).rejects.toThrow(/E_USAGE/);
    await expect(exportHf(ckpt, { outDir: out, tokenizerDir: join(tmp, 'no-such-tokenizer'), execute })).rejects.toThrow(/E_NOT_FOUND/);
    await expect(exportHf(ckpt, { outDir: out, modelType: 'mixtral', execute })).rejects.toThrow(/E_UNSUPPORTED/);
    expect(existsSync(out)).toBe(false);
  });

  test('tokenizer files are copied, a model config next to them is not', async () => {
    const tok = join(tmp, 'tok');
    mkdirSync(tok);
    writeFileSync(join(tok, 'tokenizer.json'), '{"version":"1.0"}');
    writeFileSync(join(tok, 'tokenizer_config.json'), '{}');
    writeFileSync(join(tok, 'config.json'), '{"not":"ours"}');
    const out = join(tmp, 'with-tok');
    await exportHf(tp1Checkpoint('gpt2'), { outDir: out, tokenizerDir: tok, execute });
    expect(readFileSync(join(out, 'tokenizer.json'), 'utf8')).toBe('{"version":"1.0"}');
    expect(existsSync(join(out, 'tokenizer_config.json'))).toBe(true);
    expect(json(join(out, 'config.json')).architectures).toEqual(['GPT2LMHeadModel']);
  });
});
