/**
 * Checks on the two directories around an engine build: the TensorRT-LLM checkpoint going in (config.json +
 * one rank{N}.safetensors per rank of the mapping, spec §1) and the engine directory coming out (config.json
 * + one rank{N}.engine per rank, spec §4.3). Cheap: reads config.json and each rank file's safetensors header
 * (lib/formats/safetensors.ts), never the tensor data.
 */
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';
import { readSafetensorsHeader } from '../formats/safetensors.js';

const MAX_CONFIG_BYTES = 16 << 20;

export interface CheckpointSummary {
  architecture: string;
  worldSize: number;
  tpSize: number;
  ppSize: number;
  rankFiles: string[];
}

export interface EngineSummary {
  worldSize: number;
  /** tensorrt_llm version recorded by the builder, when present */
  version: string | null;
  files: { name: string; bytes: number }[];
}

function readJsonObject(file: string, what: string): Record<string, unknown> {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    return fail('E_NOT_FOUND', `${what} has no config.json`, { file, cause: e });
  }
  if (!st.isFile()) fail('E_FORMAT', `${what}: config.json is not a file`, { file });
  if (st.size > MAX_CONFIG_BYTES) fail('E_FORMAT', `${what}: config.json is ${st.size} bytes, more than ${MAX_CONFIG_BYTES}`, { file });
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return fail('E_FORMAT', `${what}: config.json is not valid JSON (${(e as Error).message})`, { file, cause: e });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail('E_FORMAT', `${what}: config.json is not a JSON object`, { file });
  return parsed as Record<string, unknown>;
}

function positiveInt(v: unknown, name: string, file: string, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail('E_FORMAT', `${name} must be a positive integer, got ${JSON.stringify(v)}`, { file });
  return v;
}

/** mapping.world_size, checked against tp*pp*cp (spec §1.2). */
export function worldSizeOf(config: Record<string, unknown>, file: string): { worldSize: number; tp: number; pp: number } {
  const m = config.mapping;
  if (m !== undefined && (m === null || typeof m !== 'object' || Array.isArray(m))) fail('E_FORMAT', 'mapping must be an object', { file });
  const mapping = (m ?? {}) as Record<string, unknown>;
  const tp = positiveInt(mapping.tp_size, 'mapping.tp_size', file, 1);
  const pp = positiveInt(mapping.pp_size, 'mapping.pp_size', file, 1);
  const cp = positiveInt(mapping.cp_size, 'mapping.cp_size', file, 1);
  const worldSize = positiveInt(mapping.world_size, 'mapping.world_size', file, tp * pp * cp);
  if (worldSize !== tp * pp * cp) fail('E_FORMAT', `mapping.world_size ${worldSize} is not tp_size*pp_size*cp_size = ${tp * pp * cp}`, { file });
  if (worldSize > 4096) fail('E_FORMAT', `mapping.world_size ${worldSize} is implausibly large`, { file });
  return { worldSize, tp, pp };
}

/** Throws E_NOT_FOUND / E_FORMAT unless `dir` holds a complete TensorRT-LLM checkpoint. */
export function checkCheckpointDir(dir: string): CheckpointSummary {
  const cfgFile = join(dir, 'config.json');
  const config = readJsonObject(cfgFile, `checkpoint directory ${dir}`);
  if (typeof config.architecture !== 'string' || config.architecture === '') fail('E_FORMAT', 'config.json has no architecture', { file: cfgFile });
  const { worldSize, tp, pp } = worldSizeOf(config, cfgFile);
  const rankFiles: string[] = [];
  const missing: number[] = [];
  for (let r = 0; r < worldSize; r++) {
    const f = join(dir, `rank${r}.safetensors`);
    try {
      if (!statSync(f).isFile()) missing.push(r);
      else rankFiles.push(f);
    } catch {
      missing.push(r);
    }
  }
  if (missing.length > 0) {
    fail('E_NOT_FOUND', `checkpoint ${dir} is incomplete: world_size ${worldSize} but rank${missing.join(', rank')}.safetensors missing ` +
      '(a partitioned export still running or killed?)', { file: join(dir, `rank${missing[0]}.safetensors`) });
  }
  for (const f of rankFiles) readSafetensorsHeader(f); // E_FORMAT unless a valid safetensors header
  return { architecture: config.architecture, worldSize, tpSize: tp, ppSize: pp, rankFiles };
}

/** Throws E_BUILD unless `dir` holds config.json and a non-empty rank{N}.engine for each of `worldSize` ranks. */
export function checkEngineDir(dir: string, worldSize: number): EngineSummary {
  const cfgFile = join(dir, 'config.json');
  let config: Record<string, unknown>;
  try {
    config = readJsonObject(cfgFile, `engine directory ${dir}`);
  } catch (e) {
    return fail('E_BUILD', `trtllm-build exited 0 but wrote no usable config.json: ${(e as Error).message}`, { file: cfgFile, cause: e });
  }
  const pretrained = config.pretrained_config;
  const engineWorld = pretrained && typeof pretrained === 'object' && !Array.isArray(pretrained)
    ? worldSizeOf(pretrained as Record<string, unknown>, cfgFile).worldSize
    : worldSize;
  if (engineWorld !== worldSize) fail('E_BUILD', `engine config.json says world_size ${engineWorld}, the checkpoint has ${worldSize}`, { file: cfgFile });
  const files = [{ name: 'config.json', bytes: statSync(cfgFile).size }];
  const missing: string[] = [];
  for (let r = 0; r < worldSize; r++) {
    const name = `rank${r}.engine`;
    let bytes = 0;
    try {
      const st = statSync(join(dir, name));
      bytes = st.isFile() ? st.size : 0;
    } catch {
      bytes = 0;
    }
    if (bytes === 0) missing.push(name);
    else files.push({ name, bytes });
  }
  if (missing.length > 0) fail('E_BUILD', `trtllm-build exited 0 but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing or empty`, { file: join(dir, missing[0]!) });
  return { worldSize, version: typeof config.version === 'string' ? config.version : null, files };
}
