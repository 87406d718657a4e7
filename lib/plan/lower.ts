// Lowers a CopyPlan into the flat form the native executor reads (native/src/plan.h): sources deduplicated
// (files by path, buffers by identity), each output's safetensors layout, and one numeric record per piece.
import { fail } from '../errors.js';
import { DTYPES } from '../tensor/dtype.js';
import type { LoweredPlan } from '../native.js';
import { safetensorsLayout, type SafetensorsLayout } from '../formats/safetensors-writer.js';
import type { CopyPlan, PlanPiece, QuantKind, QuantSource } from './plan.js';

export const PIECE_FIXED_FIELDS = 11;
export const TENSOR_FIELDS = 4;
export const QUANT_FIELDS = 9;
const QUANT_KIND_CODES: Readonly<Record<QuantKind, number>> = { int8: 0, int4: 1, fp8: 2 };
const FLAG_ADD = 1;
const FLAG_MUL = 2;

/** `outputPaths[i]` is where file i is created (its temporary name). */
export function lowerPlan(plan: CopyPlan, outputPaths: readonly string[]): { lowered: LoweredPlan; layouts: SafetensorsLayout[] } {
  const sources: LoweredPlan['sources'] = [];
  const byPath = new Map<string, number>();
  const byBuffer = new Map<Uint8Array, number>();
  const tensorRecords: number[] = [];
  const tensorNames: string[] = [];
  const pieces: number[] = [];
  const layouts: SafetensorsLayout[] = [];
  const quants: number[] = [];
  const quantSources = new Map<QuantSource, number>();
  const lowerPiece = (p: PlanPiece, tensorIndex: number, file: string, tensor: string): void => {
    const v = p.src;
    const s = v.storage;
    if (v.strides.length !== v.shape.length || p.dstStrides.length !== v.shape.length) {
      fail('E_FORMAT', `a piece has ${v.shape.length} dims but ${v.strides.length} source and ${p.dstStrides.length} output strides`, { file, tensor });
    }
    let source = -1;
    let regionOffset = 0;
    let regionLength = 0;
    if (s.kind === 'file') {
      source = byPath.get(s.path) ?? -1;
      if (source < 0) {
        source = sources.push({ path: s.path }) - 1;
        byPath.set(s.path, source);
      }
      regionOffset = s.byteOffset;
      regionLength = s.byteLength;
    } else if (s.kind === 'memory') {
      source = byBuffer.get(s.bytes) ?? -1;
      if (source < 0) {
        source = sources.push({ bytes: s.bytes }) - 1;
        byBuffer.set(s.bytes, source);
      }
      regionLength = s.bytes.byteLength;
    }
    const a = p.affine;
    const flags = (a?.add !== undefined ? FLAG_ADD : 0) | (a?.mul !== undefined ? FLAG_MUL : 0);
    pieces.push(tensorIndex, source, DTYPES[v.dtype].code, regionOffset, regionLength, v.offset, p.dstOffset, flags, a?.add ?? 0, a?.mul ?? 1, v.shape.length);
    pieces.push(...v.shape, ...v.strides, ...p.dstStrides);
  };

  plan.files.forEach((file, fileIndex) => {
    const layout = safetensorsLayout(file.tensors, file.metadata, { file: file.path });
    layouts.push(layout);
    file.tensors.forEach((t, i) => {
      const tensorIndex = tensorNames.length;
      const at = layout.tensors[i]!;
      tensorNames.push(t.name);
      tensorRecords.push(fileIndex, at.begin, at.end - at.begin, DTYPES[t.dtype].code);
      if (t.quant) {
        const q = t.quant;
        let source = quantSources.get(q.source);
        if (source === undefined) {
          source = tensorNames.length;
          quantSources.set(q.source, source);
          tensorNames.push(`${q.source.name} (quantization source)`);
          tensorRecords.push(-1, 0, q.source.rows * q.source.cols * 4, DTYPES.float32.code);
          for (const p of q.source.pieces) lowerPiece(p, source, file.path, q.source.name);
        }
        quants.push(tensorIndex, source, q.role === 'scales' ? 1 : 0, QUANT_KIND_CODES[q.kind], q.source.rows, q.source.cols, q.block[0], q.block[1], DTYPES[q.scaleDtype].code);
        if (t.pieces.length > 0) fail('E_FORMAT', 'a quantized tensor has pieces', { file: file.path, tensor: t.name });
      }
      for (const p of t.pieces) lowerPiece(p, tensorIndex, file.path, t.name);
    });
  });

  return {
    lowered: {
      sources,
      outputs: layouts.map((l, i) => ({ path: outputPaths[i]!, size: l.size, header: l.header })),
      tensors: Float64Array.from(tensorRecords),
      tensorNames,
      pieces: Float64Array.from(pieces),
      ...(quants.length > 0 ? { quants: Float64Array.from(quants) } : {}),
    },
    layouts,
  };
}
