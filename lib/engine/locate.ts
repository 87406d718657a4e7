/**
 * Finds the `trtllm-build` executable: an explicit path, then $MCORE_EXPORT_TRTLLM_BUILD, then $PATH.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { fail } from '../errors.js';

export const TRTLLM_BUILD_ENV = 'MCORE_EXPORT_TRTLLM_BUILD';

/** What to tell a user who has no usable trtllm-build (spec §0: the TensorRT backend left TensorRT-LLM main in 2026). */
export const INSTALL_HINT =
  'Building engines needs a TensorRT-LLM 1.x release, the last line that ships trtllm-build: the TensorRT-engine ' +
  'backend was removed from TensorRT-LLM main in mid-2026 (PyTorch is its only backend there). Install one, e.g. ' +
  '`pip install "tensorrt_llm==1.0.*"` on a machine with an NVIDIA GPU, or use an NGC TensorRT-LLM 1.x container ' +
  '(nvcr.io/nvidia/tensorrt-llm/release), then point us at it with --trtllm-build PATH or ' +
  `$${TRTLLM_BUILD_ENV}. The checkpoint directory itself is complete without it.`;

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function explicit(path: string, source: string): string {
  const p = resolve(path);
  if (!isExecutableFile(p)) fail('E_NOT_FOUND', `trtllm-build given by ${source} is not an executable file. ${INSTALL_HINT}`, { file: p });
  return p;
}

/** Returns an absolute path to trtllm-build or throws E_NOT_FOUND with install instructions. */
export function locateTrtllmBuild(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (option !== undefined && option !== '') return explicit(option, 'the trtllmBuild option (--trtllm-build)');
  const fromEnv = env[TRTLLM_BUILD_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return explicit(fromEnv, `$${TRTLLM_BUILD_ENV}`);
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue; // a relative PATH entry would depend on our cwd
    const p = join(dir, 'trtllm-build');
    if (isExecutableFile(p)) return p;
  }
  return fail('E_NOT_FOUND', `trtllm-build was not found on PATH. ${INSTALL_HINT}`);
}
