// transformers reads the multi-token-prediction layers of a DeepSeek-V3 export: a generated TP2 checkpoint with
// 2 MTP layers (tools/generate --mtp), exported by the real CLI in float32. The main model loads with no missing
// keys and exactly the MTP layers' keys unexpected (DeepseekV3's _keys_to_ignore_on_load_unexpected names only
// the real model's layer 61); transformers' own MtpModel — which raises on any missing MTP weight — loads them
// once that pattern names this model's MTP indices, and holds the file's eh_proj / norms / attention weights.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCheckpoint } from '../../tools/generate/generate.js';
import { presetSpec } from '../../tools/generate/model.js';
import { exportWithCli, interopSetup, ROOT } from './hf-run.js';

const run = promisify(execFile);
const L = 3;
const MTP = 2;

interface MtpCheck {
  num_hidden_layers: number;
  num_nextn_predict_layers: number;
  num_mtp_layers: number;
  missing: string[];
  unexpected: string[];
  mismatched: string[];
  mtp_keys: string[];
  mtp_model: { loaded: boolean; error?: string; layers?: number; same?: Record<string, boolean> };
}

let tmp: string;
let skip: string | undefined;
let result: MtpCheck;

beforeAll(async () => {
  const setup = await interopSetup();
  if (!setup.python) {
    skip = setup.skip;
    console.warn(`SKIPPING MTP interop: ${skip}`);
    return;
  }
  tmp = mkdtempSync(join(tmpdir(), 'hf-mtp-interop-'));
  const src = join(tmp, 'src');
  generateCheckpoint({ root: src, spec: presetSpec('deepseek', { numLayers: L, mtpNumLayers: MTP, dtype: 'float32' }), tp: 2, format: 'torch', digests: false });
  const out = join(tmp, 'hf');
  const r = await exportWithCli(src, out, 'float32');
  expect(r.architecture).toBe('DeepseekV3ForCausalLM');
  const { stdout } = await run(setup.python, [join(ROOT, 'test/interop/hf_mtp_check.py'), out], { maxBuffer: 1 << 26, env: { ...process.env, TRANSFORMERS_OFFLINE: '1', HF_HUB_OFFLINE: '1', TORCHDYNAMO_DISABLE: '1' } });
  result = JSON.parse(stdout.trim().split('\n').pop()!) as MtpCheck;
}, 600_000);
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('transformers reads DeepSeek-V3 MTP layers', () => {
  test('config: num_nextn_predict_layers (= num_mtp_layers) after num_hidden_layers', ({ skip: skipTest }) => {
    if (skip) return skipTest(skip);
    expect([result.num_hidden_layers, result.num_nextn_predict_layers, result.num_mtp_layers]).toEqual([L, MTP, MTP]);
  });

  test('main model: nothing missing or mismatched; unexpected = exactly the MTP layers', ({ skip: skipTest }) => {
    if (skip) return skipTest(skip);
    expect(result.missing).toEqual([]);
    expect(result.mismatched).toEqual([]);
    const layers = new Set(result.mtp_keys.map((k) => Number(k.split('.')[2])));
    expect([...layers].sort()).toEqual([L, L + 1]);
    // transformers reports unexpected keys after its load-time renames, which fuse the per-expert weights
    // (mlp.experts.<j>.gate_proj/up_proj → mlp.experts.gate_up_proj, down_proj → mlp.experts.down_proj)
    const fused = (k: string) => k.replace(/mlp\.experts\.\d+\.(?:gate|up)_proj\.weight$/, 'mlp.experts.gate_up_proj').replace(/mlp\.experts\.\d+\.down_proj\.weight$/, 'mlp.experts.down_proj');
    expect(result.unexpected).toEqual([...new Set(result.mtp_keys.map(fused))].sort());
  });

  test("transformers' MtpModel loads every MTP weight (it raises on a missing one) and holds the file's values", ({ skip: skipTest }) => {
    if (skip) return skipTest(skip);
    expect(result.mtp_model.error).toBeUndefined();
    expect(result.mtp_model).toMatchObject({ loaded: true, layers: MTP });
    const same = result.mtp_model.same!;
    expect(Object.keys(same).length).toBe(MTP * 5);
    expect(Object.entries(same).filter(([, ok]) => !ok)).toEqual([]);
  });
});
