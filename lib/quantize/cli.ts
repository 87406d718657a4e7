// The quantization flags shared by `mcore-export trtllm` and `mcore-export hf`.
import { fail } from '../errors.js';
import { isQuantScheme, QUANT_SCHEMES, type QuantizeOptions } from './scheme.js';

export const QUANTIZE_HELP = `  --quantize S           ${QUANT_SCHEMES.join(' | ')}: calibration-free weight quantization
                         (scales from each block's max |w|; lm_head, embeddings, norms and routers stay unquantized)
  --group-size N         int4-weight-only: columns per scale (default 128)
  --quantize-exclude G   leave the weights whose names match glob G unquantized (repeatable)`;

export interface QuantizeArgs {
  scheme?: string;
  groupSize?: number;
  exclude: string[];
}

/** Consumes one quantization flag; false when `flag` is not one. */
export function quantizeArg(flag: string, value: () => string, acc: QuantizeArgs): boolean {
  switch (flag) {
    case '--quantize':
      acc.scheme = value();
      return true;
    case '--group-size': {
      const v = value();
      if (!/^\d+$/.test(v)) fail('E_USAGE', `--group-size must be a positive integer, got '${v}'`);
      acc.groupSize = Number(v);
      return true;
    }
    case '--quantize-exclude':
      acc.exclude.push(value());
      return true;
    default:
      return false;
  }
}

export function quantizeOptions(acc: QuantizeArgs): QuantizeOptions | undefined {
  if (acc.scheme === undefined) {
    if (acc.groupSize !== undefined || acc.exclude.length > 0) fail('E_USAGE', '--group-size and --quantize-exclude need --quantize');
    return undefined;
  }
  if (!isQuantScheme(acc.scheme)) fail('E_USAGE', `--quantize must be one of ${QUANT_SCHEMES.join(', ')}; got '${acc.scheme}'`);
  return { scheme: acc.scheme, ...(acc.groupSize !== undefined ? { groupSize: acc.groupSize } : {}), ...(acc.exclude.length > 0 ? { exclude: acc.exclude } : {}) };
}
