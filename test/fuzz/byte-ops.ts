// Format-blind byte mutations, plus JSON (config.json, metadata.json) and safetensors-header edits.
import { type Rng, interestingInt } from './rng.js';

export type Mutated = { bytes: Buffer; what: string };

/** Bit flips, byte overwrites, truncation, growth, inserted/deleted ranges, boundary integers at random offsets. */
export function mutateBytes(rng: Rng, input: Buffer): Mutated {
  const n = input.length;
  const at = () => rng.int(Math.max(1, n));
  switch (rng.int(8)) {
    case 0: {
      const b = Buffer.from(input);
      const k = 1 + rng.int(8);
      for (let i = 0; i < k && n > 0; i++) b[at()]! ^= 1 << rng.int(8);
      return { bytes: b, what: `bytes: ${k} bit flip(s)` };
    }
    case 1: {
      const b = Buffer.from(input);
      const p = at();
      const v = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x0a, 0x2e]);
      b.fill(v, p, Math.min(n, p + 1 + rng.int(16)));
      return { bytes: b, what: `bytes: run of 0x${v.toString(16)} at ${p}` };
    }
    case 2: {
      // truncation, biased to the tail (where zip end records live) and to the very start
      const p = rng.pick([at(), n - 1 - rng.int(Math.min(n, 64)), rng.int(Math.min(n, 64))]);
      return { bytes: input.subarray(0, Math.max(0, p)), what: `bytes: truncated to ${p} of ${n}` };
    }
    case 3: {
      const extra = Buffer.alloc(1 + rng.int(4096), rng.pick([0, 0x50, 0xff]));
      return { bytes: Buffer.concat([input, extra]), what: `bytes: ${extra.length} bytes appended` };
    }
    case 4: {
      const p = at();
      const ins = Buffer.alloc(1 + rng.int(64), rng.int(256));
      return { bytes: Buffer.concat([input.subarray(0, p), ins, input.subarray(p)]), what: `bytes: ${ins.length} inserted at ${p}` };
    }
    case 5: {
      const p = at();
      const len = 1 + rng.int(256);
      return { bytes: Buffer.concat([input.subarray(0, p), input.subarray(p + len)]), what: `bytes: ${len} deleted at ${p}` };
    }
    case 6: {
      // a copied block: a chunk of the file repeated elsewhere (duplicated headers, records)
      const p = at();
      const q = at();
      const len = 1 + rng.int(512);
      const b = Buffer.from(input);
      input.copy(b, q, p, Math.min(n, p + len));
      return { bytes: b, what: `bytes: ${len} bytes from ${p} copied over ${q}` };
    }
    default: {
      if (n < 8) return { bytes: input.subarray(0, 0), what: 'bytes: emptied' };
      const b = Buffer.from(input);
      const p = rng.int(n - 8) & ~3;
      const w = rng.pick([2, 4, 8] as const);
      const v = interestingInt(rng, n);
      if (w === 2) b.writeUInt16LE(v & 0xffff, p);
      else if (w === 4) b.writeUInt32LE(v >>> 0, p);
      else b.writeBigUInt64LE(BigInt(v), p);
      return { bytes: b, what: `bytes: u${w * 8} at ${p} → ${v}` };
    }
  }
}

const ODD_VALUES: unknown[] = [null, -1, 0, 1, 2, 3, 1e308, -1e308, 0.5, 2 ** 53 + 2, 2 ** 31, 'x', '', 'bfloat16', 'float8', [], [0], [-1, 2], {}, { a: 1 }, true, false, '\u0000', 'a'.repeat(1000)];

/** Paths to every value in a JSON tree. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (at.length) out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function setAt(root: unknown, path: (string | number)[], value: unknown, remove: boolean): void {
  let o = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (remove && !Array.isArray(o)) delete o[last];
  else o[last] = value;
}

/** One edit of a JSON document: a value replaced by an odd one, a key deleted, or the text broken. */
export function mutateJson(rng: Rng, input: Buffer): Mutated {
  let doc: unknown;
  try {
    doc = JSON.parse(input.toString('utf8'));
  } catch {
    return mutateBytes(rng, input);
  }
  if (rng.chance(0.15)) return { bytes: input.subarray(0, rng.int(input.length)), what: 'json: text truncated' };
  const ps = paths(doc);
  if (ps.length === 0) return { bytes: Buffer.from(JSON.stringify(rng.pick(ODD_VALUES))), what: 'json: document replaced' };
  const p = rng.pick(ps);
  const remove = rng.chance(0.25);
  const v = rng.pick(ODD_VALUES);
  setAt(doc, p, v, remove);
  return { bytes: Buffer.from(JSON.stringify(doc)), what: `json: ${p.join('.')} ${remove ? 'deleted' : `→ ${JSON.stringify(v)?.slice(0, 30)}`}` };
}

const DTYPES = ['F32', 'F16', 'BF16', 'I64', 'I32', 'I8', 'U8', 'BOOL', 'F64', 'F8_E4M3', 'F8_E5M2', 'XX', '', 'f32'];

/** A safetensors file with an edited header: the length prefix, one tensor's dtype/shape/offsets, or junk entries. */
export function mutateSafetensors(rng: Rng, input: Buffer): Mutated {
  if (input.length < 8) return mutateBytes(rng, input);
  const n = Number(input.readBigUInt64LE(0));
  if (rng.chance(0.2) || n > input.length - 8) {
    const b = Buffer.from(input);
    const v = rng.chance(0.3) ? 2 ** 62 : interestingInt(rng, n);
    b.writeBigUInt64LE(BigInt(v), 0);
    return { bytes: b, what: `safetensors: header length ${n} → ${v}` };
  }
  const data = input.subarray(8 + n);
  let header: Record<string, { dtype?: unknown; shape?: unknown; data_offsets?: unknown } & Record<string, unknown>>;
  try {
    header = JSON.parse(input.subarray(8, 8 + n).toString('utf8'));
  } catch {
    return mutateBytes(rng, input);
  }
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  let what: string;
  const t = names.length ? header[rng.pick(names)]! : undefined;
  const k = rng.int(8);
  if (t && k === 0) {
    t.dtype = rng.pick(DTYPES);
    what = `dtype → ${String(t.dtype)}`;
  } else if (t && k === 1) {
    const s = Array.isArray(t.shape) ? [...(t.shape as number[])] : [];
    const edit = rng.int(5);
    if (edit === 0) s.push(rng.pick([1, 2, 0]));
    else if (edit === 1) s.pop();
    else if (edit === 2 && s.length) s[rng.int(s.length)] = rng.pick([0, -1, 2 ** 40, 2 ** 53, 1.5, 3]);
    else if (edit === 3) s.reverse();
    t.shape = edit === 4 ? rng.pick(ODD_VALUES) : s;
    what = `shape → ${JSON.stringify(t.shape)}`;
  } else if (t && k === 2) {
    const o = Array.isArray(t.data_offsets) ? [...(t.data_offsets as number[])] : [0, 0];
    const edit = rng.int(4);
    if (edit === 0) o.reverse();
    else if (edit === 1) o[rng.int(2)] = rng.pick([0, -8, data.length, data.length + 2, 2 ** 53, 2 ** 64, 0.5]);
    else if (edit === 2) o.push(1);
    else o[1] = (o[1] ?? 0) + rng.pick([-2, 2, 1]);
    t.data_offsets = edit === 3 && rng.chance(0.3) ? 'x' : o;
    what = `data_offsets → ${JSON.stringify(t.data_offsets)}`;
  } else if (t && k === 3) {
    const other = header[rng.pick(names)]!;
    t.data_offsets = other.data_offsets;
    what = 'data_offsets copied from another tensor (overlap)';
  } else if (names.length && k === 4) {
    delete header[rng.pick(names)];
    what = 'a tensor deleted';
  } else if (k === 5) {
    header[rng.pick(['extra', 'transformer.layers.9.mlp.fc.weight', '__metadata__', ''])] = rng.pick(ODD_VALUES) as never;
    what = 'an odd entry added';
  } else if (t && k === 6) {
    t[rng.pick(['dtype', 'shape', 'data_offsets'])] = undefined;
    what = 'a field removed';
  } else {
    return mutateBytes(rng, input);
  }
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  return { bytes: Buffer.concat([len, Buffer.from(text), data]), what: `safetensors: ${what}` };
}
