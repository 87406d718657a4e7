// The one place that loads and types the native addon (native/: prebuilt by prebuildify, or built by cmake-js or node-gyp).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
  /** the GPU architectures the CUDA part was compiled for, e.g. "80-real 86-real ... 120-virtual" */
  cudaArchitectures?: string;
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

/** Where scripts/install-native.cjs leaves one line on why it could not build the addon (npm hides its output). */
export const INSTALL_NOTE = join('build', 'install-native.txt');

/** The addon files there may be, grouped by kind; a group's files are tried in order. */
export interface NativeCandidates {
  /** $MCORE_EXPORT_ADDON: used alone when set */
  explicit?: string;
  /** prebuilds/<platform>-<arch>/*.node shipped in the package (CPU-only), Node-API builds first */
  prebuilt: string[];
  /** the user's cmake-js / node-gyp build */
  local: string[];
}

export function nativeCandidates(root = ROOT): NativeCandidates {
  const explicit = process.env['MCORE_EXPORT_ADDON'];
  const local = [join(root, 'build', 'Release', 'mcore_export.node'), join(root, 'build', 'Debug', 'mcore_export.node')];
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')).sort() : [];
  const prebuilt = [...files.filter((f) => f.includes('napi')), ...files.filter((f) => !f.includes('napi'))].map((f) => join(dir, f));
  return explicit ? { explicit, prebuilt: [], local: [] } : { prebuilt, local };
}

let cached: { addon: NativeAddon; path: string } | undefined;

/** The file the addon was loaded from (loads it if needed). */
export function nativePath(): string {
  loadNative();
  return cached!.path;
}

/**
 * Loads the addon, choosing in this order: $MCORE_EXPORT_ADDON alone when set; else a local build that has CUDA
 * (the user ran `npm run build:native`: it beats the CPU-only prebuild with no setting needed); else the prebuilt
 * binary; else any local build. `bindings` is not used: it cannot look in prebuilds/ nor prefer by capability.
 */
export function loadNative(): NativeAddon {
  if (cached) return cached.addon;
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  const load = (path: string): NativeAddon | undefined => {
    if (!existsSync(path)) return void tried.push(`${path} (missing)`);
    try {
      return require(path) as NativeAddon;
    } catch (e) {
      return void tried.push(`${path} (${(e as Error).message.split('\n')[0]})`);
    }
  };
  const c = nativeCandidates();
  const order: { path: string; when?: (a: NativeAddon) => boolean }[] = c.explicit
    ? [{ path: c.explicit }]
    : [...c.local.map((path) => ({ path, when: (a: NativeAddon) => a.features().cuda })), ...c.prebuilt.map((path) => ({ path })), ...c.local.map((path) => ({ path }))];
  const loaded = new Map<string, NativeAddon | undefined>();
  for (const { path, when } of order) {
    if (!loaded.has(path)) loaded.set(path, load(path));
    const addon = loaded.get(path);
    if (addon && (!when || when(addon))) {
      cached = { addon, path };
      return addon;
    }
  }
  return fail('E_NATIVE', `could not load the native addon${installNote()}; tried ${[...new Set(tried)].join('; ')}. ${BUILD_ADVICE}`);
}

/** How to build the addon, for error messages. */
export const BUILD_ADVICE =
  'Build it in the package directory with `npm run build:native` (cmake ≥ 3.19 and a C++17 compiler; CUDA when nvcc is found), `npm run build:native:cpu` without CUDA, or `npx node-gyp rebuild` without cmake';

/** Why npm install left no addon: its install script's line, or that npm may not have run the script at all. */
function installNote(): string {
  const file = join(ROOT, INSTALL_NOTE);
  if (existsSync(file)) return ` (npm install: ${readFileSync(file, 'utf8').trim()})`;
  // npm 11 runs a dependency's install script only once the project approves it (allowScripts)
  return ' (no prebuilt addon loads here and npm may have skipped the install script that builds one: `npm install-scripts approve mcore-export && npm rebuild mcore-export`)';
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
