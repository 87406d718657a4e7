// Opcode-aware pickle mutations: the stream is split into opcodes (protocols 0-5) so edits land on real
// boundaries — changed integers, memo indices, length prefixes, string contents, deleted/duplicated/swapped
// opcodes, splices of two pickles, and injected globals — which reach deeper into the unpickler than bit flips.
import { type Rng, interestingInt } from './rng.js';

export interface Op {
  readonly code: number;
  readonly start: number;
  readonly end: number;
  /** start of the argument bytes (after the opcode byte and any length prefix) */
  readonly argStart: number;
}

type ArgKind = { fixed: number } | { lenPrefix: 1 | 4 | 8 } | { lines: 1 | 2 };

const c = (s: string) => s.charCodeAt(0);
const ARGS = new Map<number, ArgKind>([
  [c('K'), { fixed: 1 }], [c('q'), { fixed: 1 }], [c('h'), { fixed: 1 }], [0x80, { fixed: 1 }], [0x82, { fixed: 1 }],
  [c('M'), { fixed: 2 }], [0x83, { fixed: 2 }],
  [c('J'), { fixed: 4 }], [c('r'), { fixed: 4 }], [c('j'), { fixed: 4 }], [0x84, { fixed: 4 }],
  [c('G'), { fixed: 8 }], [0x95, { fixed: 8 }],
  [c('U'), { lenPrefix: 1 }], [0x8c, { lenPrefix: 1 }], [c('C'), { lenPrefix: 1 }], [0x8a, { lenPrefix: 1 }],
  [c('T'), { lenPrefix: 4 }], [c('X'), { lenPrefix: 4 }], [c('B'), { lenPrefix: 4 }], [0x8b, { lenPrefix: 4 }],
  [0x8d, { lenPrefix: 8 }], [0x8e, { lenPrefix: 8 }], [0x96, { lenPrefix: 8 }],
  [c('I'), { lines: 1 }], [c('L'), { lines: 1 }], [c('F'), { lines: 1 }], [c('S'), { lines: 1 }], [c('V'), { lines: 1 }],
  [c('P'), { lines: 1 }], [c('g'), { lines: 1 }], [c('p'), { lines: 1 }], [c('c'), { lines: 2 }], [c('i'), { lines: 2 }],
]);
const NO_ARG = '(.012N)]}aestuRbQdlo'.split('').map(c).concat([0x85, 0x86, 0x87, 0x88, 0x89, 0x81, 0x92, 0x93, 0x94, 0x90, 0x91, 0x97, 0x98]);
export const OPCODES = [...ARGS.keys(), ...NO_ARG];

/** Splits a pickle into opcodes; stops at the first byte that is not an opcode or runs past the end. */
export function tokenize(b: Uint8Array): Op[] {
  const ops: Op[] = [];
  let p = 0;
  while (p < b.length) {
    const code = b[p]!;
    const k = ARGS.get(code);
    let end: number;
    let argStart = p + 1;
    if (!k) {
      if (!NO_ARG.includes(code)) break;
      end = p + 1;
    } else if ('fixed' in k) end = p + 1 + k.fixed;
    else if ('lenPrefix' in k) {
      const w = k.lenPrefix;
      if (p + 1 + w > b.length) break;
      const dv = new DataView(b.buffer, b.byteOffset + p + 1, w);
      const n = w === 1 ? dv.getUint8(0) : w === 4 ? dv.getUint32(0, true) : Number(dv.getBigUint64(0, true));
      argStart = p + 1 + w;
      end = argStart + n;
    } else {
      end = p + 1;
      for (let i = 0; i < k.lines; i++) {
        const nl = b.indexOf(0x0a, end);
        if (nl < 0) return ops;
        end = nl + 1;
      }
    }
    if (end > b.length) break;
    ops.push({ code, start: p, end, argStart });
    p = end;
    if (code === c('.')) break;
  }
  return ops;
}

const cat = (...parts: Uint8Array[]) => Buffer.concat(parts);
const enc = (s: string) => Buffer.from(s, 'utf8');

function shortUnicode(s: string): Buffer {
  const b = enc(s);
  return cat(Buffer.from([0x8c, b.length]), b);
}

/** Globals the unpickler must refuse (E_SECURITY), spelled as GLOBAL or STACK_GLOBAL. */
const HOSTILE = [['os', 'system'], ['builtins', 'eval'], ['subprocess', 'Popen'], ['posix', 'system'], ['builtins', 'getattr'], ['torch', 'load']] as const;

export function hostileGlobal(rng: Rng): Buffer {
  const [m, n] = rng.pick(HOSTILE);
  return rng.chance(0.5) ? cat(Buffer.from('c'), enc(`${m}\n${n}\n`)) : cat(shortUnicode(m), shortUnicode(n), Buffer.from([0x93]));
}

const STRINGS = ['', 'cuda:0', 'cpu', 'storage', 'BFloat16Storage', 'HalfStorage', 'FloatStorage', 'LongStorage', 'ByteStorage', '_rebuild_tensor_v2', 'OrderedDict', 'torch._utils', 'collections', 'model', 'args', 'decoder.layers.0.self_attention.linear_qkv.weight', 'embedding.word_embeddings.weight', '../../etc/passwd', '\u0000', 'x'.repeat(300), '__0_0.distcp', 'num_layers', 'hidden_size'];

/** One opcode-level edit of pickle `b` (`other`: a second pickle for splices). Returns the new bytes and what was done. */
export function mutatePickle(rng: Rng, b: Uint8Array, other: Uint8Array): { bytes: Uint8Array; what: string } {
  const ops = tokenize(b);
  if (ops.length < 3) return { bytes: b, what: 'pickle: untokenizable, unchanged' };
  const op = rng.pick(ops);
  const before = b.subarray(0, op.start);
  const after = b.subarray(op.end);
  const whole = b.subarray(op.start, op.end);
  const kind = rng.int(10);
  switch (kind) {
    case 0: {
      const code = rng.pick(OPCODES);
      return { bytes: cat(before, Buffer.from([code]), b.subarray(op.start + 1)), what: `pickle: opcode 0x${op.code.toString(16)} at ${op.start} → 0x${code.toString(16)}` };
    }
    case 1:
      return { bytes: cat(before, after), what: `pickle: delete opcode 0x${op.code.toString(16)} at ${op.start}` };
    case 2:
      return { bytes: cat(before, whole, whole, after), what: `pickle: duplicate opcode 0x${op.code.toString(16)} at ${op.start}` };
    case 3: {
      const o2 = rng.pick(ops);
      if (o2 === op) return { bytes: cat(before, after), what: `pickle: delete opcode at ${op.start}` };
      const [x, y] = op.start < o2.start ? [op, o2] : [o2, op];
      return { bytes: cat(b.subarray(0, x.start), b.subarray(y.start, y.end), b.subarray(x.end, y.start), b.subarray(x.start, x.end), b.subarray(y.end)), what: `pickle: swap opcodes at ${x.start} and ${y.start}` };
    }
    case 4: {
      // splice: this pickle's head + another pickle's tail, at opcode boundaries
      const ops2 = tokenize(other);
      if (ops2.length === 0) return { bytes: b.subarray(0, op.start), what: `pickle: cut at ${op.start}` };
      const o2 = rng.pick(ops2);
      return { bytes: cat(before, other.subarray(o2.start)), what: `pickle: splice head ..${op.start} + other pickle from ${o2.start}` };
    }
    case 5: {
      // an integer argument (int, memo index, frame length) set to a boundary value
      const ints = ops.filter((o) => { const k = ARGS.get(o.code); return k !== undefined && 'fixed' in k && o.code !== 0x80; });
      if (ints.length === 0) break;
      const t = rng.pick(ints);
      const w = t.end - t.start - 1;
      const v = interestingInt(rng, w === 1 ? 0 : 100);
      const out = Buffer.from(b);
      if (w === 1) out[t.start + 1] = v & 0xff;
      else if (w === 2) out.writeUInt16LE(v & 0xffff, t.start + 1);
      else if (w === 4) out.writeUInt32LE(v >>> 0, t.start + 1);
      else out.writeBigUInt64LE(BigInt(v), t.start + 1);
      return { bytes: out, what: `pickle: int arg of 0x${t.code.toString(16)} at ${t.start} → ${v}` };
    }
    case 6: {
      // a length prefix that no longer matches its data
      const lens = ops.filter((o) => { const k = ARGS.get(o.code); return k !== undefined && 'lenPrefix' in k; });
      if (lens.length === 0) break;
      const t = rng.pick(lens);
      const w = t.argStart - t.start - 1;
      const n = t.end - t.argStart;
      const v = interestingInt(rng, n);
      const out = Buffer.from(b);
      if (w === 1) out[t.start + 1] = v & 0xff;
      else if (w === 4) out.writeUInt32LE(v >>> 0, t.start + 1);
      else out.writeBigUInt64LE(BigInt(rng.chance(0.5) ? v : Number.MAX_SAFE_INTEGER), t.start + 1);
      return { bytes: out, what: `pickle: length of 0x${t.code.toString(16)} at ${t.start} ${n} → ${v}` };
    }
    case 7: {
      // a string (key, class name, storage type, device) replaced with another, lengths kept consistent
      const strs = ops.filter((o) => o.code === 0x8c || o.code === c('X'));
      if (strs.length === 0) break;
      const t = rng.pick(strs);
      const s = rng.pick(STRINGS);
      return { bytes: cat(b.subarray(0, t.start), shortOrLong(s), b.subarray(t.end)), what: `pickle: string at ${t.start} → '${s.slice(0, 40)}'` };
    }
    case 8:
      return { bytes: cat(before, hostileGlobal(rng), whole, after), what: `pickle: hostile global inserted at ${op.start}` };
    default:
      return { bytes: b.subarray(0, op.start), what: `pickle: truncated at opcode boundary ${op.start}` };
  }
  return { bytes: cat(before, whole, Buffer.from([0x30]), after), what: `pickle: POP inserted after ${op.start}` };
}

function shortOrLong(s: string): Buffer {
  const b = enc(s);
  if (b.length < 256) return cat(Buffer.from([0x8c, b.length]), b);
  const h = Buffer.alloc(5);
  h[0] = c('X');
  h.writeUInt32LE(b.length, 1);
  return cat(h, b);
}
