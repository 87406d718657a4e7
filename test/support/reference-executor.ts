// Test-only: executes a CopyPlan in plain TypeScript, element by element, with the independent IEEE casts
// of ./ieee.ts. The native executor must produce the same bytes.
import { safetensorsLayout } from '../../lib/formats/safetensors-writer.js';
import type { CopyPlan, PlanFile, PlanPiece } from '../../lib/plan/plan.js';
import { type DType, itemsize } from '../../lib/tensor/dtype.js';
import { numel } from '../../lib/tensor/shape.js';
import { reach } from '../../lib/tensor/view.js';
import { convertBits } from './ieee.js';
import { readStorage } from './materialize.js';

function readElement(bytes: Uint8Array, at: number, size: number): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + bytes[at + i]!;
  return v;
}
function writeElement(out: Uint8Array, at: number, size: number, v: number): void {
  for (let i = 0; i < size; i++) {
    out[at + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

function runPiece(p: PlanPiece, dst: DType, out: Uint8Array, tensorStart: number): void {
  const v = p.src;
  const r = reach(v);
  if (!r) return;
  const sSize = itemsize(v.dtype);
  const dSize = itemsize(dst);
  const bytes = readStorage(v.storage, r.min * sSize, (r.max - r.min + 1) * sSize);
  const n = numel(v.shape);
  const idx = new Array<number>(v.shape.length).fill(0);
  const wide = sSize === 8; // int64: copy bytes, never through numbers
  for (let k = 0; k < n; k++) {
    let s = v.offset - r.min;
    let d = p.dstOffset;
    for (let i = 0; i < idx.length; i++) {
      s += idx[i]! * v.strides[i]!;
      d += idx[i]! * p.dstStrides[i]!;
    }
    if (wide) {
      out.set(bytes.subarray(s * 8, s * 8 + 8), tensorStart + d * 8);
    } else {
      const bits = readElement(bytes, s * sSize, sSize);
      writeElement(out, tensorStart + d * dSize, dSize, convertBits(v.dtype, dst, bits, p.affine));
    }
    for (let i = idx.length - 1; i >= 0; i--) {
      if (++idx[i]! < v.shape[i]!) break;
      idx[i] = 0;
    }
  }
}

/** The bytes of one output file. */
export function referenceFile(file: PlanFile): Uint8Array {
  const layout = safetensorsLayout(file.tensors, file.metadata);
  const out = new Uint8Array(layout.size);
  out.set(layout.header, 0);
  file.tensors.forEach((t, i) => {
    for (const p of t.pieces) runPiece(p, t.dtype, out, layout.tensors[i]!.begin);
  });
  return out;
}

export function referenceExecute(plan: CopyPlan): Map<string, Uint8Array> {
  return new Map(plan.files.map((f) => [f.path, referenceFile(f)]));
}
