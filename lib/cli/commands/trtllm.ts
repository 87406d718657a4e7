// `mcore-export trtllm CKPT --out DIR ...`: Megatron-Core checkpoint → TensorRT-LLM checkpoint directory.
import { fail } from '../../errors.js';
import { ProgressBar } from '../../export/progress.js';
import { formatSummary, gbPerSecond } from '../../export/summary.js';
import { openCheckpoint } from '../../megatron/open.js';
import { parseDevice } from '../../plan/device.js';
import { type ModelType, MODEL_TYPES } from '../../megatron/types.js';
import { assignOutputRanks, resolveLaunchPlace } from '../../scale/launch.js';
import { shareExportOptions } from '../../scale/partitioned-export.js';
import { exportTrtllm, type ExportTrtllmOptions } from '../../trtllm/export.js';
import type { Command } from '../command.js';

const HELP = `Usage: mcore-export trtllm CKPT --out DIR [options]

Converts a Megatron-Core checkpoint (legacy torch or torch_dist, any training TP/PP) into a TensorRT-LLM
checkpoint: config.json + rank{N}.safetensors. Everything is checked before anything is written.

Options:
  --out DIR                     output directory (must be empty or absent unless --force)
  --tp N                        inference tensor parallelism (default 1)
  --pp N                        inference pipeline parallelism (default 1)
  --dtype D                     bfloat16 | float16 | float32 (default: the checkpoint's parameter dtype)
  --model-type T                auto | ${MODEL_TYPES.join(' | ')} (default auto: guessed from the config)
  --parallel-embedding          shard the embeddings over TP ranks
  --embedding-sharding-dim 0|1  0 = vocabulary rows (default), 1 = hidden columns
  --vocab-size N                tokenizer vocabulary: drop Megatron's padding rows beyond it
  --threads N                   executor threads (default: all cores)
  --device D                    cpu (default) | cuda | cuda:0,1 (gathers and casts on these GPUs)
  --rank R --world-size W       write only this process's share of output ranks (also from torchrun/MPI/Slurm env)
  --dry-run                     plan and validate only; print what would be written
  --json                        machine-readable result on stdout (nothing else there)
  --sha256                      list each written file's sha256 (summary and --json)
  --force                       overwrite an existing export in --out`;

interface Args {
  ckpt: string;
  opts: Omit<ExportTrtllmOptions, 'onProgress'> & { outDir: string };
  json: boolean;
  modelType: ModelType | undefined;
  rank: number | undefined;
  worldSize: number | undefined;
}

function intArg(flag: string, v: string | undefined, lo: number): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < lo) fail('E_USAGE', `${flag} needs an integer ≥ ${lo}, got ${v === undefined ? 'nothing' : `'${v}'`}`);
  return Number(v);
}

export function parseTrtllmArgs(argv: string[]): Args {
  let ckpt: string | undefined;
  let outDir: string | undefined;
  const o: Record<string, unknown> = {};
  let json = false;
  let modelType: ModelType | undefined;
  let rank: number | undefined;
  let worldSize: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let inline: string | undefined;
    if (a.startsWith('--') && a.includes('=')) {
      inline = a.slice(a.indexOf('=') + 1);
      a = a.slice(0, a.indexOf('='));
    }
    const value = () => inline ?? argv[++i];
    switch (a) {
      case '--out':
        outDir = value();
        if (!outDir) fail('E_USAGE', '--out needs a directory');
        break;
      case '--tp':
        o['tpSize'] = intArg(a, value(), 1);
        break;
      case '--pp':
        o['ppSize'] = intArg(a, value(), 1);
        break;
      case '--dtype': {
        const d = value();
        if (!d) fail('E_USAGE', '--dtype needs a value');
        o['dtype'] = d;
        break;
      }
      case '--model-type': {
        const t = value();
        if (t === undefined || (t !== 'auto' && !(MODEL_TYPES as readonly string[]).includes(t))) fail('E_USAGE', `--model-type must be auto or one of ${MODEL_TYPES.join(', ')}`);
        modelType = t === 'auto' ? undefined : (t as ModelType);
        break;
      }
      case '--parallel-embedding':
        o['useParallelEmbedding'] = true;
        break;
      case '--embedding-sharding-dim': {
        const d = value();
        if (d !== '0' && d !== '1') fail('E_USAGE', '--embedding-sharding-dim must be 0 or 1');
        o['embeddingShardingDim'] = Number(d);
        break;
      }
      case '--vocab-size':
        o['vocabSize'] = intArg(a, value(), 1);
        break;
      case '--threads':
        o['threads'] = intArg(a, value(), 1);
        break;
      case '--device': {
        const d = value();
        if (!d) fail('E_USAGE', '--device needs a value');
        parseDevice(d); // refuse a malformed device before planning
        o['device'] = d;
        break;
      }
      case '--rank':
        rank = intArg(a, value(), 0);
        break;
      case '--world-size':
        worldSize = intArg(a, value(), 1);
        break;
      case '--dry-run':
        o['dryRun'] = true;
        break;
      case '--json':
        json = true;
        break;
      case '--sha256':
        o['hash'] = true;
        break;
      case '--force':
        o['force'] = true;
        break;
      default:
        if (a.startsWith('-')) fail('E_USAGE', `unknown option '${a}'`);
        if (ckpt !== undefined) fail('E_USAGE', `unexpected argument '${a}' (one checkpoint path is expected)`);
        ckpt = a;
    }
  }
  if (ckpt === undefined) fail('E_USAGE', 'missing checkpoint path');
  if (outDir === undefined) fail('E_USAGE', 'missing --out DIR');
  if (o['embeddingShardingDim'] !== undefined && !o['useParallelEmbedding']) fail('E_USAGE', '--embedding-sharding-dim needs --parallel-embedding');
  return { ckpt, opts: { ...(o as Partial<ExportTrtllmOptions>), outDir }, json, modelType, rank, worldSize };
}

export const trtllm: Command = {
  name: 'trtllm',
  summary: 'convert a Megatron-Core checkpoint into a TensorRT-LLM checkpoint (config.json + rank files)',
  help: HELP,
  async run(argv) {
    const a = parseTrtllmArgs(argv);
    const place = resolveLaunchPlace({ rank: a.rank, worldSize: a.worldSize });
    const ckpt = openCheckpoint(a.ckpt, a.modelType ? { modelType: a.modelType } : {});
    try {
      const world = (a.opts.tpSize ?? 1) * (a.opts.ppSize ?? 1);
      const ranks = place.worldSize > 1 ? assignOutputRanks(world, place) : undefined;
      const bar = new ProgressBar(process.stderr, 'trtllm');
      const controller = new AbortController();
      const onSignal = () => controller.abort();
      process.once('SIGINT', onSignal);
      let result;
      try {
        result = await exportTrtllm(ckpt, { ...a.opts, ...(ranks ? shareExportOptions(a.opts.outDir, ranks, a.opts.dryRun) : {}), signal: controller.signal, onProgress: (p) => bar.update(p) });
      } finally {
        process.off('SIGINT', onSignal);
        bar.done();
      }
      if (a.json) {
        const out = {
          outDir: result.outDir,
          dryRun: result.dryRun,
          modelType: a.modelType ?? ckpt.modelType,
          ranks: result.ranks,
          files: result.files,
          bytes: result.bytes,
          seconds: result.seconds,
          gbPerSecond: gbPerSecond(result),
          ...(result.dryRun ? { tensors: result.plan.files.map((f) => ({ path: f.path, tensors: f.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, pieces: t.pieces.length })) })) } : {}),
        };
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      } else if (result.dryRun) {
        for (const f of result.plan.files) {
          process.stdout.write(`${f.path}\n`);
          for (const t of f.tensors) process.stdout.write(`  ${t.name}  ${t.dtype} [${t.shape.join(', ')}]  ${t.pieces.length} piece(s)\n`);
        }
        process.stdout.write(`dry run: ${result.files.length} rank files, ${result.bytes} bytes would be written (model type ${a.modelType ?? ckpt.modelType})\n`);
      } else process.stdout.write(formatSummary(result) + '\n');
      return 0;
    } finally {
      ckpt.close();
    }
  },
};
