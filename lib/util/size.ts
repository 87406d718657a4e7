// Byte sizes as people write them ('5GB', '2GiB', '500MB', 4096): --max-shard-size, --max-buffer.
import { fail } from '../errors.js';

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };

/** Parses '5GB' (10^9, as transformers reads it), '2GiB' (2^30), '500MB' or a plain byte count. */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 1) fail('E_USAGE', `size ${text} must be a positive whole number of bytes`);
    return text;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]I?B|B)?\s*$/i.exec(text);
  if (!m) fail('E_USAGE', `cannot read size '${text}'; expected e.g. 5GB, 500MB, 2GiB or a byte count`);
  const bytes = Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'B').toUpperCase()]!);
  if (!Number.isSafeInteger(bytes) || bytes < 1) fail('E_USAGE', `size '${text}' is out of range`);
  return bytes;
}
