// Placeholder until the native core lands: the one place that loads and types the addon.
import { createRequire } from 'node:module';
import { fail } from './errors.js';

export interface NativeFeatures {
  cuda: boolean;
  threads: number;
  version: string;
}
export interface NativeAddon {
  features(): NativeFeatures;
}

let cached: NativeAddon | undefined;
export function loadNative(): NativeAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  try {
    cached = require('../build/Release/mcore_export.node') as NativeAddon;
  } catch (e) {
    fail('E_NATIVE', `could not load the native addon: ${(e as Error).message}`);
  }
  return cached;
}
