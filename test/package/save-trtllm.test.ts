// saveTrtllmCheckpoint: what TRTLLMHelper returns, written as a TensorRT-LLM checkpoint. Compared byte for byte
// with Megatron's own conversion of the same checkpoint (the fixture set's reference), with progress, abort,
// one process per rank, and refusals before anything is written.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { helperOptionsFor, openCheckpoint, saveTrtllmCheckpoint, TRTLLMHelper, type Progress } from '../../lib/index.js';
import { fixture } from '../support/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-save-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const REF = fixture('reference', 'llama', 'tp2_pp1_bfloat16');

function helperOutput() {
  const ckpt = openCheckpoint(fixture('megatron', 'llama', 'torch', 'tp1pp1'));
  const helper = new TRTLLMHelper(helperOptionsFor(ckpt, ckpt.modelType));
  return helper.getTrtllmPretrainedConfigAndModelWeights({ modelStateDict: ckpt.tensors, dtype: 'bfloat16', exportConfig: { inferenceTpSize: 2 } });
}

function sameFiles(dir: string, ref: string): void {
  expect(readdirSync(dir).sort()).toEqual(readdirSync(ref).sort());
  for (const f of readdirSync(ref)) expect(readFileSync(join(dir, f)).equals(readFileSync(join(ref, f))), f).toBe(true);
}

describe('saveTrtllmCheckpoint', () => {
  test("writes the helper's weights and config byte for byte as Megatron's reference conversion, reporting progress", async () => {
    const { weights, configs } = helperOutput();
    const out = join(tmp, 'all');
    const seen: Progress[] = [];
    const r = await saveTrtllmCheckpoint(configs, weights, out, { onProgress: (p) => seen.push(p) });
    sameFiles(out, REF);
    expect(r.ranks).toEqual([0, 1]);
    expect(r.files.map((f) => f.path).sort()).toEqual(['config.json', 'rank0.safetensors', 'rank1.safetensors'].map((f) => join(out, f)));
    expect(r.bytes).toBe(r.files.reduce((a, f) => a + f.bytes, 0));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)!.bytesDone).toBe(seen.at(-1)!.bytesTotal);
  });

  test('one rank per call (one process per rank) fills the same directory; only rank 0 writes config.json', async () => {
    const { weights, configs } = helperOutput();
    const out = join(tmp, 'split');
    const second = await saveTrtllmCheckpoint(configs, [weights[1]!], out);
    expect(second.files.map((f) => f.path)).toEqual([join(out, 'rank1.safetensors')]);
    expect(readdirSync(out)).toEqual(['rank1.safetensors']);
    await saveTrtllmCheckpoint(configs, [weights[0]!], out);
    sameFiles(out, REF);
  });

  test('an aborted save rejects with E_ABORTED and leaves no file', async () => {
    const { weights, configs } = helperOutput();
    const out = join(tmp, 'aborted');
    mkdirSync(out);
    const controller = new AbortController();
    controller.abort();
    await expect(saveTrtllmCheckpoint(configs, weights, out, { signal: controller.signal })).rejects.toMatchObject({ code: 'E_ABORTED' });
    expect(readdirSync(out)).toEqual([]);
  });

  test('refuses a rank listed twice, weights of another layout, and an existing export without force, before writing', async () => {
    const { weights, configs } = helperOutput();
    const out = join(tmp, 'refused');
    await expect(saveTrtllmCheckpoint(configs, [weights[0]!, weights[0]!], out)).rejects.toMatchObject({ code: 'E_USAGE' });
    const foreign = { ...weights[1]!, mapping: { ...weights[1]!.mapping, tpSize: 4 } };
    await expect(saveTrtllmCheckpoint(configs, [weights[0]!, foreign], out)).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(existsSync(out)).toBe(false);
    await saveTrtllmCheckpoint(configs, weights, out);
    await expect(saveTrtllmCheckpoint(configs, weights, out)).rejects.toMatchObject({ code: expect.stringMatching(/^E_(USAGE|IO)$/) });
    await saveTrtllmCheckpoint(configs, weights, out, { force: true });
    sameFiles(out, REF);
  });
});
