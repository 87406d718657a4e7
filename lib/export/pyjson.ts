/**
 * JSON as Python's `json.dump(obj, f, indent=2)` writes it, so config.json files compare byte for byte with
 * those Megatron's tooling wrote: floats keep their float-ness (`1.0`, `1e-05`), ints stay ints.
 */
export class PyFloat {
  constructor(readonly value: number) {}
}

export const pyFloat = (x: number): PyFloat => new PyFloat(x);

export type PyJson = null | boolean | number | string | PyFloat | readonly PyJson[] | { readonly [k: string]: PyJson };

/** Python's float repr: shortest round-trip digits, exponent form below 1e-4 and from 1e16 on. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mant, expStr] = x.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let s: string;
  if (exp >= 0) {
    s = digits.length > exp + 1 ? `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}` : `${digits.padEnd(exp + 1, '0')}.0`;
  } else s = `0.${'0'.repeat(-exp - 1)}${digits}`;
  return (neg ? '-' : '') + s;
}

function encode(v: PyJson, indent: string): string {
  if (v === null) return 'null';
  if (v instanceof PyFloat) return pyFloatRepr(v.value);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloatRepr(v);
  if (typeof v === 'string') return JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const inner = indent + '  ';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + encode(x, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(v as Record<string, PyJson>);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${inner}${encode(k, inner)}: ${encode(x, inner)}`).join(',\n')}\n${indent}}`;
}

/** `json.dump(v, indent=2)` followed by a newline. */
export function pyJsonDump(v: PyJson): string {
  return encode(v, '') + '\n';
}

/** Plain JSON value of a PyJson tree (PyFloat → number), for callers that want an ordinary object. */
export function toPlain(v: PyJson): unknown {
  if (v instanceof PyFloat) return v.value;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x as PyJson)]));
  return v;
}
