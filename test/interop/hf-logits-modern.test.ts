// The modern fixtures (qwen2, qwen3, qwen3_moe, deepseek, deepseek_mla) exported to Hugging Face format by the
// real CLI from every layout we have or make — both formats at TP1 in float32 and bfloat16, and the legacy
// layouts re-sharded from the TP1 files by test/support/reshard-legacy.ts (TP2, PP2, Transformer Engine names;
// for MoE models also EP2, TP2×EP2, TEGroupedMLP and legacy GroupedMLP experts) and torch_dist re-chunked by
// test/support/reshard-dist.ts (TP2; MoE: EP2, TP2×EP2) — loaded by transformers with no
// missing or unexpected weights and run on the fixture's input: the logits must match Megatron's own forward
// (max|Δ|/max|ref| ≤ 1e-4 in float32, 2e-2 in bfloat16). The fixtures were trained in bfloat16, so a bfloat16
// export holds Megatron's weights exactly: run in float32 it must meet the float32 bound too.
//
// deepseek_mla in bfloat16 compute: one of the 32 positions picks another expert in layer 1 than float32 compute
// does (the manifest's routing margins are ~2e-4: bfloat16 activations move scores by more), which moves that
// position's logits by ~15% of max|ref|; every other position and the argmax of ≥ 90% agree. Its bfloat16-compute
// bound is therefore 0.2 with an argmax check, the exactness being shown by the float32-compute case.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { modernFixture } from '../support/fixtures.js';
import { type DistLayout, reshardDist } from '../support/reshard-dist.js';
import { type LegacyLayout, reshardLegacy } from '../support/reshard-legacy.js';
import { exportWithCli, hfLogits, interopSetup, type HfLogitsResult } from './hf-run.js';

const TOLERANCE = { float32: 1e-4, bfloat16: 2e-2 } as const;
/** bfloat16-compute bound per model where a routing flip is expected (see above) */
const BF16_ROUTING_FLIP: Partial<Record<Model, number>> = { deepseek_mla: 0.2 };
const CLASS = { qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM', qwen3_moe: 'Qwen3MoeForCausalLM', deepseek: 'Glm4MoeForCausalLM', deepseek_mla: 'DeepseekV3ForCausalLM' } as const;
type Model = keyof typeof CLASS;
const MODELS = Object.keys(CLASS) as Model[];
const MOE: readonly Model[] = ['qwen3_moe', 'deepseek', 'deepseek_mla'];

const RESHARDED: Record<string, LegacyLayout> = {
  tp2: { tp: 2 },
  pp2: { pp: 2 },
  'tp2-te': { tp: 2, te: true },
};
/** torch_dist re-chunked as a TP / EP run saves it (test/support/reshard-dist.ts) */
const RECHUNKED: Record<string, DistLayout> = { 'dist-tp2': { tp: 2 } };
const RECHUNKED_MOE: Record<string, DistLayout> = { 'dist-ep2': { ep: 2 }, 'dist-tp2ep2': { tp: 2, ep: 2 } };
const RESHARDED_MOE: Record<string, LegacyLayout> = {
  ep2: { ep: 2 },
  tp2ep2: { tp: 2, ep: 2 },
  'ep2-te-grouped': { ep: 2, experts: 'te-grouped' },
  'tp2ep2-legacy-grouped': { tp: 2, ep: 2, experts: 'legacy-grouped' },
};

interface Case {
  model: Model;
  /** 'torch/tp1pp1' | 'torch_dist/tp1pp1' (fixtures) or a key of RESHARDED(_MOE) */
  layout: string;
  dtype: keyof typeof TOLERANCE;
}
const cases: Case[] = MODELS.flatMap((model) => [
  ...(['torch/tp1pp1', 'torch_dist/tp1pp1'] as const).flatMap((layout) => (['float32', 'bfloat16'] as const).map((dtype) => ({ model, layout, dtype }))),
  ...Object.keys({ ...RESHARDED, ...RECHUNKED, ...(MOE.includes(model) ? { ...RESHARDED_MOE, ...RECHUNKED_MOE } : {}) }).map((layout) => ({ model, layout, dtype: 'float32' as const })),
]);

let tmp: string;
let skipReason: string | undefined;
let results = new Map<string, HfLogitsResult>();
const caseDir = (c: Case) => join(tmp, 'out', `${c.model}-${c.layout.replace('/', '-')}-${c.dtype}`);
const bf16Cases = cases.filter((c) => c.dtype === 'bfloat16');

function source(c: Case): string {
  if (c.layout.includes('/')) return modernFixture('megatron', c.model, c.layout);
  const dst = join(tmp, 'src', `${c.model}-${c.layout}`);
  if (!existsSync(dst)) {
    const dist = RECHUNKED[c.layout] ?? RECHUNKED_MOE[c.layout];
    if (dist) reshardDist(modernFixture('megatron', c.model, 'torch_dist', 'tp1pp1'), dst, dist);
    else reshardLegacy(modernFixture('megatron', c.model, 'torch', 'tp1pp1'), dst, RESHARDED[c.layout] ?? RESHARDED_MOE[c.layout]!);
  }
  return dst;
}

beforeAll(async () => {
  const setup = await interopSetup();
  if (!setup.python) {
    skipReason = setup.skip;
    console.warn(`SKIPPING modern HF interop: ${skipReason}`);
    return;
  }
  tmp = mkdtempSync(join(tmpdir(), 'hf-interop-modern-'));
  const list: Parameters<typeof hfLogits>[2] = [];
  for (const c of cases) {
    const r = await exportWithCli(source(c), caseDir(c), c.dtype);
    if (r.dtype !== c.dtype) throw new Error(`CLI wrote ${r.dtype}, asked ${c.dtype}`);
    list.push({ dir: caseDir(c), logits: modernFixture('logits', `${c.model}.safetensors`), dtype: c.dtype });
    if (c.dtype === 'bfloat16') list.push({ dir: caseDir(c), logits: modernFixture('logits', `${c.model}.safetensors`), dtype: c.dtype, compute: 'float32' });
  }
  results = await hfLogits(setup.python, tmp, list);
  const first = [...results.values()][0];
  console.log(
    [
      `Modern HF interop (mcore-export hf CLI → transformers ${first?.transformers}, torch ${first?.torch}, CPU)`,
      '| model | source layout | class | export dtype | vocab | max\\|Δ\\|/max\\|ref\\| | bound |',
      '|---|---|---|---|---|---|---|',
      ...cases.map((c) => {
        const r = results.get(caseDir(c));
        return `| ${c.model} | ${c.layout} | ${r?.class} | ${c.dtype} | ${r?.vocab}/${r?.padded_vocab} | ${r?.rel_err.toExponential(2)} | ≤ ${c.dtype === 'bfloat16' ? (BF16_ROUTING_FLIP[c.model] ?? TOLERANCE.bfloat16) : TOLERANCE.float32} |`;
      }),
      ...bf16Cases.map((c) => {
        const r = results.get(`${caseDir(c)}@float32`);
        return `| ${c.model} | ${c.layout} | ${r?.class} | bfloat16, run in float32 | ${r?.vocab}/${r?.padded_vocab} | ${r?.rel_err.toExponential(2)} | ≤ ${TOLERANCE.float32} |`;
      }),
    ].join('\n'),
  );
});

afterAll(() => {
  if (tmp && existsSync(tmp)) rmSync(tmp, { recursive: true, force: true });
});

describe('transformers runs the modern exports to Megatron logits', () => {
  test.for(cases)('$model $layout $dtype', (c, ctx) => {
    if (skipReason) ctx.skip();
    const r = results.get(caseDir(c));
    expect(r, 'python produced no result').toBeDefined();
    expect(r!.class).toBe(CLASS[c.model]);
    expect(r!.missing, 'weights transformers expected but did not find').toEqual([]);
    expect(r!.unexpected, 'weights transformers did not expect').toEqual([]);
    expect(r!.mismatched).toEqual([]);
    expect(r!.model_dtype).toBe(c.dtype);
    const flip = c.dtype === 'bfloat16' ? BF16_ROUTING_FLIP[c.model] : undefined;
    expect(r!.rel_err).toBeLessThanOrEqual(flip ?? TOLERANCE[c.dtype]);
    if (flip) expect(r!.argmax_agree).toBeGreaterThanOrEqual(0.9);
  });
  test.for(bf16Cases)('$model $layout bfloat16 export run in float32: Megatron\'s weights exactly', (c, ctx) => {
    if (skipReason) ctx.skip();
    const r = results.get(`${caseDir(c)}@float32`);
    expect(r, 'python produced no result').toBeDefined();
    expect(r!.model_dtype).toBe('float32');
    expect(r!.rel_err).toBeLessThanOrEqual(TOLERANCE.float32);
  });
});
