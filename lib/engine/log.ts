/**
 * Reads trtllm-build's log lines: severity, per-rank serialization (our progress signal), and the failure
 * messages that mean "this TensorRT-LLM has no TensorRT-engine backend".
 *
 * Line format (tensorrt_llm/logger.py): `[MM/DD/YYYY-HH:MM:SS] [TRT-LLM] [I] message`; TensorRT's own logger
 * prints `[TRT] [W] ...`. Engine.save logs `Serializing engine to <dir>/rank{N}.engine...` then
 * `Engine serialized. Total time: ...` for each rank.
 */

export type LogLevel = 'error' | 'warning' | 'info' | 'verbose' | 'unknown';

const LEVELS: Record<string, LogLevel> = { F: 'error', E: 'error', W: 'warning', I: 'info', V: 'verbose' };

export function logLevelOf(line: string): LogLevel {
  const m = /\[(?:TRT-LLM|TRT)\](?: \[MPI_Rank \d+\])? \[([FEWIV])\]/.exec(line);
  if (m) return LEVELS[m[1]!]!;
  if (/^(Traceback|\w*Error:|\w*Exception:)/.test(line)) return 'error';
  return 'unknown';
}

/** The rank whose engine is being written, from a `Serializing engine to .../rank{N}.engine` line. */
export function serializingRank(line: string): number | null {
  const m = /Serializing engine to .*rank(\d+)\.engine/.exec(line);
  return m ? Number(m[1]) : null;
}

export function isEngineSerialized(line: string): boolean {
  return line.includes('Engine serialized.');
}

/**
 * True when the output shows a TensorRT-LLM without the TensorRT backend: the modules trtllm-build imports
 * (tensorrt_llm.commands.build, .builder, .models, .plugin) were deleted from main in 2026 (spec §0), so a
 * left-over entry point fails with ModuleNotFoundError/ImportError naming them.
 */
export function showsNoTensorrtBackend(lines: readonly string[]): boolean {
  const mod = /(?:No module named|cannot import name \S+ from) '?(tensorrt_llm\.(?:commands\.build|builder|models|plugin|commands)\b[^']*)'?/;
  return lines.some((l) => mod.test(l) || /TensorRT[- ]?(?:engine )?backend (?:has been |was )?removed/i.test(l));
}
