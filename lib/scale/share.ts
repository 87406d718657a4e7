/**
 * One process's share of a TensorRT-LLM checkpoint directory that several processes write together, and how
 * to tell a finished directory from one still being written (or left behind by a killed process).
 *
 * Every output file is written under a temporary name (`.<name>.tmp-<pid>-<random>`) and renamed when
 * complete, so a file with its final name is whole; config.json is written by the process that owns output
 * rank 0, after its rank files.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../errors.js';

const RANK_FILE = /^rank(\d+)\.safetensors$/;
const TEMP_FILE = /^\.(config\.json|rank(\d+)\.safetensors)\.tmp-/;

/**
 * The files a process writing `ranks` may replace in a shared directory: its rank files, their temporaries
 * (left by an earlier killed run of the same share), and config.json when it writes it. Other processes' files
 * are never touched, so shares can be (re)run in any order.
 */
export function ownsShareFile(name: string, ranks: readonly number[], writesConfig: boolean): boolean {
  const r = RANK_FILE.exec(name);
  if (r) return ranks.includes(Number(r[1]));
  const t = TEMP_FILE.exec(name);
  if (t) return t[2] !== undefined ? ranks.includes(Number(t[2])) : writesConfig;
  return writesConfig && name === 'config.json';
}

export interface ShareCompleteness {
  complete: boolean;
  /** from config.json's mapping; null while config.json is absent */
  worldSize: number | null;
  missingRanks: number[];
  /** temporaries of files still being written, or left by a killed process */
  inProgress: string[];
  /** why it is not complete, one line each */
  reasons: string[];
}

/** Is `dir` a complete checkpoint directory, or a partitioned export still missing pieces? */
export function shareCompleteness(dir: string): ShareCompleteness {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    return fail('E_NOT_FOUND', `cannot read export directory: ${(e as Error).message}`, { file: dir, cause: e });
  }
  const reasons: string[] = [];
  const inProgress = names.filter((n) => TEMP_FILE.test(n)).sort();
  if (inProgress.length) reasons.push(`${inProgress.length} file(s) being written or abandoned by a killed process: ${inProgress.join(', ')}`);
  let worldSize: number | null = null;
  if (!names.includes('config.json')) {
    reasons.push('config.json missing (written last by the process that owns output rank 0)');
  } else {
    let cfg: unknown;
    try {
      cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    } catch (e) {
      return fail('E_FORMAT', `config.json is not valid JSON: ${(e as Error).message}`, { file: join(dir, 'config.json'), cause: e });
    }
    const m = (cfg as { mapping?: { world_size?: unknown; tp_size?: unknown; pp_size?: unknown } } | null)?.mapping;
    const w = m?.world_size ?? (typeof m?.tp_size === 'number' && typeof m?.pp_size === 'number' ? m.tp_size * m.pp_size : undefined);
    if (typeof w !== 'number' || !Number.isSafeInteger(w) || w < 1) fail('E_FORMAT', 'config.json has no usable mapping.world_size', { file: join(dir, 'config.json') });
    worldSize = w;
  }
  const present = new Set(names.map((n) => RANK_FILE.exec(n)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])));
  const missingRanks: number[] = [];
  if (worldSize !== null) {
    for (let r = 0; r < worldSize; r++) {
      if (!present.has(r)) missingRanks.push(r);
      else if (statSync(join(dir, `rank${r}.safetensors`)).size < 8) reasons.push(`rank${r}.safetensors is truncated`);
    }
    if (missingRanks.length) reasons.push(`rank file(s) missing: ${missingRanks.map((r) => `rank${r}.safetensors`).join(', ')}`);
    const extra = [...present].filter((r) => r >= worldSize!).sort((a, b) => a - b);
    if (extra.length) reasons.push(`rank file(s) beyond world_size ${worldSize}: ${extra.map((r) => `rank${r}.safetensors`).join(', ')}`);
  }
  return { complete: reasons.length === 0, worldSize, missingRanks, inProgress, reasons };
}
