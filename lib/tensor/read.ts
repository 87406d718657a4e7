// Reads a logical tensor's bytes in plain TypeScript, element by element. For the few small tensors a rule must
// compute from (layernorm-1p's float32 `1 + g`) and for tests that compare tensors; exports never copy weights here.
import { closeSync, openSync, readSync } from 'node:fs';
import { fail } from '../errors.js';
import { itemsize } from './dtype.js';
import { contiguousStrides, numel } from './shape.js';
import type { Tensor } from './tensor.js';
import type { Storage, View } from './view.js';
import { reach } from './view.js';

/** The bytes a view can reach, read once: [firstElement, bytes]. */
function readReach(v: View): { base: number; bytes: Uint8Array } {
  const r = reach(v);
  const size = itemsize(v.dtype);
  if (!r) return { base: 0, bytes: new Uint8Array(0) };
  return { base: r.min, bytes: readStorage(v.storage, r.min * size, (r.max - r.min + 1) * size) };
}

export function readStorage(s: Storage, byteOffset: number, byteLength: number): Uint8Array {
  if (s.kind === 'zeros') return new Uint8Array(byteLength);
  if (s.kind === 'memory') return s.bytes.subarray(byteOffset, byteOffset + byteLength);
  const out = new Uint8Array(byteLength);
  const fd = openSync(s.path, 'r');
  try {
    let done = 0;
    while (done < byteLength) {
      const n = readSync(fd, out, done, byteLength - done, s.byteOffset + byteOffset + done);
      if (n <= 0) fail('E_IO', `short read of ${s.path}`, { file: s.path });
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Gathers a view into `out` (row-major, its own dtype) at element offset `dstOffset` with `dstStrides`. */
export function gatherView(v: View, out: Uint8Array, dstOffset: number, dstStrides: readonly number[]): void {
  const size = itemsize(v.dtype);
  const { base, bytes } = readReach(v);
  const n = numel(v.shape);
  const idx = new Array<number>(v.shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let src = v.offset - base;
    let dst = dstOffset;
    for (let d = 0; d < idx.length; d++) {
      src += idx[d]! * v.strides[d]!;
      dst += idx[d]! * dstStrides[d]!;
    }
    out.set(bytes.subarray(src * size, src * size + size), dst * size);
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d]! < v.shape[d]!) break;
      idx[d] = 0;
    }
  }
}

/** A logical tensor's bytes, contiguous row-major, in its own dtype. */
export function materialize(t: Tensor): Uint8Array {
  const out = new Uint8Array(numel(t.shape) * itemsize(t.dtype));
  const strides = contiguousStrides(t.shape);
  for (const b of t.blocks) {
    const dst = b.at.reduce((acc, a, i) => acc + a * strides[i]!, 0);
    gatherView(b.view, out, dst, strides);
  }
  return out;
}
