// Test-only: which tensors of one rank differ between our plan and a reference rank file (by name and bytes).
import type { PlanTensor } from '../../../lib/plan/plan.js';
import { headerText } from './fixtures.js';
import { evalPlanTensor } from '../../support/reference-executor.js';

interface Entry {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data_offsets: readonly [number, number];
}

/** A safetensors file's tensors: name → raw bytes, dtype and shape. */
export function readSafetensors(bytes: Uint8Array): Map<string, { dtype: string; shape: readonly number[]; bytes: Uint8Array }> {
  const text = headerText(bytes);
  const start = 8 + new TextEncoder().encode(text).byteLength;
  const header = JSON.parse(text) as Record<string, Entry>;
  const out = new Map<string, { dtype: string; shape: readonly number[]; bytes: Uint8Array }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    // a copy (a Buffer's slice() would share the whole file's memory), aligned for typed-array views
    out.set(name, { dtype: e.dtype, shape: e.shape, bytes: Uint8Array.prototype.slice.call(bytes, start + e.data_offsets[0], start + e.data_offsets[1]) });
  }
  return out;
}

export interface RankDiff {
  /** ours only */
  readonly added: string[];
  /** the reference's only */
  readonly removed: string[];
  /** in both, different bytes, dtype or shape */
  readonly changed: string[];
}

export function rankDiff(mine: readonly PlanTensor[], reference: Uint8Array): RankDiff {
  const ref = readSafetensors(reference);
  const names = new Set(mine.map((t) => t.name));
  const added = mine.filter((t) => !ref.has(t.name)).map((t) => t.name);
  const removed = [...ref.keys()].filter((n) => !names.has(n));
  const changed: string[] = [];
  for (const t of mine) {
    const r = ref.get(t.name);
    if (!r) continue;
    const same = JSON.stringify(r.shape) === JSON.stringify(t.shape) && Buffer.from(evalPlanTensor(t)).equals(Buffer.from(r.bytes));
    if (!same) changed.push(t.name);
  }
  return { added: added.sort(), removed: removed.sort(), changed: changed.sort() };
}
