// A stand-in for Megatron's per-rank `rng_state` entry (Python random state tuple, torch/CUDA generator
// states as uint8 tensors, tracker states). Readers skip it, but it puts non-model storages (on 'cpu') into
// the same files, as in real checkpoints. numpy's state is left out (it would need numpy to load).
import { py, type PyValue } from './pickle.js';
import { bytesTensor, tensorValue } from './torch-save.js';
import { seedOf } from './values.js';

function pseudoBytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function rngState(rank: number, seed: number): PyValue {
  const s = seedOf(`rng:${rank}`, seed);
  const mt: PyValue[] = [2147483648];
  const words = pseudoBytes(624 * 4, s);
  const dv = new DataView(words.buffer);
  for (let i = 0; i < 623; i++) mt.push(dv.getUint32(i * 4, true));
  mt.push(624);
  const u8 = (n: number, k: number) => tensorValue(bytesTensor('uint8', [n], pseudoBytes(n, seedOf(`rng:${rank}:${k}`, seed))));
  const state = new Map<PyValue, PyValue>([
    ['random_rng_state', py.tuple(3, py.tuple(...mt), null)],
    ['torch_rng_state', u8(5056, 1)],
    ['cuda_rng_state', u8(16, 2)],
    [
      'rng_tracker_states',
      new Map<PyValue, PyValue>([
        ['data-parallel-rng', u8(16, 3)],
        ['model-parallel-rng', u8(16, 4)],
        ['expert-parallel-rng', u8(16, 5)],
      ]),
    ],
  ]);
  return [state];
}
