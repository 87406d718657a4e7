// Calibration-free quantization schemes (issue 14): which scheme, which tensors, what block shape. The arithmetic
// runs in the native copy plan (native/src/quant_core.h has the formulas and their sources).
import { fail } from '../errors.js';
import type { QuantKind } from '../plan/plan.js';

export const QUANT_SCHEMES = ['int8-weight-only', 'int4-weight-only', 'fp8-per-channel', 'fp8-block'] as const;
export type QuantScheme = (typeof QUANT_SCHEMES)[number];

/** What the library and the CLI take (`--quantize`, `--group-size`, `--quantize-exclude`). */
export interface QuantizeOptions {
  readonly scheme: QuantScheme;
  /** int4: columns per scale (default 128) */
  readonly groupSize?: number;
  /** fnmatch-style globs (`*`, `?`) over output tensor names, matched with and without the `.weight` suffix */
  readonly exclude?: readonly string[];
}

/** A checked QuantizeOptions: the element kind and the block shape [rows, cols] (0 cols = a whole row). */
export interface ResolvedQuantize {
  readonly scheme: QuantScheme;
  readonly kind: QuantKind;
  readonly block: readonly [number, number];
  readonly exclude: readonly RegExp[];
  readonly groupSize?: number;
}

export const DEFAULT_GROUP_SIZE = 128;
/** DeepSeek-V3 / Qwen3-FP8 checkpoints' `weight_block_size` */
export const FP8_BLOCK = 128;

export function isQuantScheme(s: string): s is QuantScheme {
  return (QUANT_SCHEMES as readonly string[]).includes(s);
}

/** fnmatch's `*` and `?` (no character classes), anchored. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export function resolveQuantize(q: QuantizeOptions): ResolvedQuantize {
  if (!isQuantScheme(q.scheme)) fail('E_USAGE', `unknown quantization scheme '${String(q.scheme)}'; expected one of ${QUANT_SCHEMES.join(', ')}`);
  if (q.groupSize !== undefined && q.scheme !== 'int4-weight-only') fail('E_USAGE', `--group-size applies to int4-weight-only only, not ${q.scheme}`);
  const exclude = (q.exclude ?? []).map(globToRegExp);
  switch (q.scheme) {
    case 'int8-weight-only':
      return { scheme: q.scheme, kind: 'int8', block: [1, 0], exclude };
    case 'int4-weight-only': {
      const g = q.groupSize ?? DEFAULT_GROUP_SIZE;
      if (!Number.isSafeInteger(g) || g < 8 || g % 8 !== 0) fail('E_USAGE', `--group-size must be a positive multiple of 8, got ${g}`);
      return { scheme: q.scheme, kind: 'int4', block: [1, g], exclude, groupSize: g };
    }
    case 'fp8-per-channel':
      return { scheme: q.scheme, kind: 'fp8', block: [1, 0], exclude };
    case 'fp8-block':
      return { scheme: q.scheme, kind: 'fp8', block: [FP8_BLOCK, FP8_BLOCK], exclude };
  }
}

/** True when the user's --quantize-exclude globs name the tensor (with or without its `.weight` suffix). */
export function userExcluded(q: ResolvedQuantize, name: string): boolean {
  const module = name.replace(/\.weight$/, '');
  return q.exclude.some((re) => re.test(name) || re.test(module));
}
