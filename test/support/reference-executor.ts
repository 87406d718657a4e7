// Test-only: the one reference evaluator of copy plans, in plain TypeScript, element by element, with the
// independent IEEE casts of ./ieee.ts; files are serialised as Python's `safetensors.torch.save_file` writes
// them (header built here, not by lib/formats/safetensors-writer.ts). The native executor must produce the same
// bytes, and conversion rules are checked against reference files through it.
import type { CopyPlan, PlanFile, PlanPiece, PlanTensor } from '../../lib/plan/plan.js';
import { type DType, DTYPES, itemsize } from '../../lib/tensor/dtype.js';
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

/** Writes piece `p` of a tensor of dtype `dst` whose data starts at byte `tensorStart` of `out`. */
function runPiece(p: PlanPiece, dst: DType, out: Uint8Array, tensorStart: number): void {
  const v = p.src;
  const r = reach(v);
  if (!r) return;
  const sSize = itemsize(v.dtype);
  const dSize = itemsize(dst);
  const bytes = readStorage(v.storage, r.min * sSize, (r.max - r.min + 1) * sSize);
  const n = numel(v.shape);
  const idx = new Array<number>(v.shape.length).fill(0);
  // same dtype and no arithmetic (and int64 always): the bytes themselves, never through numbers
  const copy = sSize === 8 || (v.dtype === dst && !p.affine);
  for (let k = 0; k < n; k++) {
    let s = v.offset - r.min;
    let d = p.dstOffset;
    for (let i = 0; i < idx.length; i++) {
      s += idx[i]! * v.strides[i]!;
      d += idx[i]! * p.dstStrides[i]!;
    }
    if (copy) {
      out.set(bytes.subarray(s * sSize, s * sSize + sSize), tensorStart + d * dSize);
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

/** The bytes of one plan tensor, contiguous, in its output dtype. */
export function evalPlanTensor(t: PlanTensor): Uint8Array {
  const out = new Uint8Array(numel(t.shape) * itemsize(t.dtype));
  for (const p of t.pieces) runPiece(p, t.dtype, out, 0);
  return out;
}

/**
 * A safetensors file as Python's `safetensors.torch.save_file` writes it, tensors in the given order: the JSON
 * header (`__metadata__` first, keys in insertion order, no spaces), space-padded to a multiple of 8 bytes.
 */
export function safetensorsBytes(tensors: readonly PlanTensor[], metadata?: Readonly<Record<string, string>>): Uint8Array {
  const entries: string[] = [];
  if (metadata && Object.keys(metadata).length) {
    entries.push(`"__metadata__":{${Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  let size = 0;
  const begins = tensors.map((t) => {
    const begin = size;
    size += numel(t.shape) * itemsize(t.dtype);
    entries.push(`${JSON.stringify(t.name)}:{"dtype":"${DTYPES[t.dtype].safetensors}","shape":[${t.shape.join(',')}],"data_offsets":[${begin},${size}]}`);
    return begin;
  });
  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  const dataStart = 8 + headerLength;
  const out = new Uint8Array(dataStart + size);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, dataStart);
  tensors.forEach((t, i) => {
    for (const p of t.pieces) runPiece(p, t.dtype, out, dataStart + begins[i]!);
  });
  return out;
}

/** The bytes of one output file. */
export function referenceFile(file: PlanFile): Uint8Array {
  return safetensorsBytes(file.tensors, file.metadata);
}

export function referenceExecute(plan: CopyPlan): Map<string, Uint8Array> {
  return new Map(plan.files.map((f) => [f.path, referenceFile(f)]));
}
