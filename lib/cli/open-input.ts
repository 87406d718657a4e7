// How every CLI command opens its checkpoint argument: --model-type and --config applied, and --config refused
// where the checkpoint carries its own args (it would be silently ignored).
import { fail } from '../errors.js';
import { openCheckpoint } from '../megatron/open.js';
import type { Checkpoint, ModelType } from '../megatron/types.js';
import { readConfigFile } from './config-file.js';

export interface InputArgs {
  readonly modelType?: ModelType | undefined;
  /** --config FILE */
  readonly configFile?: string | undefined;
}

export function openInput(path: string, a: InputArgs): Checkpoint {
  const cfg = a.configFile === undefined ? {} : readConfigFile(a.configFile);
  const ckpt = openCheckpoint(path, { ...(a.modelType ? { modelType: a.modelType } : {}), ...cfg });
  if (a.configFile !== undefined && ckpt.format !== 'safetensors') {
    ckpt.close();
    fail('E_USAGE', `--config is for safetensors inputs; this ${ckpt.format} checkpoint carries its own args`, { file: a.configFile });
  }
  return ckpt;
}
