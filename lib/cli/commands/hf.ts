// `mcore-export hf CKPT --out DIR ...`: Megatron-Core checkpoint → Hugging Face transformers model directory.
import { fail } from '../../errors.js';
import { formatSummary, gbPerSecond } from '../../export/summary.js';
import { HF_ARCHITECTURES, HF_FAMILY_ARCHITECTURES } from '../../hf/convert.js';
import { exportHf, type HfExportOptions } from '../../hf/export.js';
import { MODEL_FAMILIES, MODEL_TYPES } from '../../megatron/types.js';
import { commonExportArg, type CommonExportArgs, parseCheckpointArgs } from '../args.js';
import type { Command } from '../command.js';
import { openInput } from '../open-input.js';
import { withProgress } from '../with-progress.js';
import { QUANTIZE_HELP, quantizeArg, quantizeOptions, type QuantizeArgs } from '../../quantize/cli.js';

const HELP = `Usage: mcore-export hf CKPT --out DIR [options]

Converts a Megatron-Core checkpoint (legacy torch or torch_dist, any training TP/PP) into a Hugging Face
transformers directory: config.json, generation_config.json, model-0000i-of-0000N.safetensors shards and
model.safetensors.index.json. Everything is checked before anything is written; the directory appears
only when complete.

Architectures: ${MODEL_TYPES.map((t) => `${t} → ${HF_ARCHITECTURES[t]?.architecture ?? '(none)'}`).join(', ')}
Modern families, chosen from the checkpoint's own architecture (model type llama or mixtral):
  ${MODEL_FAMILIES.map((f) => `${f} → ${HF_FAMILY_ARCHITECTURES[f].architecture}`).join(', ')}
  (QK-layernorm → Qwen3 / Qwen3-MoE, QKV-only bias → Qwen2, multi-latent attention → DeepSeek-V3, grouped-query
  attention with DeepSeek-V3's MoE block → GLM-4-MoE; multi-token-prediction layers are left out, with a note)

Options:
  --out DIR              output directory (must be empty or absent unless --force)
  --dtype D              bfloat16 | float16 | float32 (default: the checkpoint's parameter dtype)
  --max-shard-size S     largest shard, e.g. 5GB (default, 10^9 bytes as transformers counts), 500MB, 2GiB
  --tokenizer DIR        copy the tokenizer files found in DIR (tokenizer.json, tokenizer.model, ...)
  --model-type T         auto | ${MODEL_TYPES.join(' | ')} (default auto: guessed from the config)
  --vocab-size N         keep N vocabulary rows (default: the checkpoint's tokenizer vocab_size)
  --config FILE          model config of a safetensors input: Megatron args or a TransformerConfig (JSON)
  --threads N            executor threads (default: all cores)
  --device D             cpu (default) | cuda | cuda:0,1 (gathers and casts on these GPUs)
  --max-buffer SIZE      CPU executor buffer budget, e.g. 256MiB (default 1GiB): bounds peak memory
  --dry-run              plan and validate only; print what would be written, write nothing
  --json                 machine-readable result on stdout (nothing else there)
  --sha256               list each written file's sha256 (summary and --json)
  --force                replace a previous Hugging Face export at --out (refused, naming them, when --out holds
                         anything else: --force never deletes files an export did not write)
${QUANTIZE_HELP}
                         (hf: int8/int4 → compressed-tensors pack-quantized, fp8-block → quant_method fp8 128×128)

The directory appears only when complete; until then a previous export there stays as it was. Ctrl-C, SIGTERM
and SIGHUP cancel cleanly (exit 130, 143, 129).`;

interface HfArgs {
  ckpt: string;
  opts: Omit<HfExportOptions, 'onProgress' | 'signal' | 'execute'>;
  json: boolean;
  configFile: string | undefined;
}

export function parseHfArgs(argv: string[]): HfArgs {
  const o: { -readonly [K in keyof HfArgs['opts']]?: HfArgs['opts'][K] } = {};
  const c: CommonExportArgs = {};
  const q: QuantizeArgs = { exclude: [] };
  const ckpt = parseCheckpointArgs(argv, (a, value) => {
    switch (a) {
      case '--out':
        o.outDir = value();
        return true;
      case '--max-shard-size':
        o.maxShardSize = value();
        return true;
      case '--tokenizer':
        o.tokenizerDir = value();
        return true;
      default:
        return quantizeArg(a, value, q) || commonExportArg(a, value, c);
    }
  });
  if (o.outDir === undefined) fail('E_USAGE', 'missing --out DIR');
  const { json, configFile, ...common } = c;
  const quantize = quantizeOptions(q);
  return { ckpt, opts: { ...common, ...o, outDir: o.outDir, ...(quantize ? { quantize } : {}) }, json: json ?? false, configFile };
}

export const hf: Command = {
  name: 'hf',
  summary: 'convert a Megatron-Core checkpoint into a Hugging Face transformers directory (sharded safetensors)',
  help: HELP,
  async run(argv) {
    const a = parseHfArgs(argv);
    const ckpt = openInput(a.ckpt, { modelType: a.opts.modelType, configFile: a.configFile });
    try {
      const result = await withProgress('hf', (signal, onProgress) => exportHf(ckpt, { ...a.opts, signal, onProgress }));
      if (a.json) {
        process.stdout.write(JSON.stringify({ ...result, dryRun: a.opts.dryRun ?? false, gbPerSecond: gbPerSecond(result) }, null, 2) + '\n');
      } else if (a.opts.dryRun) {
        for (const f of result.files) process.stdout.write(`  ${f.path}  ${f.bytes} bytes\n`);
        process.stdout.write(`dry run: ${result.architecture} (${result.modelType}), ${result.tensors} tensors, ${result.dtype}, ${result.bytes} bytes in ${result.files.length} shard(s) would be written\n`);
      } else {
        process.stdout.write(`${result.architecture} (${result.modelType}), ${result.tensors} tensors, ${result.dtype}\n${formatSummary(result)}\n`);
      }
      if (!a.json) for (const n of result.notes) process.stdout.write(`note: ${n}\n`);
      return 0;
    } finally {
      ckpt.close();
    }
  },
};
