// The writer's layout against the reference `safetensors` implementation (through the interop virtualenv),
// and its own invariants without it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { safetensorsLayout } from '../../lib/formats/safetensors-writer.js';
import { executePlan } from '../../lib/plan/execute.js';
import type { CopyPlan } from '../../lib/plan/plan.js';
import { memoryView } from '../../lib/tensor/view.js';
import { interopPython } from '../support/python.js';

const PYTHON = interopPython();
const hasPython = existsSync(PYTHON);
if (!hasPython) console.warn(`safetensors interop check skipped: no ${PYTHON}`);

const dir = mkdtempSync(join(tmpdir(), 'mcore-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('safetensorsLayout', () => {
  it('pads the JSON header with spaces to a multiple of 8 and lays tensors out in the given order', () => {
    const l = safetensorsLayout([
      { name: 'b', dtype: 'float32', shape: [3] },
      { name: '10', dtype: 'bfloat16', shape: [2, 2] },
      { name: 'a', dtype: 'int64', shape: [] },
    ], { format: 'pt', '1': 'x' });
    const n = Number(new DataView(l.header.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    expect(l.header.byteLength).toBe(8 + n);
    const text = new TextDecoder().decode(l.header.subarray(8));
    expect(text.trimEnd()).toBe('{"__metadata__":{"1":"x","format":"pt"},"b":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"10":{"dtype":"BF16","shape":[2,2],"data_offsets":[12,20]},"a":{"dtype":"I64","shape":[],"data_offsets":[20,28]}}');
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    expect(l.tensors.map((t) => [t.begin - l.header.byteLength, t.end - l.header.byteLength])).toEqual([[0, 12], [12, 20], [20, 28]]);
    expect(l.size).toBe(l.header.byteLength + 28);
    expect(() => safetensorsLayout([{ name: 'a', dtype: 'float32', shape: [1] }, { name: 'a', dtype: 'float32', shape: [1] }])).toThrow(/twice/);
  });
});

describe.skipIf(!hasPython)('files written by executePlan vs the reference safetensors library', () => {
  it('are byte-identical to safetensors.numpy.save_file for the same tensors and metadata', async () => {
    // the reference sorts by dtype alignment then name: choose tensors whose given order is that order
    const a = new Float32Array([1.5, -2, 3.25, 0, 7, 8]);
    const b = new Uint16Array([0x3f80, 0x4000, 0xc040]);
    const c = new Uint8Array([1, 2, 3, 4, 5]);
    const path = join(dir, 'ours.safetensors');
    const plan: CopyPlan = {
      files: [
        {
          path,
          metadata: { format: 'np' },
          tensors: [
            { name: 'a.weight', dtype: 'float32', shape: [2, 3], pieces: [{ dstOffset: 0, dstStrides: [3, 1], src: memoryView(new Uint8Array(a.buffer), 'float32', [2, 3]) }] },
            { name: 'b', dtype: 'float16', shape: [3], pieces: [{ dstOffset: 0, dstStrides: [1], src: memoryView(new Uint8Array(b.buffer), 'bfloat16', [3]) }] },
            { name: 'c', dtype: 'uint8', shape: [5], pieces: [{ dstOffset: 0, dstStrides: [1], src: memoryView(c, 'uint8', [5]) }] },
          ],
        },
      ],
    };
    await executePlan(plan);
    const theirs = join(dir, 'theirs.safetensors');
    const script = `
import sys, numpy as np
from safetensors.numpy import save_file, load_file
ours = load_file(sys.argv[1])
save_file({'a.weight': np.array([[1.5,-2,3.25],[0,7,8]], np.float32), 'b': np.array([1,2,-3], np.float16), 'c': np.arange(1,6,dtype=np.uint8)}, sys.argv[2], metadata={'format':'np'})
theirs = load_file(sys.argv[2])
assert sorted(ours) == sorted(theirs)
for k in ours: assert ours[k].dtype == theirs[k].dtype and (ours[k] == theirs[k]).all(), k
`;
    execFileSync(PYTHON, ['-c', script, path, theirs], { stdio: 'pipe' });
    expect(readFileSync(path)).toEqual(readFileSync(theirs));
  });
});
