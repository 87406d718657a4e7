// Test-only: evaluates copy-plan tensors in plain TypeScript (casts and affine as PyTorch rounds them) and
// serialises a rank file as Python's safetensors does, so outputs can be compared with reference files byte for byte.
import { type DType, DTYPES, itemsize } from '../../../lib/tensor/dtype.js';
import { numel } from '../../../lib/tensor/shape.js';
import type { PlanFile, PlanTensor } from '../../../lib/plan/plan.js';
import { gatherView } from '../../support/materialize.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function bf16ToF32(bits: number): number {
  u32[0] = bits << 16;
  return f32[0]!;
}

/** float32 → bfloat16 bits, round to nearest even, NaN kept quiet (as torch's c10::BFloat16). */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if (Number.isNaN(x)) return 0x7fc0;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float32 value → float16 bits, round to nearest even with subnormals and overflow to Inf. */
export function f32ToF16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -24 * 0.5) return sign; // below half the smallest subnormal (tie handled below)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  if (e < -14) {
    // subnormal: units of 2^-24
    const q = roundHalfEven(a / 2 ** -24);
    return sign | q; // q may reach 1024 = smallest normal, which is the right encoding
  }
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function readValue(dv: DataView, i: number, d: DType): number {
  switch (d) {
    case 'float32':
      return dv.getFloat32(i * 4, true);
    case 'bfloat16':
      return bf16ToF32(dv.getUint16(i * 2, true));
    case 'float16':
      return f16ToF32(dv.getUint16(i * 2, true));
    default:
      throw new Error(`plan-eval: no cast from ${d}`);
  }
}

/** Round a float to what dtype `d` holds (the source-dtype arithmetic of `x + add`). */
function roundTo(x: number, d: DType): number {
  const v = Math.fround(x);
  if (d === 'float32') return v;
  if (d === 'bfloat16') return bf16ToF32(f32ToBf16(v));
  if (d === 'float16') return f16ToF32(f32ToF16(v));
  throw new Error(`plan-eval: no arithmetic in ${d}`);
}

function writeValue(dv: DataView, i: number, d: DType, x: number): void {
  switch (d) {
    case 'float32':
      dv.setFloat32(i * 4, x, true);
      return;
    case 'bfloat16':
      dv.setUint16(i * 2, f32ToBf16(Math.fround(x)), true);
      return;
    case 'float16':
      dv.setUint16(i * 2, f32ToF16(Math.fround(x)), true);
      return;
    default:
      throw new Error(`plan-eval: no cast to ${d}`);
  }
}

/** The bytes of one plan tensor, contiguous, in its output dtype. */
export function evalPlanTensor(t: PlanTensor): Uint8Array {
  const out = new Uint8Array(numel(t.shape) * itemsize(t.dtype));
  for (const p of t.pieces) {
    const sameBytes = p.src.dtype === t.dtype && !p.affine;
    if (sameBytes) {
      gatherView(p.src, out, p.dstOffset, p.dstStrides);
      continue;
    }
    const n = numel(p.src.shape);
    const tmp = new Uint8Array(n * itemsize(p.src.dtype));
    const rowMajor = p.src.shape.map((_, i) => numel(p.src.shape.slice(i + 1)));
    gatherView(p.src, tmp, 0, rowMajor);
    const src = new DataView(tmp.buffer, tmp.byteOffset, tmp.byteLength);
    const dst = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const idx = new Array<number>(p.src.shape.length).fill(0);
    for (let k = 0; k < n; k++) {
      let x = readValue(src, k, p.src.dtype);
      if (p.affine?.add !== undefined) x = roundTo(x + p.affine.add, p.src.dtype);
      if (p.affine?.mul !== undefined) x = x * p.affine.mul;
      let o = p.dstOffset;
      for (let d = 0; d < idx.length; d++) o += idx[d]! * p.dstStrides[d]!;
      writeValue(dst, o, t.dtype, x);
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d]! < p.src.shape[d]!) break;
        idx[d] = 0;
      }
    }
  }
  return out;
}

/** A safetensors file as Python's `safetensors.torch.save_file` writes it, tensors in the plan's order. */
export function safetensorsBytes(tensors: readonly PlanTensor[], metadata?: Readonly<Record<string, string>>): Uint8Array {
  const datas = tensors.map(evalPlanTensor);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header['__metadata__'] = metadata;
  let off = 0;
  tensors.forEach((t, i) => {
    header[t.name] = { dtype: DTYPES[t.dtype].safetensors, shape: t.shape, data_offsets: [off, off + datas[i]!.byteLength] };
    off += datas[i]!.byteLength;
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.byteLength + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.byteLength), true);
  out.set(head, 8);
  let pos = 8 + head.byteLength;
  for (const d of datas) {
    out.set(d, pos);
    pos += d.byteLength;
  }
  return out;
}

export function planFileBytes(f: PlanFile): Uint8Array {
  return safetensorsBytes(f.tensors, f.metadata);
}
