// CLI of the checkpoint generator. Build once with `npx tsc -p tsconfig.bench.json`, then:
//   node dist-bench/tools/generate/cli.js --out /tmp/mcore-bench/llama-8b --family llama --format torch_dist \
//     --layers 32 --hidden 4096 --ffn 14336 --heads 32 --groups 8 --vocab 128256 --tp 2 --pp 2
// Prints the sidecar summary (files, bytes, seconds, MB/s) as JSON.
import { parseArgs } from 'node:util';
import { fail, isExportError } from '../../lib/errors.js';
import { generateCheckpoint } from './generate.js';
import { presetSpec, type Family, type ModelSpec } from './model.js';
import type { GenDType } from './values.js';

const USAGE = `usage: cli.js --out DIR [--family llama|gpt|deepseek] [--format torch|torch_dist] [--tp N] [--pp N]
  [--layers N] [--hidden N] [--ffn N] [--heads N] [--groups N] [--kv-channels N] [--vocab N]
  [--vocab-divisible-by N] [--max-pos N] [--dtype bf16|fp16|fp32] [--tied|--untied] [--iteration N]
  [--seed N] [--cpu-storages] [--no-digests] [--global-digests] [--overwrite]
  deepseek (MLA + DeepSeek-V3 MoE, legacy torch only): [--experts N] [--topk N] [--moe-ffn N] [--shared-ffn N]
  [--first-dense N] [--q-lora N] [--kv-lora N] [--qk-head N] [--qk-rope N] [--v-head N]
  [--mtp N]  N multi-token-prediction layers (mtp.layers.<k>.*, on the last pipeline stage)`;

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) fail('E_USAGE', `--${name} must be a non-negative integer, got '${v}'`);
  return n;
}

function dtype(v: string | undefined): GenDType | undefined {
  if (v === undefined) return undefined;
  const m: Record<string, GenDType> = { bf16: 'bfloat16', bfloat16: 'bfloat16', fp16: 'float16', float16: 'float16', fp32: 'float32', float32: 'float32' };
  return m[v] ?? fail('E_USAGE', `--dtype must be bf16, fp16 or fp32, got '${v}'`);
}

export function main(argv: string[]): void {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      family: { type: 'string', default: 'llama' },
      format: { type: 'string', default: 'torch_dist' },
      tp: { type: 'string' },
      pp: { type: 'string' },
      layers: { type: 'string' },
      hidden: { type: 'string' },
      ffn: { type: 'string' },
      heads: { type: 'string' },
      groups: { type: 'string' },
      'kv-channels': { type: 'string' },
      experts: { type: 'string' },
      'moe-ffn': { type: 'string' },
      mtp: { type: 'string' },
      'shared-ffn': { type: 'string' },
      'first-dense': { type: 'string' },
      topk: { type: 'string' },
      'q-lora': { type: 'string' },
      'kv-lora': { type: 'string' },
      'qk-head': { type: 'string' },
      'qk-rope': { type: 'string' },
      'v-head': { type: 'string' },
      vocab: { type: 'string' },
      'vocab-divisible-by': { type: 'string' },
      'max-pos': { type: 'string' },
      dtype: { type: 'string' },
      tied: { type: 'boolean' },
      untied: { type: 'boolean' },
      iteration: { type: 'string' },
      seed: { type: 'string' },
      'cpu-storages': { type: 'boolean' },
      'no-digests': { type: 'boolean' },
      'global-digests': { type: 'boolean' },
      overwrite: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (v.help) return void console.log(USAGE);
  if (!v.out) fail('E_USAGE', `--out is required\n${USAGE}`);
  if (v.family !== 'llama' && v.family !== 'gpt' && v.family !== 'deepseek') fail('E_USAGE', `--family must be llama, gpt or deepseek, got '${v.family}'`);
  if (v.format !== 'torch' && v.format !== 'torch_dist') fail('E_USAGE', `--format must be torch or torch_dist, got '${v.format}'`);
  const over: Partial<ModelSpec> = {};
  const set = <K extends keyof ModelSpec>(k: K, x: ModelSpec[K] | undefined): void => {
    if (x !== undefined) over[k] = x;
  };
  set('numLayers', int(v.layers, 'layers'));
  set('hiddenSize', int(v.hidden, 'hidden'));
  set('ffnHiddenSize', int(v.ffn, 'ffn'));
  set('numAttentionHeads', int(v.heads, 'heads'));
  set('numQueryGroups', int(v.groups, 'groups') ?? (v.family === 'gpt' ? int(v.heads, 'heads') : undefined));
  set('kvChannels', int(v['kv-channels'], 'kv-channels'));
  set('vocabSize', int(v.vocab, 'vocab'));
  set('makeVocabSizeDivisibleBy', int(v['vocab-divisible-by'], 'vocab-divisible-by'));
  set('maxPositionEmbeddings', int(v['max-pos'], 'max-pos'));
  set('dtype', dtype(v.dtype));
  set('mtpNumLayers', int(v.mtp, 'mtp'));
  if (v.tied) over.untieEmbeddings = false;
  if (v.untied) over.untieEmbeddings = true;
  const spec = presetSpec(v.family as Family, over);
  if (spec.mla) {
    const m = spec.mla;
    spec.mla = {
      qLoraRank: int(v['q-lora'], 'q-lora') ?? m.qLoraRank,
      kvLoraRank: int(v['kv-lora'], 'kv-lora') ?? m.kvLoraRank,
      qkHeadDim: int(v['qk-head'], 'qk-head') ?? m.qkHeadDim,
      qkPosEmbHeadDim: int(v['qk-rope'], 'qk-rope') ?? m.qkPosEmbHeadDim,
      vHeadDim: int(v['v-head'], 'v-head') ?? m.vHeadDim,
    };
    spec.kvChannels = spec.mla.vHeadDim;
    spec.numQueryGroups = spec.numAttentionHeads;
  }
  if (spec.moe) {
    const e = spec.moe;
    spec.moe = {
      numExperts: int(v.experts, 'experts') ?? e.numExperts,
      topk: int(v.topk, 'topk') ?? e.topk,
      ffnHiddenSize: int(v['moe-ffn'], 'moe-ffn') ?? e.ffnHiddenSize,
      sharedExpertIntermediateSize: int(v['shared-ffn'], 'shared-ffn') ?? e.sharedExpertIntermediateSize,
      firstKDense: int(v['first-dense'], 'first-dense') ?? e.firstKDense,
    };
  }
  const m = generateCheckpoint({
    root: v.out,
    spec,
    tp: int(v.tp, 'tp') ?? 1,
    pp: int(v.pp, 'pp') ?? 1,
    format: v.format,
    iteration: int(v.iteration, 'iteration') ?? 10,
    seed: int(v.seed, 'seed') ?? 0,
    location: v['cpu-storages'] ? 'cpu' : 'cuda',
    digests: !v['no-digests'],
    globalDigests: !!v['global-digests'],
    overwrite: !!v.overwrite,
  });
  console.log(
    JSON.stringify({
      root: v.out,
      format: m.format,
      tp: m.tp,
      pp: m.pp,
      files: m.files.length,
      tensors: m.files.reduce((a, f) => a + f.tensors.length, 0),
      totalBytes: m.totalBytes,
      seconds: Number(m.seconds.toFixed(3)),
      MBps: Math.round(m.totalBytes / 1e6 / m.seconds),
    }),
  );
}

try {
  main(process.argv.slice(2));
} catch (e) {
  console.error(isExportError(e) ? e.message : e);
  process.exitCode = isExportError(e) && e.code === 'E_USAGE' ? 2 : 1;
}
