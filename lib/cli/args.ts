// Option parsing shared by the export commands (trtllm, hf): `--flag value` or `--flag=value`, one positional
// checkpoint path, and the flags both take with the same meaning.
import { fail } from '../errors.js';
import { type ModelType, MODEL_TYPES } from '../megatron/types.js';
import { asDevice, type Device } from '../plan/device.js';
import { type DTypeName, parseDType } from '../tensor/dtype.js';
import { parseSize } from '../util/size.js';

/**
 * Visits every option of `argv`; `value()` consumes the option's value (inline or the next argument), failing
 * when it is missing or empty. `option` returns false for an option it does not know. Returns the checkpoint path.
 */
export function parseCheckpointArgs(argv: readonly string[], option: (flag: string, value: () => string) => boolean): string {
  let ckpt: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let inline: string | undefined;
    if (a.startsWith('--') && a.includes('=')) {
      inline = a.slice(a.indexOf('=') + 1);
      a = a.slice(0, a.indexOf('='));
    }
    const flag = a;
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') fail('E_USAGE', `${flag} needs a value`);
      return v;
    };
    if (option(a, value)) continue;
    if (a.startsWith('-')) fail('E_USAGE', `unknown option '${a}'`);
    if (ckpt !== undefined) fail('E_USAGE', `unexpected argument '${a}' (one checkpoint path is expected)`);
    ckpt = a;
  }
  if (ckpt === undefined) fail('E_USAGE', 'missing checkpoint path');
  return ckpt;
}

export function intArg(flag: string, v: string, lo: number): number {
  if (!/^\d+$/.test(v) || Number(v) < lo) fail('E_USAGE', `${flag} needs an integer ≥ ${lo}, got '${v}'`);
  return Number(v);
}

/** Options every export command takes, under the names of their library options. */
export interface CommonExportArgs {
  dtype?: DTypeName;
  modelType?: ModelType;
  vocabSize?: number;
  threads?: number;
  device?: Device;
  maxBufferBytes?: number;
  dryRun?: boolean;
  hash?: boolean;
  force?: boolean;
  /** the result as JSON on stdout (a CLI choice, not an export option) */
  json?: boolean;
  /** --config FILE: the model configuration of a safetensors input (lib/cli/config-file.ts) */
  configFile?: string;
}

/** Parses one of the common export options into `o`; false when `flag` is not one of them. */
export function commonExportArg(flag: string, value: () => string, o: CommonExportArgs): boolean {
  switch (flag) {
    case '--dtype':
      o.dtype = parseDType(value());
      return true;
    case '--model-type': {
      const t = value();
      if (t !== 'auto' && !(MODEL_TYPES as readonly string[]).includes(t)) fail('E_USAGE', `--model-type must be auto or one of ${MODEL_TYPES.join(', ')}`);
      if (t === 'auto') delete o.modelType;
      else o.modelType = t as ModelType;
      return true;
    }
    case '--vocab-size':
      o.vocabSize = intArg(flag, value(), 1);
      return true;
    case '--threads':
      o.threads = intArg(flag, value(), 1);
      return true;
    case '--device':
      o.device = asDevice(value()); // refuse a malformed device before planning
      return true;
    case '--max-buffer':
      o.maxBufferBytes = parseSize(value());
      if (o.maxBufferBytes < 4096) fail('E_USAGE', '--max-buffer must be at least 4KiB');
      return true;
    case '--dry-run':
      o.dryRun = true;
      return true;
    case '--sha256':
      o.hash = true;
      return true;
    case '--force':
      o.force = true;
      return true;
    case '--json':
      o.json = true;
      return true;
    case '--config':
      o.configFile = value();
      return true;
    default:
      return false;
  }
}
