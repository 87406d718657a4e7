/** Stable error codes: scripts switch on `err.code`, never on message text. */
export type ErrorCode =
  | 'E_FORMAT' // a file is not what it claims to be (bad header, truncated, inconsistent)
  | 'E_UNSUPPORTED' // a valid input that we do not handle (yet)
  | 'E_CONFIG' // settings that cannot work together (tp not dividing heads, pp > layers, ...)
  | 'E_SHAPE' // tensor shapes that disagree
  | 'E_IO' // the operating system refused a read or write
  | 'E_ABORTED' // the caller cancelled
  | 'E_USAGE' // bad command-line or API arguments
  | 'E_NATIVE' // the native addon could not be loaded or failed internally
  | 'E_DEVICE' // a requested device (CUDA) is not available
  | 'E_SECURITY' // an input asked for something we refuse to do (pickle globals outside the allowlist)
  | 'E_NOT_FOUND' // a file, tensor or tool that should exist does not
  | 'E_BUILD'; // the TensorRT-LLM engine build failed

export class ExportError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly tensor?: string;

  constructor(code: ErrorCode, message: string, where: { file?: string; tensor?: string; cause?: unknown } = {}) {
    const place = [where.file && `file ${where.file}`, where.tensor && `tensor ${where.tensor}`].filter(Boolean).join(', ');
    super(`${code}: ${message}${place ? ` (${place})` : ''}`, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'ExportError';
    this.code = code;
    if (where.file !== undefined) this.file = where.file;
    if (where.tensor !== undefined) this.tensor = where.tensor;
  }
}

export function fail(code: ErrorCode, message: string, where?: { file?: string; tensor?: string; cause?: unknown }): never {
  throw new ExportError(code, message, where);
}

export function isExportError(e: unknown): e is ExportError {
  return e instanceof ExportError;
}
