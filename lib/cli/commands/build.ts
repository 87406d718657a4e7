import type { Command } from '../command.js';
import { fail } from '../../errors.js';
import { buildEngine, withMegatronDefaults, type EngineBuildOptions, type EngineBuildResult } from '../../engine/index.js';
import { buildFlagsHelp, parseBuildFlags } from '../build-flags.js';
import { withCancelSignals } from '../with-progress.js';

/** Flags of `build` itself (not engine options); `export` shares them. */
export interface EngineRunFlags {
  trtllmBuild?: string;
  overwrite: boolean;
  megatronDefaults: boolean;
  quiet: boolean;
}

/** Takes --trtllm-build/--overwrite/--megatron-defaults/--quiet out of `argv`; returns them and the rest. */
export function takeEngineRunFlags(argv: readonly string[]): { flags: EngineRunFlags; rest: string[] } {
  const flags: EngineRunFlags = { overwrite: false, megatronDefaults: false, quiet: false };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--trtllm-build' || a.startsWith('--trtllm-build=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!v) fail('E_USAGE', '--trtllm-build needs a path');
      flags.trtllmBuild = v;
    } else if (a === '--overwrite') flags.overwrite = true;
    else if (a === '--megatron-defaults') flags.megatronDefaults = true;
    else if (a === '--quiet') flags.quiet = true;
    else rest.push(a);
  }
  return { flags, rest };
}

/** Runs buildEngine with CLI conventions: trtllm-build's log on stderr, Ctrl-C cancels, summary on stdout. */
export async function runEngineBuild(ckptDir: string, engineDir: string, options: EngineBuildOptions, flags: EngineRunFlags, json: boolean): Promise<EngineBuildResult> {
  const merged = flags.megatronDefaults ? withMegatronDefaults(options) : options;
  return withCancelSignals((signal) =>
    buildEngine(ckptDir, engineDir, merged, {
      signal,
      overwrite: flags.overwrite,
      ...(flags.trtllmBuild !== undefined ? { trtllmBuild: flags.trtllmBuild } : {}),
      onLog: flags.quiet ? undefined : (l) => process.stderr.write(l.line + '\n'),
      onProgress: json || flags.quiet ? undefined : (p) => {
        if (p.phase === 'serialized') process.stderr.write(`mcore-export build: rank ${p.rank} engine written (${p.ranksDone}/${p.ranksTotal})\n`);
      },
    }));
}

export function engineSummaryText(r: EngineBuildResult): string {
  const bytes = r.files.reduce((s, f) => s + f.bytes, 0);
  return `engine ${r.engineDir}: ${r.worldSize} rank${r.worldSize === 1 ? '' : 's'}, ${r.files.length} files, ${bytes} bytes` +
    `${r.version ? `, TensorRT-LLM ${r.version}` : ''}, ${(r.durationMs / 1000).toFixed(1)} s\n`;
}

export const build: Command = {
  name: 'build',
  summary: 'build a TensorRT-LLM engine from a TensorRT-LLM checkpoint directory (runs trtllm-build, TensorRT-LLM 1.x)',
  help: `Usage: mcore-export build CKPT_DIR --out ENGINE_DIR [options]

Runs TensorRT-LLM's trtllm-build (a TensorRT-LLM 1.x release; the TensorRT-engine backend was removed from
TensorRT-LLM main in mid-2026) on CKPT_DIR (config.json + rank{N}.safetensors, e.g. from \`mcore-export trtllm\`)
and writes ENGINE_DIR (config.json + rank{N}.engine) atomically. Options are checked before anything runs.
Options not given keep trtllm-build's defaults; --megatron-defaults applies Megatron's build_and_save_engine
defaults instead (max batch 4, max input/output 1024, paged KV cache with 128-token blocks, gemm plugin auto).

  --out DIR                 engine directory (required)
  --trtllm-build PATH       the trtllm-build executable (else $MCORE_EXPORT_TRTLLM_BUILD, else PATH)
  --overwrite               replace a previous engine in ENGINE_DIR (config.json, rank*.engine, model.cache);
                            a directory holding anything else is refused, naming the entries
  --megatron-defaults       start from Megatron's defaults
  --quiet                   do not echo trtllm-build's log (stderr)
  --json                    print the result as JSON on stdout

Engine options (trtllm-build's own spelling, e.g. --max_batch_size 8, --remove_input_padding disable, is accepted too):
${buildFlagsHelp()}
`,
  async run(argv) {
    const { flags, rest: afterRun } = takeEngineRunFlags(argv);
    const { options, rest } = parseBuildFlags(afterRun);
    let out: string | undefined;
    let json = false;
    const positional: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i]!;
      if (a === '--out' || a === '-o') out = rest[++i];
      else if (a.startsWith('--out=')) out = a.slice(6);
      else if (a === '--json') json = true;
      else if (a.startsWith('-')) fail('E_USAGE', `unknown option ${a} (see mcore-export build --help)`);
      else positional.push(a);
    }
    if (positional.length !== 1) fail('E_USAGE', `expected one checkpoint directory, got ${positional.length}`);
    if (!out) fail('E_USAGE', '--out ENGINE_DIR is required');
    const res = await runEngineBuild(positional[0]!, out, options, flags, json);
    process.stdout.write(json ? JSON.stringify(res) + '\n' : engineSummaryText(res));
    return 0;
  },
};
