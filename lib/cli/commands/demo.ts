// `mcore-export demo`: exports the tiny real Megatron checkpoint shipped in assets/, verifies it, prints a summary.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../../errors.js';
import { formatSummary, gbPerSecond } from '../../export/summary.js';
import { openCheckpoint } from '../../megatron/open.js';
import { exportTrtllm } from '../../trtllm/export.js';
import { verifyTrtllmDir } from '../../trtllm/verify.js';
import type { Command } from '../command.js';

/** The embedded checkpoint (package root/assets/tiny-llama, from dist/cli/commands/ or lib/cli/commands/). */
export const TINY_CHECKPOINT = fileURLToPath(new URL('../../../assets/tiny-llama', import.meta.url));

export const demo: Command = {
  name: 'demo',
  summary: 'export the embedded tiny Megatron checkpoint and verify it (shows the set-up works)',
  help: `Usage: mcore-export demo [--out DIR] [--tp N] [--force] [--json]

Converts the tiny real Megatron-Core checkpoint shipped in the package (assets/tiny-llama: Llama-style,
4 layers, GQA) into a TensorRT-LLM checkpoint (default: TP 2), verifies the result and prints a summary.
Without --out it writes into a new temporary directory and removes it afterwards; --out DIR keeps the result.`,
  async run(argv) {
    let out: string | undefined;
    let tp = 2;
    let json = false;
    let force = false;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--out') out = argv[++i] ?? fail('E_USAGE', '--out needs a directory');
      else if (a === '--tp') {
        const v = argv[++i];
        if (!v || !/^\d+$/.test(v) || Number(v) < 1) fail('E_USAGE', '--tp needs a positive integer');
        tp = Number(v);
      } else if (a === '--json') json = true;
      else if (a === '--force') force = true;
      else fail('E_USAGE', `unknown argument '${a}'`);
    }
    const outDir = out ?? mkdtempSync(join(tmpdir(), 'mcore-export-demo-'));
    const ckpt = openCheckpoint(TINY_CHECKPOINT);
    try {
      const result = await exportTrtllm(ckpt, { outDir, tpSize: tp, force });
      const check = verifyTrtllmDir(outDir);
      if (json) {
        process.stdout.write(JSON.stringify({ checkpoint: TINY_CHECKPOINT, modelType: ckpt.modelType, outDir, kept: out !== undefined, files: result.files, bytes: result.bytes, seconds: result.seconds, gbPerSecond: gbPerSecond(result), verify: check }, null, 2) + '\n');
      } else {
        process.stdout.write(`${TINY_CHECKPOINT}: ${ckpt.format} checkpoint, model type ${ckpt.modelType}, ${ckpt.tensors.size} tensors\n`);
        process.stdout.write(formatSummary(result) + '\n');
        process.stdout.write(check.ok ? `verify: OK (${check.ranks} rank files, ${check.tensors} tensors)\n` : `verify: FAILED\n${check.problems.map((p) => `  ${p.code}: ${p.message}${p.tensor ? ` (tensor ${p.tensor})` : ''}`).join('\n')}\n`);
        if (out === undefined) process.stdout.write(`(${outDir} was temporary and is removed; --out DIR keeps the export)\n`);
      }
      return check.ok ? 0 : 1;
    } finally {
      ckpt.close();
      if (out === undefined) rmSync(outDir, { recursive: true, force: true });
    }
  },
};
