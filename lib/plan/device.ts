// Where a copy plan runs: 'cpu' (the thread pool), 'cuda' (GPU 0) or 'cuda:0,1' (output units shared by the
// listed GPUs of this process). Checked against what the addon and the driver report before any file is
// created, so a machine without a GPU gets a coded E_DEVICE error, never a crash.
import { fail } from '../errors.js';
import type { NativeFeatures } from '../native.js';

/** Where a plan runs: 'cpu', 'cuda' (GPU 0), 'cuda:N' or 'cuda:N,M,…' (those GPUs). */
export type Device = 'cpu' | 'cuda' | `cuda:${number}` | `cuda:${number},${string}`;

export type DeviceSpec = { readonly kind: 'cpu' } | { readonly kind: 'cuda'; readonly gpus: readonly number[] };

/** Parses 'cpu' | 'cuda' | 'cuda:N' | 'cuda:N,M,…' (E_USAGE otherwise). */
export function parseDevice(text: string | undefined): DeviceSpec {
  if (text === undefined || text === 'cpu') return { kind: 'cpu' };
  if (text === 'cuda') return { kind: 'cuda', gpus: [0] };
  const m = /^cuda:(\d+(?:,\d+)*)$/.exec(text);
  if (!m) return fail('E_USAGE', `device must be cpu, cuda or cuda:N[,M...]; got '${text}'`);
  const gpus = m[1]!.split(',').map(Number);
  if (new Set(gpus).size !== gpus.length) fail('E_USAGE', `device '${text}' lists a GPU twice`);
  return { kind: 'cuda', gpus };
}

/** `text` as a Device, or E_USAGE when parseDevice refuses it (for strings from a command line). */
export function asDevice(text: string): Device {
  parseDevice(text);
  return text as Device;
}

/** The GPU ordinals to pass to the executor (undefined for the CPU), or E_DEVICE when they are not usable here. */
export function resolveDevice(spec: DeviceSpec, features: NativeFeatures): readonly number[] | undefined {
  if (spec.kind === 'cpu') return undefined;
  const name = `cuda:${spec.gpus.join(',')}`;
  if (!features.cuda) fail('E_DEVICE', `device ${name}: this build of the native addon has no CUDA support (rebuild it with nvcc on the PATH: npm run build:native)`);
  if (features.cudaDevices <= 0) fail('E_DEVICE', `device ${name}: no CUDA device is usable here (${features.cudaError ?? 'the runtime reports none'})`);
  for (const g of spec.gpus) {
    if (g >= features.cudaDevices) fail('E_DEVICE', `device ${name}: GPU ${g} does not exist (${features.cudaDevices} visible)`);
  }
  return spec.gpus;
}
