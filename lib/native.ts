// The one place that loads and types the native addon (native/, built by cmake-js or node-gyp).
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ErrorCode, ExportError, fail } from './errors.js';

export interface NativeFeatures {
  /** built with the CUDA part */
  cuda: boolean;
  /** CUDA devices the runtime sees (0 without a driver or a GPU) */
  cudaDevices: number;
  /** why there are no CUDA devices */
  cudaError?: string;
  cudaRuntimeVersion?: number;
  /** hardware threads */
  threads: number;
  version: string;
}

/**
 * A copy plan lowered for the executor (see lib/plan/lower.ts and native/src/plan.h for the record layout).
 * Offsets and strides count elements.
 */
export interface LoweredPlan {
  sources: ({ path: string } | { bytes: Uint8Array })[];
  /** `path` is where the file is created (a temporary name); `size` includes the header */
  outputs: { path: string; size: number; header: Uint8Array }[];
  /** per tensor: output, byteStart, byteLength, dtype code */
  tensors: Float64Array;
  tensorNames: string[];
  /** per piece: tensor, source (-1 zeros), srcDtype, regionOffset, regionLength, srcOffset, dstOffset, flags, add, mul, rank, shape…, srcStrides…, dstStrides… */
  pieces: Float64Array;
  /** per quantized tensor: tensor, source (a tensor with output -1), role (0 values, 1 scales), kind (0 int8, 1 int4, 2 fp8), rows, cols, blockRows, blockCols, scale dtype code */
  quants?: Float64Array;
}

export interface NativeJob {
  /** CPU runs also say the unit size used and the bytes of source mappings dropped as they were consumed (a range may count twice) */
  promise: Promise<{ bytes: number; threads: number; unitBytes?: number; releasedBytes?: number }>;
  /** stops the job between work units; its promise then rejects with code E_ABORTED */
  cancel(): void;
}

export interface NativeMappedFile {
  readonly size: number;
  /** a copy of bytes [offset, offset + length); E_FORMAT when outside the file */
  read(offset: number, length: number): Buffer;
  advise(offset: number, length: number, advice: 'normal' | 'sequential' | 'random' | 'willneed' | 'dontneed'): void;
  close(): void;
}

export interface NativeAddon {
  features(): NativeFeatures;
  /**
   * `gpus`: run on these CUDA devices (native/src/cuda/device_executor.cu), `deviceMemory` bytes of staging each;
   * `maxBufferBytes`: work buffers of all CPU threads together (default 1 GiB; units shrink, then threads)
   */
  execute(plan: LoweredPlan, options: { threads?: number; maxBufferBytes?: number; gpus?: readonly number[]; deviceMemory?: number; onProgress?: (done: number, total: number) => void }): NativeJob;
  /** the executor's cast kernels over a contiguous buffer (dtype codes of lib/tensor/dtype.ts) */
  convertBuffer(bytes: Uint8Array, srcCode: number, dstCode: number, add?: number, mul?: number): Uint8Array;
  MappedFile: new (path: string) => NativeMappedFile;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Where an addon may be, in the order they are tried: $MCORE_EXPORT_ADDON (an explicit file, e.g. a CPU-only
 * build), prebuilds, then a local cmake-js or node-gyp build.
 */
export function nativeCandidates(root = ROOT): string[] {
  const explicit = process.env['MCORE_EXPORT_ADDON'];
  if (explicit) return [explicit];
  const out: string[] = [];
  const pre = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (existsSync(pre)) {
    for (const f of readdirSync(pre).sort()) if (f.endsWith('.node') && f.includes('napi')) out.push(join(pre, f));
    for (const f of readdirSync(pre).sort()) if (f.endsWith('.node') && !f.includes('napi')) out.push(join(pre, f));
  }
  out.push(join(root, 'build', 'Release', 'mcore_export.node'), join(root, 'build', 'Debug', 'mcore_export.node'));
  return out;
}

let cached: NativeAddon | undefined;
let cachedPath: string | undefined;

/** The file the addon was loaded from (loads it if needed). */
export function nativePath(): string {
  loadNative();
  return cachedPath!;
}

export function loadNative(): NativeAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const path of nativeCandidates()) {
    if (!existsSync(path)) {
      tried.push(`${path} (missing)`);
      continue;
    }
    try {
      cached = require(path) as NativeAddon;
      cachedPath = path;
      return cached;
    } catch (e) {
      tried.push(`${path} (${(e as Error).message.split('\n')[0]})`);
    }
  }
  return fail(
    'E_NATIVE',
    `could not load the native addon; tried ${tried.join('; ')}. Build it with \`npm run build:native\` (needs cmake and a C++17 compiler; \`npm run build:native:cpu\` without CUDA, or \`npx node-gyp rebuild\` without cmake)`,
  );
}

export function features(): NativeFeatures {
  return loadNative().features();
}

const CODES = new Set<string>(['E_FORMAT', 'E_UNSUPPORTED', 'E_CONFIG', 'E_SHAPE', 'E_IO', 'E_ABORTED', 'E_USAGE', 'E_NATIVE', 'E_DEVICE', 'E_SECURITY', 'E_NOT_FOUND', 'E_BUILD']);

/** An error thrown by the addon (a plain Error with `code`) as an ExportError with the same code. */
export function fromNativeError(e: unknown, where?: { file?: string; tensor?: string }): ExportError {
  if (e instanceof ExportError) return e;
  const code = (e as { code?: unknown })?.code;
  const message = e instanceof Error ? e.message : String(e);
  return new ExportError(typeof code === 'string' && CODES.has(code) ? (code as ErrorCode) : 'E_NATIVE', message, { ...where, cause: e });
}
