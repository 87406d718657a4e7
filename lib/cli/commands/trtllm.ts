// `mcore-export trtllm CKPT --out DIR ...`: Megatron-Core checkpoint → TensorRT-LLM checkpoint directory.
import { fail } from '../../errors.js';
import { formatSummary, gbPerSecond } from '../../export/summary.js';
import { type ModelType, MODEL_TYPES } from '../../megatron/types.js';
import { assignOutputRanks, ignoredLauncher, resolveLaunchPlace } from '../../scale/launch.js';
import { shareReport } from '../../scale/partitioned-export.js';
import { exportTrtllm, type ExportTrtllmOptions } from '../../trtllm/export.js';
import { commonExportArg, type CommonExportArgs, intArg, parseCheckpointArgs } from '../args.js';
import type { Command } from '../command.js';
import { openInput } from '../open-input.js';
import { QUANTIZE_HELP, quantizeArg, quantizeOptions, type QuantizeArgs } from '../../quantize/cli.js';
import { withProgress } from '../with-progress.js';

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
  --megatron-compat             byte-identical to Megatron's converter, also where TensorRT-LLM 1.x loads that
                                wrong (tied lm_head, vocab % tp, QKV-only bias, layernorm-1p): for comparisons only
  --accept-qk-norm-epsilon      QK-layernorm models (Qwen3 style): accept TensorRT-LLM's fixed q/k-norm epsilon
                                1e-5 when the model's differs (logits then differ slightly from Megatron's)
  --fp8                         FP8 weights from the checkpoint's Transformer Engine FP8 scaling factors (Megatron's
                                fp8_quantized; TE 1.x and 2.x _extra_state; torch_dist or TP1 PP1 legacy)
  --fp8-kv-cache                FP8 KV cache: kv_cache_scaling_factor 1.0 per layer (Megatron's fp8_kvcache)
  --config FILE                 model config of a safetensors input: Megatron args or a TransformerConfig (JSON)
  --threads N                   executor threads (default: all cores)
  --device D                    cpu (default) | cuda | cuda:0,1 (gathers and casts on these GPUs)
  --max-buffer SIZE             CPU executor buffer budget, e.g. 256MiB (default 1GiB): bounds peak memory
  --rank R --world-size W       write only this process's share of the output ranks (several processes, one --out)
  --rank auto                   the same, with R and W from the launcher: torchrun RANK/WORLD_SIZE, Open MPI,
                                PMI (MPICH, Intel MPI) or Slurm srun variables; never read without --rank auto
  --dry-run                     plan and validate only; print what would be written, write nothing
  --json                        machine-readable result on stdout (nothing else there)
  --sha256                      list each written file's sha256 (summary and --json)
  --force                       replace a previous TensorRT-LLM export in --out (refused, naming them, when --out
                                holds anything else: --force never deletes files an export did not write)
${QUANTIZE_HELP}
                         (trtllm: fp8-per-channel → FP8_PER_CHANNEL_PER_TOKEN, fp8 weights + per_channel_scale;
                          int8/int4-weight-only → W8A16/W4A16, weights kept, trtllm-build quantizes them)

Ctrl-C, SIGTERM and SIGHUP cancel cleanly (exit 130, 143, 129): a previous export in --out stays as it was.`;

interface Args {
  ckpt: string;
  opts: Omit<ExportTrtllmOptions, 'onProgress'> & { outDir: string };
  json: boolean;
  modelType: ModelType | undefined;
  configFile: string | undefined;
  rank: number | 'auto' | undefined;
  worldSize: number | undefined;
}

export function parseTrtllmArgs(argv: string[]): Args {
  let outDir: string | undefined;
  const o: { -readonly [K in keyof ExportTrtllmOptions]?: ExportTrtllmOptions[K] } = {};
  let rank: number | 'auto' | undefined;
  let worldSize: number | undefined;
  const c: CommonExportArgs = {};
  const q: QuantizeArgs = { exclude: [] };
  const ckpt = parseCheckpointArgs(argv, (a, value) => {
    switch (a) {
      case '--out':
        outDir = value();
        return true;
      case '--tp':
        o.tpSize = intArg(a, value(), 1);
        return true;
      case '--pp':
        o.ppSize = intArg(a, value(), 1);
        return true;
      case '--parallel-embedding':
        o.useParallelEmbedding = true;
        return true;
      case '--megatron-compat':
        o.megatronCompat = true;
        return true;
      case '--embedding-sharding-dim': {
        const d = value();
        if (d !== '0' && d !== '1') fail('E_USAGE', '--embedding-sharding-dim must be 0 or 1');
        o.embeddingShardingDim = d === '0' ? 0 : 1;
        return true;
      }
      case '--accept-qk-norm-epsilon':
        o.helperOptions = { ...o.helperOptions, acceptQkNormEpsilon: true };
        return true;
      case '--fp8':
        o.fp8Quantized = true;
        return true;
      case '--fp8-kv-cache':
        o.fp8Kvcache = true;
        return true;
      case '--rank': {
        const v = value();
        rank = v === 'auto' ? 'auto' : intArg(a, v, 0);
        return true;
      }
      case '--world-size':
        worldSize = intArg(a, value(), 1);
        return true;
      default:
        return quantizeArg(a, value, q) || commonExportArg(a, value, c);
    }
  });
  if (outDir === undefined) fail('E_USAGE', 'missing --out DIR');
  const quantize = quantizeOptions(q);
  if (quantize) o.quantize = quantize;
  if (o.embeddingShardingDim !== undefined && !o.useParallelEmbedding) fail('E_USAGE', '--embedding-sharding-dim needs --parallel-embedding');
  const { json, modelType, configFile, ...common } = c;
  return { ckpt, opts: { ...common, ...o, outDir }, json: json ?? false, modelType, configFile, rank, worldSize };
}

export const trtllm: Command = {
  name: 'trtllm',
  summary: 'convert a Megatron-Core checkpoint into a TensorRT-LLM checkpoint (config.json + rank files)',
  help: HELP,
  async run(argv) {
    const a = parseTrtllmArgs(argv);
    const place = resolveLaunchPlace({ rank: a.rank, worldSize: a.worldSize });
    const ignored = place.source === 'default' ? ignoredLauncher() : null;
    if (ignored) process.stderr.write(`mcore-export trtllm: note: ${ignored}; they are ignored: this process writes the whole checkpoint (pass --rank auto to write only its share)\n`);
    const ckpt = openInput(a.ckpt, a);
    try {
      const world = (a.opts.tpSize ?? 1) * (a.opts.ppSize ?? 1);
      const ranks = place.worldSize > 1 ? assignOutputRanks(world, place) : undefined;
      const share = ranks ? shareReport(place, ranks, a.opts.outDir) : null;
      if (share) process.stderr.write(`mcore-export trtllm: ${share.note}\n`);
      const result = await withProgress('trtllm', (signal, onProgress) =>
        exportTrtllm(ckpt, { ...a.opts, ...(ranks ? { ranks } : {}), signal, onProgress }));
      if (a.json) {
        const out = {
          outDir: result.outDir,
          dryRun: result.dryRun,
          modelType: a.modelType ?? ckpt.modelType,
          ranks: result.ranks,
          partition: share,
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
      } else process.stdout.write(formatSummary(result) + '\n' + (share ? `partial: ${share.note}\n` : ''));
      return 0;
    } finally {
      ckpt.close();
    }
  },
};
