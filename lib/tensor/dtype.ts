import { fail } from '../errors.js';

/** Element types a checkpoint can hold. Names follow PyTorch (`torch.bfloat16` → 'bfloat16'). */
export type DType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float8_e4m3fn'
  | 'float8_e5m2'
  | 'int8'
  | 'uint8'
  | 'int32'
  | 'int64'
  | 'bool';

export interface DTypeInfo {
  readonly itemsize: number;
  /** safetensors header name */
  readonly safetensors: string;
  /** numeric code shared with the native addon (native/src/dtype.h) */
  readonly code: number;
  readonly isFloat: boolean;
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  float32: { itemsize: 4, safetensors: 'F32', code: 0, isFloat: true },
  float16: { itemsize: 2, safetensors: 'F16', code: 1, isFloat: true },
  bfloat16: { itemsize: 2, safetensors: 'BF16', code: 2, isFloat: true },
  float8_e4m3fn: { itemsize: 1, safetensors: 'F8_E4M3', code: 3, isFloat: true },
  float8_e5m2: { itemsize: 1, safetensors: 'F8_E5M2', code: 4, isFloat: true },
  int8: { itemsize: 1, safetensors: 'I8', code: 5, isFloat: false },
  uint8: { itemsize: 1, safetensors: 'U8', code: 6, isFloat: false },
  int32: { itemsize: 4, safetensors: 'I32', code: 7, isFloat: false },
  int64: { itemsize: 8, safetensors: 'I64', code: 8, isFloat: false },
  bool: { itemsize: 1, safetensors: 'BOOL', code: 9, isFloat: false },
};

export const ALL_DTYPES = Object.keys(DTYPES) as DType[];

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(DTYPES, s);
}

export function itemsize(d: DType): number {
  return DTYPES[d].itemsize;
}

const BY_SAFETENSORS = new Map(ALL_DTYPES.map((d) => [DTYPES[d].safetensors, d]));

export function dtypeFromSafetensors(name: string): DType | undefined {
  return BY_SAFETENSORS.get(name);
}

/** What parseDType accepts: a DType, PyTorch's `torch.` spelling, or a short alias. */
export type DTypeName = DType | `torch.${DType}` | 'bf16' | 'fp16' | 'half' | 'fp32' | 'float' | 'fp8';

/** Parses a user-supplied dtype name ('bf16', 'bfloat16', 'torch.bfloat16', 'fp16', ...). */
export function parseDType(name: string): DType {
  const n = name.replace(/^torch\./, '').toLowerCase();
  const alias: Record<string, DType> = { bf16: 'bfloat16', fp16: 'float16', half: 'float16', fp32: 'float32', float: 'float32', fp8: 'float8_e4m3fn' };
  const d = alias[n] ?? n;
  if (!isDType(d)) fail('E_USAGE', `unknown dtype '${name}'; expected one of ${ALL_DTYPES.join(', ')}`);
  return d;
}
