// Every fixture model exported to Hugging Face format (float32 and bfloat16) by the real CLI
// (`node bin/mcore-export.js hf`, so openCheckpoint + the native executor), loaded by transformers'
// AutoModelForCausalLM on CPU in a Python child process and run on the fixture's input ids: its logits must
// match Megatron's own forward pass (fixtures/logits) over the real-vocabulary columns. Besides tp1pp1, other
// training layouts (TP/PP/EP shards, torch_dist) of the same weights must give the same result.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FIXTURE_MODELS, FIXTURES, type FixtureModel } from '../hf/support/tp1-fixture.js';
import { exportWithCli, hfLogits, interopSetup, type HfLogitsResult } from './hf-run.js';

const DTYPES = ['float32', 'bfloat16'] as const;
const TOLERANCE = { float32: 1e-4, bfloat16: 2e-2 } as const;

/** tp1pp1 in both dtypes (the required matrix), then other layouts of the same weights. */
const OTHER_LAYOUTS: Record<FixtureModel, [string, string]> = {
  gpt2: ['torch/tp2pp1', 'torch_dist/tp1pp2'],
  gptnext: ['torch/tp1pp2', 'torch_dist/tp2pp1'],
  llama: ['torch/tp2pp1', 'torch_dist/tp1pp2'],
  mixtral: ['torch/ep2', 'torch_dist/ep2'],
};
interface Case {
  model: FixtureModel;
  dtype: (typeof DTYPES)[number];
  layout: string;
  /** export as another architecture that computes the same function */
  as?: string;
}
const cases: Case[] = [
  ...FIXTURE_MODELS.flatMap((model) => [
    ...DTYPES.map((dtype) => ({ model, dtype, layout: 'torch/tp1pp1' })),
    ...OTHER_LAYOUTS[model].map((layout, i) => ({ model, dtype: DTYPES[i]!, layout })),
  ]),
  // GPT-2's block with multi-head attention is also GPTBigCode's (multi_query false): the starcoder rule, checked by logits
  ...DTYPES.map((dtype) => ({ model: 'gpt2' as const, dtype, layout: 'torch/tp2pp1', as: 'starcoder' })),
];
const caseDir = (c: Case) => join(tmp, `${c.model}-${c.layout.replace('/', '-')}-${c.dtype}${c.as ? `-as-${c.as}` : ''}`);
let results = new Map<string, HfLogitsResult>();
let skipReason: string | undefined;
let tmp: string;

beforeAll(async () => {
  const setup = await interopSetup();
  if (!setup.python) {
    skipReason = setup.skip;
    console.warn(`SKIPPING HF interop: ${skipReason}`);
    return;
  }
  tmp = mkdtempSync(join(tmpdir(), 'hf-interop-'));
  const list: { dir: string; logits: string; dtype: string }[] = [];
  for (const c of cases) {
    const dir = caseDir(c);
    const r = await exportWithCli(join(FIXTURES, 'megatron', c.model, c.layout), dir, c.dtype, c.as);
    if (r.dtype !== c.dtype) throw new Error(`CLI wrote ${r.dtype}, asked ${c.dtype}`);
    list.push({ dir, logits: join(FIXTURES, 'logits', `${c.model}.safetensors`), dtype: c.dtype });
  }
  results = await hfLogits(setup.python, tmp, list);
  const rows = cases.map((c) => {
    const r = results.get(caseDir(c));
    return `| ${c.model} | ${c.layout} | ${r?.class} | ${c.dtype} | cpu (${r?.model_dtype}) | ${r?.vocab}/${r?.padded_vocab} | ${r?.rel_err.toExponential(2)} | ≤ ${TOLERANCE[c.dtype]} |`;
  });
  console.log(
    [`HF interop (mcore-export hf CLI → transformers, torch ${[...results.values()][0]?.torch}, transformers ${[...results.values()][0]?.transformers})`,
      '| model | source layout | class | export dtype | device (compute dtype) | vocab/padded | max\\|Δ\\|/max\\|ref\\| | bound |', '|---|---|---|---|---|---|---|---|', ...rows].join('\n'),
  );
});

afterAll(() => {
  if (tmp && existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
});

describe('transformers runs the exported checkpoints to Megatron logits', () => {
  test.for(cases)('$model $layout $dtype $as', (c, ctx) => {
    if (skipReason) ctx.skip();
    const { dtype } = c;
    const r = results.get(caseDir(c));
    expect(r, 'python produced no result').toBeDefined();
    expect(r!.missing, 'weights transformers expected but did not find').toEqual([]);
    expect(r!.unexpected, 'weights transformers did not expect').toEqual([]);
    expect(r!.mismatched).toEqual([]);
    expect(r!.model_dtype).toBe(dtype);
    expect(r!.rel_err).toBeLessThanOrEqual(TOLERANCE[dtype]);
  });
});
