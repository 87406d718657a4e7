// Differential test: the native executor writes the same bytes as the plain-TS reference executor for
// thousands of random plans (random ranks, strides incl. broadcast and transposes, dtypes, affine, zero
// pieces, file and memory sources), plus a few larger plans that take the tiled and multi-unit paths.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { executePlan } from '../../lib/plan/execute.js';
import type { CopyPlan, PlanFile, PlanPiece, PlanTensor } from '../../lib/plan/plan.js';
import { type DType, itemsize } from '../../lib/tensor/dtype.js';
import { contiguousStrides, numel } from '../../lib/tensor/shape.js';
import type { Storage, View } from '../../lib/tensor/view.js';
import { referenceFile } from '../support/reference-executor.js';
import { rng, type Rng } from '../support/rng.js';

// tmpfs when available: the test is about bytes, not about fsync latency of a disk
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'mcore-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FLOATS: DType[] = ['float32', 'float16', 'bfloat16', 'float8_e4m3fn', 'float8_e5m2'];
const OTHERS: DType[] = ['int8', 'uint8', 'int32', 'int64', 'bool'];

function randomBytes(r: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r.next() * 256);
  return b;
}

let fileCounter = 0;
/** A source view of `shape` with random permutation, broadcast dims and offset, over a file or a buffer. */
function randomSource(r: Rng, dtype: DType, shape: readonly number[]): View {
  const rank = shape.length;
  const kind = r.next();
  if (kind < 0.1) return { storage: { kind: 'zeros' }, dtype, shape: [...shape], strides: shape.map(() => 0), offset: 0 };
  // lay the dims out in a random order, some broadcast (stride 0), with a little padding between
  const order = [...shape.keys()].sort(() => r.next() - 0.5);
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = order.length - 1; i >= 0; i--) {
    const d = order[i]!;
    if (r.next() < 0.15) continue; // broadcast
    strides[d] = s;
    s *= shape[d]! + (r.next() < 0.2 ? r.int(1, 2) : 0);
  }
  const offset = r.int(0, 5);
  const elements = offset + (numel(shape) === 0 ? 0 : shape.reduce((a, d, i) => a + (d - 1) * strides[i]!, 0) + 1) + r.int(0, 3);
  const bytes = randomBytes(r, elements * itemsize(dtype));
  let storage: Storage;
  if (kind < 0.55) {
    storage = { kind: 'memory', bytes };
  } else {
    const lead = r.int(0, 16);
    const path = join(dir, `src-${fileCounter++}.bin`);
    writeFileSync(path, Buffer.concat([randomBytes(r, lead), bytes, randomBytes(r, r.int(0, 16))]));
    storage = { kind: 'file', path, byteOffset: lead, byteLength: bytes.byteLength };
  }
  return { storage, dtype, shape: [...shape], strides, offset };
}

/** A tensor split along one dim into 1-4 pieces, each from its own random source. */
function randomTensor(r: Rng, name: string): PlanTensor {
  const rank = r.int(0, 4);
  const shape = Array.from({ length: rank }, () => (r.next() < 0.03 ? 0 : r.int(1, 6)));
  const float = r.next() < 0.85;
  const dtype = float ? r.pick(FLOATS) : r.pick(OTHERS);
  const out = contiguousStrides(shape);
  const pieces: PlanPiece[] = [];
  const splitDim = rank > 0 ? r.int(0, rank - 1) : -1;
  const cuts = [0];
  if (splitDim >= 0) {
    const size = shape[splitDim]!;
    for (let c = 1; c < size; c++) if (r.next() < 0.3) cuts.push(c);
    cuts.push(size);
  } else cuts.push(1);
  for (let i = 0; i + 1 < cuts.length; i++) {
    const part = [...shape];
    if (splitDim >= 0) part[splitDim] = cuts[i + 1]! - cuts[i]!;
    const srcDtype = float ? r.pick(FLOATS) : dtype;
    const affine = float && r.next() < 0.25 ? { ...(r.next() < 0.6 ? { add: r.pick([1, -0.5, 0.125, 3]) } : {}), ...(r.next() < 0.6 ? { mul: r.pick([2, 0.37, -1.5, 448 / 3]) } : {}) } : undefined;
    pieces.push({
      dstOffset: splitDim >= 0 ? cuts[i]! * out[splitDim]! : 0,
      dstStrides: out,
      src: randomSource(r, srcDtype, part),
      ...(affine ? { affine } : {}),
    });
  }
  if (r.next() < 0.5) pieces.reverse(); // order of pieces must not matter
  return { name, dtype, shape, pieces };
}

function randomFile(r: Rng, path: string): PlanFile {
  const n = r.int(0, 3);
  return { path, tensors: Array.from({ length: n }, (_, i) => randomTensor(r, `t${i}.${r.int(0, 99)}`)), ...(r.next() < 0.3 ? { metadata: { format: 'pt' } } : {}) };
}

async function expectSameAsReference(plan: CopyPlan, threads?: number): Promise<void> {
  await executePlan(plan, threads ? { threads } : {});
  for (const f of plan.files) {
    const got = readFileSync(f.path);
    const want = referenceFile(f);
    if (!got.equals(Buffer.from(want))) {
      const at = got.findIndex((b, i) => b !== want[i]);
      throw new Error(`${f.path}: native output differs from the reference at byte ${at} of ${want.byteLength} (got ${got.byteLength})`);
    }
  }
}

describe('native executor vs reference executor', () => {
  it('10,000 random plans give identical bytes', async () => {
    const r = rng(2024);
    const batches = 50;
    const perBatch = 200;
    for (let b = 0; b < batches; b++) {
      fileCounter = 0;
      const files = Array.from({ length: perBatch }, (_, i) => randomFile(r, join(dir, `out-${b}-${i}.safetensors`)));
      await expectSameAsReference({ files }, r.int(1, 3));
      for (const f of files) rmSync(f.path);
      for (let i = 0; i < fileCounter; i++) rmSync(join(dir, `src-${i}.bin`), { force: true });
    }
  });

  it('transposed sources (tiled path) and tensors spanning several work units', async () => {
    const r = rng(7);
    const rows = 1200;
    const cols = 2000;
    // an f32 source stored [cols, rows], read transposed as [rows, cols]
    const bytes = new Uint8Array(rows * cols * 4);
    const f = new Float32Array(bytes.buffer);
    for (let i = 0; i < f.length; i++) f[i] = (r.next() - 0.5) * 1000;
    const path = join(dir, 'big.bin');
    writeFileSync(path, bytes);
    const transposed: View = { storage: { kind: 'file', path, byteOffset: 0, byteLength: bytes.byteLength }, dtype: 'float32', shape: [rows, cols], strides: [1, rows], offset: 0 };
    const half = cols / 2;
    const left: View = { ...transposed, shape: [rows, half] };
    const right: View = { ...transposed, shape: [rows, half], offset: half * rows };
    const corner: View = { ...transposed, shape: [600, 1000], offset: 3 };
    const plan: CopyPlan = {
      files: [
        { path: join(dir, 'big-a.safetensors'), tensors: [{ name: 'w', dtype: 'bfloat16', shape: [600, 1000], pieces: [{ dstOffset: 0, dstStrides: [1000, 1], src: corner }] }] },
        {
          // 9.6 MB of f32: more than one work unit, the boundary inside 'w'
          path: join(dir, 'big-b.safetensors'),
          tensors: [
            { name: 'small', dtype: 'float16', shape: [3], pieces: [{ dstOffset: 0, dstStrides: [1], src: { ...transposed, shape: [3], strides: [7] } }] },
            {
              name: 'w',
              dtype: 'float32',
              shape: [rows, cols],
              pieces: [
                { dstOffset: half, dstStrides: [cols, 1], src: right },
                { dstOffset: 0, dstStrides: [cols, 1], src: left },
              ],
            },
            { name: 'scaled', dtype: 'float8_e4m3fn', shape: [64, 64], pieces: [{ dstOffset: 0, dstStrides: [64, 1], src: { ...transposed, shape: [64, 64] }, affine: { mul: 0.5 } }] },
          ],
        },
      ],
    };
    await expectSameAsReference(plan, 2);
  });
});
