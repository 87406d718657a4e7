// `mcore-export export CKPT --out DIR --engine ENGINE_DIR [trtllm flags] [build flags]`: the TensorRT-LLM
// checkpoint and then its engine, in one go. Engine options and the trtllm-build executable are checked before
// the export starts, so a typo or a missing TensorRT-LLM does not cost a full export first.
import { fail } from '../../errors.js';
import { formatSummary } from '../../export/summary.js';
import { resolveLaunchPlace } from '../../scale/launch.js';
import { locateTrtllmBuild, validateBuildOptions, withMegatronDefaults } from '../../engine/index.js';
import { buildFlagsHelp, parseBuildFlags } from '../build-flags.js';
import { exportTrtllm } from '../../trtllm/export.js';
import type { Command } from '../command.js';
import { openInput } from '../open-input.js';
import { withProgress } from '../with-progress.js';
import { parseTrtllmArgs } from './trtllm.js';
import { engineSummaryText, runEngineBuild, takeEngineRunFlags } from './build.js';

const HELP = `Usage: mcore-export export CKPT --out DIR --engine ENGINE_DIR [trtllm options] [engine options]

Converts a Megatron-Core checkpoint into a TensorRT-LLM checkpoint in DIR (as \`mcore-export trtllm\`), then
builds its engine into ENGINE_DIR with trtllm-build (as \`mcore-export build\`; TensorRT-LLM 1.x). Engine options
and trtllm-build are checked first. A multi-process (--rank/--world-size) export cannot build in the same step:
run the shares with \`mcore-export trtllm\`, then \`mcore-export build DIR\` once.

  --engine DIR              engine directory (required)
  --trtllm-build PATH       the trtllm-build executable (else $MCORE_EXPORT_TRTLLM_BUILD, else PATH)
  --overwrite               replace a previous engine in ENGINE_DIR (never anything else)
  --megatron-defaults       engine options start from Megatron's build_and_save_engine defaults
  --quiet                   do not echo trtllm-build's log
  (and every option of \`mcore-export trtllm --help\`: --tp, --pp, --dtype, --model-type, --force, --json, ...)

Engine options:
${buildFlagsHelp()}
`;

export const exportCmd: Command = {
  name: 'export',
  summary: 'Megatron-Core checkpoint → TensorRT-LLM checkpoint → engine in one go (trtllm + build)',
  help: HELP,
  async run(argv) {
    const { flags, rest: r1 } = takeEngineRunFlags(argv);
    const { options: rawBuild, rest: r2 } = parseBuildFlags(r1);
    let engineDir: string | undefined;
    const rest: string[] = [];
    for (let i = 0; i < r2.length; i++) {
      const a = r2[i]!;
      if (a === '--engine') engineDir = r2[++i];
      else if (a.startsWith('--engine=')) engineDir = a.slice(9);
      else rest.push(a);
    }
    if (!engineDir) fail('E_USAGE', '--engine ENGINE_DIR is required (or use `mcore-export trtllm` for the checkpoint alone)');
    const a = parseTrtllmArgs(rest);
    if (resolveLaunchPlace({ rank: a.rank, worldSize: a.worldSize }).worldSize > 1) {
      fail('E_USAGE', 'export builds the engine after the whole checkpoint exists; with several processes run `mcore-export trtllm --rank R --world-size W`, then `mcore-export build DIR` once');
    }
    const buildOptions = flags.megatronDefaults ? withMegatronDefaults(rawBuild) : rawBuild;
    validateBuildOptions(buildOptions);
    if (!a.opts.dryRun) locateTrtllmBuild(flags.trtllmBuild);

    const ckpt = openInput(a.ckpt, a);
    let exported;
    try {
      exported = await withProgress('trtllm', (signal, onProgress) => exportTrtllm(ckpt, { ...a.opts, signal, onProgress }));
    } finally {
      ckpt.close();
    }
    if (!a.json) process.stdout.write(formatSummary(exported) + '\n');
    if (exported.dryRun) {
      if (a.json) process.stdout.write(JSON.stringify({ checkpoint: { outDir: exported.outDir, dryRun: true, files: exported.files }, engine: null }, null, 2) + '\n');
      else process.stdout.write('dry run: engine options are valid; no engine built\n');
      return 0;
    }
    const engine = await runEngineBuild(a.opts.outDir, engineDir, rawBuild, flags, a.json);
    if (a.json) {
      process.stdout.write(JSON.stringify({
        checkpoint: { outDir: exported.outDir, files: exported.files, bytes: exported.bytes, seconds: exported.seconds },
        engine,
      }, null, 2) + '\n');
    } else process.stdout.write(engineSummaryText(engine));
    return 0;
  },
};
