// `mcore-export hf CKPT --out DIR ...`: Megatron-Core checkpoint → Hugging Face transformers model directory.
import { fail } from '../../errors.js';
import { ProgressBar } from '../../export/progress.js';
import { formatSummary, gbPerSecond } from '../../export/summary.js';
import { HF_ARCHITECTURES } from '../../hf/convert.js';
import { exportHf, type HfExportOptions } from '../../hf/export.js';
import { openCheckpoint } from '../../megatron/open.js';
import { parseDevice } from '../../plan/device.js';
import { type ModelType, MODEL_TYPES } from '../../megatron/types.js';
import type { Command } from '../command.js';

const HELP = `Usage: mcore-export hf CKPT --out DIR [options]

Converts a Megatron-Core checkpoint (legacy torch or torch_dist, any training TP/PP) into a Hugging Face
transformers directory: config.json, generation_config.json, model-0000i-of-0000N.safetensors shards and
model.safetensors.index.json. Everything is checked before anything is written; the directory appears
only when complete.

Architectures: ${MODEL_TYPES.map((t) => `${t} → ${HF_ARCHITECTURES[t].architecture}`).join(', ')}

Options:
  --out DIR              output directory (must be empty or absent unless --force)
  --dtype D              bfloat16 | float16 | float32 (default: the checkpoint's parameter dtype)
  --max-shard-size S     largest shard, e.g. 5GB (default, 10^9 bytes as transformers counts), 500MB, 2GiB
  --tokenizer DIR        copy the tokenizer files found in DIR (tokenizer.json, tokenizer.model, ...)
  --model-type T         auto | ${MODEL_TYPES.join(' | ')} (default auto: guessed from the config)
  --vocab-size N         keep N vocabulary rows (default: the checkpoint's tokenizer vocab_size)
  --threads N            executor threads (default: all cores)
  --device D             cpu (default) | cuda | cuda:0,1 (gathers and casts on these GPUs)
  --dry-run              plan and validate only; print what would be written
  --json                 machine-readable result on stdout (nothing else there)
  --sha256               list each written file's sha256 (summary and --json)
  --force                replace an existing directory at --out`;

interface HfArgs {
  ckpt: string;
  opts: Omit<HfExportOptions, 'onProgress' | 'signal' | 'execute'>;
  json: boolean;
}

function intArg(flag: string, v: string | undefined, lo: number): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < lo) fail('E_USAGE', `${flag} needs an integer ≥ ${lo}, got ${v === undefined ? 'nothing' : `'${v}'`}`);
  return Number(v);
}

export function parseHfArgs(argv: string[]): HfArgs {
  let ckpt: string | undefined;
  const o: { -readonly [K in keyof HfArgs['opts']]?: HfArgs['opts'][K] } = {};
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let inline: string | undefined;
    if (a.startsWith('--') && a.includes('=')) {
      inline = a.slice(a.indexOf('=') + 1);
      a = a.slice(0, a.indexOf('='));
    }
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') fail('E_USAGE', `${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--out':
        o.outDir = value();
        break;
      case '--dtype':
        o.dtype = value();
        break;
      case '--max-shard-size':
        o.maxShardSize = value();
        break;
      case '--tokenizer':
        o.tokenizerDir = value();
        break;
      case '--model-type': {
        const t = value();
        if (t !== 'auto' && !(MODEL_TYPES as readonly string[]).includes(t)) fail('E_USAGE', `--model-type must be auto or one of ${MODEL_TYPES.join(', ')}`);
        if (t !== 'auto') o.modelType = t as ModelType;
        break;
      }
      case '--vocab-size':
        o.vocabSize = intArg(a, value(), 1);
        break;
      case '--threads':
        o.threads = intArg(a, value(), 1);
        break;
      case '--device': {
        const d = value();
        if (!d) fail('E_USAGE', '--device needs a value');
        parseDevice(d); // refuse a malformed device before planning
        o.device = d;
        break;
      }
      case '--dry-run':
        o.dryRun = true;
        break;
      case '--json':
        json = true;
        break;
      case '--sha256':
        o.hash = true;
        break;
      case '--force':
        o.force = true;
        break;
      default:
        if (a.startsWith('-')) fail('E_USAGE', `unknown option '${a}'`);
        if (ckpt !== undefined) fail('E_USAGE', `unexpected argument '${a}' (one checkpoint path is expected)`);
        ckpt = a;
    }
  }
  if (ckpt === undefined) fail('E_USAGE', 'missing checkpoint path');
  if (o.outDir === undefined) fail('E_USAGE', 'missing --out DIR');
  return { ckpt, opts: { ...o, outDir: o.outDir }, json };
}

export const hf: Command = {
  name: 'hf',
  summary: 'convert a Megatron-Core checkpoint into a Hugging Face transformers directory (sharded safetensors)',
  help: HELP,
  async run(argv) {
    const a = parseHfArgs(argv);
    const ckpt = openCheckpoint(a.ckpt, a.opts.modelType ? { modelType: a.opts.modelType } : {});
    try {
      const bar = new ProgressBar(process.stderr, 'hf');
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      let result;
      try {
        result = await exportHf(ckpt, { ...a.opts, signal: controller.signal, onProgress: (p) => bar.update(p) });
      } finally {
        process.off('SIGINT', onSignal);
        bar.done();
      }
      if (a.json) {
        process.stdout.write(JSON.stringify({ ...result, dryRun: a.opts.dryRun ?? false, gbPerSecond: gbPerSecond(result) }, null, 2) + '\n');
      } else if (a.opts.dryRun) {
        for (const f of result.files) process.stdout.write(`  ${f.path}  ${f.bytes} bytes\n`);
        process.stdout.write(`dry run: ${result.architecture} (${result.modelType}), ${result.tensors} tensors, ${result.dtype}, ${result.bytes} bytes in ${result.files.length} shard(s) would be written\n`);
      } else {
        process.stdout.write(`${result.architecture} (${result.modelType}), ${result.tensors} tensors, ${result.dtype}\n${formatSummary(result)}\n`);
      }
      return 0;
    } finally {
      ckpt.close();
    }
  },
};
