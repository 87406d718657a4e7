// A pickle virtual machine that never executes anything.
//
// Python's pickle is a small stack language whose GLOBAL + REDUCE opcodes call arbitrary functions. Here a
// GLOBAL is looked up in a caller-supplied allowlist (`GlobalTable`); each entry says what plain JS value the
// global stands for, or how to build one from REDUCE/NEWOBJ arguments and BUILD state. Any other global is
// refused with E_SECURITY before anything else happens. Every length and index read from the stream is checked
// against the bytes that remain, so a hostile or truncated pickle ends in a coded error, never a crash.
//
// Python → JS values:
//   None → null, bool → boolean, int → number (bigint beyond 2^53), float → number, str → string,
//   bytes/bytearray → Uint8Array, list → array, tuple → frozen array (`isTuple`), dict → Map, set → Set,
//   an allow-listed global → whatever its handler returns.
import { fail } from '../errors.js';

/** Where a handler runs: the file named in every error. */
export interface PickleContext {
  readonly file: string;
  /** `module.name` of the global being called or built (lets one `module.*` handler know the name) */
  readonly global?: string;
}

/**
 * What one allow-listed global means. With `call`, GLOBAL pushes a callable placeholder and REDUCE / NEWOBJ
 * run `call(args)` (pure JS, no Python semantics). Without `call`, GLOBAL pushes `value` itself (dtype objects,
 * storage classes). `build` handles BUILD on an object this handler made; it returns the replacement object or
 * undefined to keep the object.
 */
export interface GlobalHandler {
  readonly call?: (args: readonly unknown[], ctx: PickleContext) => unknown;
  readonly build?: (obj: unknown, state: unknown, ctx: PickleContext) => unknown;
  readonly value?: unknown;
}

/**
 * Allowlist keyed by `module.name` (e.g. `collections.OrderedDict`). A key `module.*` admits every name of that
 * module (meant for modules of plain enums).
 */
export type GlobalTable = ReadonlyMap<string, GlobalHandler>;

export interface UnpickleOptions {
  /** named in errors */
  readonly file: string;
  readonly globals: GlobalTable;
  /** BINPERSID: turns the persistent id (e.g. torch's `('storage', cls, key, location, numel)`) into a value */
  readonly persistentLoad?: (pid: unknown, ctx: PickleContext) => unknown;
}

/** A callable allow-listed global on the stack, before REDUCE / NEWOBJ consumes it. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly handler: GlobalHandler,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * An allow-listed object we keep without interpreting (numpy arrays in rng_state, Megatron dataclasses, ...):
 * its class name, constructor arguments and BUILD state.
 */
export class PyObject {
  state: unknown = undefined;
  constructor(
    readonly className: string,
    readonly args: readonly unknown[],
  ) {}
}

export function isTuple(v: unknown): v is readonly unknown[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

const MAX_PROTOCOL = 5;

/** Runs the pickle in `data` and returns the object STOP leaves on the stack. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions): unknown {
  return new Machine(data, opts).run();
}

/** Runs the pickle at the start of `data` and says where its STOP ended (for a stream of pickles). */
export function unpickleFirst(data: Uint8Array, opts: UnpickleOptions): { value: unknown; end: number } {
  const m = new Machine(data, opts);
  const value = m.run();
  return { value, end: m.position };
}

const decoder = new TextDecoder('utf-8');

class Machine {
  private pos = 0;
  get position(): number {
    return this.pos;
  }
  private stack: unknown[] = [];
  private marks: number[] = [];
  private memo = new Map<number, unknown>();
  /** which handler made an object, so BUILD can find its `build` */
  private made = new WeakMap<object, GlobalHandler>();
  private readonly view: DataView;
  private readonly ctx: PickleContext;

  constructor(
    private readonly data: Uint8Array,
    private readonly opts: UnpickleOptions,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.ctx = { file: opts.file };
  }

  private bad(message: string): never {
    return fail('E_FORMAT', `pickle: ${message} at byte ${this.pos}`, { file: this.opts.file });
  }

  private need(n: number): number {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.data.byteLength) {
      this.bad(`truncated: needs ${n} more bytes, ${this.data.byteLength - this.pos} left`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private u8(): number {
    return this.data[this.need(1)]!;
  }
  private u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  private u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  private i32(): number {
    return this.view.getInt32(this.need(4), true);
  }
  private u64(): number {
    const at = this.need(8);
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.bad(`length ${v} too large`);
    return Number(v);
  }
  private bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.data.subarray(at, at + n);
  }
  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) this.bad('unterminated text line');
    const s = decoder.decode(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }

  private push(v: unknown): void {
    this.stack.push(v);
  }
  private pop(): unknown {
    const floor = this.marks.length ? this.marks[this.marks.length - 1]! : 0;
    if (this.stack.length <= floor) this.bad('stack underflow');
    return this.stack.pop();
  }
  private top(): unknown {
    const floor = this.marks.length ? this.marks[this.marks.length - 1]! : 0;
    if (this.stack.length <= floor) this.bad('stack underflow');
    return this.stack[this.stack.length - 1];
  }
  /** Items pushed since the last MARK, removing them and the mark. */
  private popMark(): unknown[] {
    const m = this.marks.pop();
    if (m === undefined) this.bad('no MARK on the stack');
    return this.stack.splice(m);
  }

  private resolveGlobal(module: string, name: string): unknown {
    const qual = `${module}.${name}`;
    const handler = this.opts.globals.get(qual) ?? this.opts.globals.get(`${module}.*`);
    if (!handler) fail('E_SECURITY', `pickle refers to global '${qual}', which is not on the allowlist; nothing was executed`, { file: this.opts.file });
    if (handler.call) return new PyGlobal(module, name, handler);
    return handler.value;
  }

  private callGlobal(fn: unknown, args: unknown, op: string): unknown {
    if (!(fn instanceof PyGlobal)) this.bad(`${op} on a value that is not an allow-listed callable`);
    if (!Array.isArray(args)) this.bad(`${op} arguments are not a tuple`);
    const out = fn.handler.call!(args, { file: this.opts.file, global: fn.qualname });
    if (out !== null && typeof out === 'object' && fn.handler.build) this.made.set(out, fn.handler);
    return out;
  }

  private build(obj: unknown, state: unknown): unknown {
    if (obj !== null && typeof obj === 'object') {
      const handler = this.made.get(obj);
      if (handler?.build) return handler.build(obj, state, this.ctx) ?? obj;
    }
    if (obj instanceof PyObject) {
      obj.state = state;
      return obj;
    }
    // nn.Module.state_dict() OrderedDicts carry `_metadata`, pickled as BUILD on the dict: not part of the data.
    if (obj instanceof Map) return obj;
    return this.bad('BUILD on an object that accepts no state');
  }

  private setItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Map)) this.bad('SETITEM(S) on a value that is not a dict');
    if (items.length % 2 !== 0) this.bad('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  }

  private append(target: unknown, items: unknown[]): void {
    if (!Array.isArray(target) || Object.isFrozen(target)) this.bad('APPEND(S) on a value that is not a list');
    for (const x of items) target.push(x);
  }

  private addItems(target: unknown, items: unknown[]): void {
    if (!(target instanceof Set)) this.bad('ADDITEMS on a value that is not a set');
    for (const x of items) target.add(x);
  }

  private long(n: number): number | bigint {
    const b = this.bytes(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private memoGet(id: number): unknown {
    if (!this.memo.has(id)) this.bad(`memo key ${id} was never stored`);
    return this.memo.get(id);
  }

  run(): unknown {
    const end = this.data.byteLength;
    while (this.pos < end) {
      const op = this.u8();
      switch (op) {
        case 0x80: {
          // PROTO
          const p = this.u8();
          if (p > MAX_PROTOCOL) fail('E_UNSUPPORTED', `pickle protocol ${p} (at most ${MAX_PROTOCOL} is supported)`, { file: this.opts.file });
          break;
        }
        case 0x95: // FRAME: a length prefix for the next opcodes; we read the whole buffer anyway
          this.u64();
          break;
        case 0x2e: {
          // STOP
          if (this.marks.length) this.bad('STOP with an open MARK');
          if (this.stack.length !== 1) this.bad(`STOP with ${this.stack.length} values on the stack`);
          return this.stack[0];
        }
        case 0x28: // MARK
          this.marks.push(this.stack.length);
          break;
        case 0x30: // POP
          this.pop();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.top());
          break;
        case 0x4e: // NONE
          this.push(null);
          break;
        case 0x88: // NEWTRUE
          this.push(true);
          break;
        case 0x89: // NEWFALSE
          this.push(false);
          break;
        case 0x4a: // BININT
          this.push(this.i32());
          break;
        case 0x4b: // BININT1
          this.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.push(this.u16());
          break;
        case 0x8a: // LONG1
          this.push(this.long(this.u8()));
          break;
        case 0x8b: {
          // LONG4
          const n = this.i32();
          if (n < 0) this.bad('negative LONG4 length');
          this.push(this.long(n));
          break;
        }
        case 0x47: // BINFLOAT (big-endian)
          this.push(this.view.getFloat64(this.need(8), false));
          break;
        case 0x58: // BINUNICODE
          this.push(decoder.decode(this.bytes(this.u32())));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.push(decoder.decode(this.bytes(this.u8())));
          break;
        case 0x8d: // BINUNICODE8
          this.push(decoder.decode(this.bytes(this.u64())));
          break;
        case 0x54: {
          // BINSTRING (Python 2 str: bytes taken as latin-1 text)
          const n = this.i32();
          if (n < 0) this.bad('negative BINSTRING length');
          this.push(latin1(this.bytes(n)));
          break;
        }
        case 0x55: // SHORT_BINSTRING
          this.push(latin1(this.bytes(this.u8())));
          break;
        case 0x42: // BINBYTES
          this.push(this.bytes(this.u32()));
          break;
        case 0x43: // SHORT_BINBYTES
          this.push(this.bytes(this.u8()));
          break;
        case 0x8e: // BINBYTES8
          this.push(this.bytes(this.u64()));
          break;
        case 0x96: // BYTEARRAY8
          this.push(this.bytes(this.u64()).slice());
          break;
        case 0x5d: // EMPTY_LIST
          this.push([]);
          break;
        case 0x6c: // LIST
          this.push(this.popMark());
          break;
        case 0x61: {
          // APPEND
          const x = this.pop();
          this.append(this.top(), [x]);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          this.append(this.top(), items);
          break;
        }
        case 0x29: // EMPTY_TUPLE
          this.push(Object.freeze([]));
          break;
        case 0x74: // TUPLE
          this.push(Object.freeze(this.popMark()));
          break;
        case 0x85: // TUPLE1
          this.push(Object.freeze([this.pop()]));
          break;
        case 0x86: {
          // TUPLE2
          const b = this.pop();
          const a = this.pop();
          this.push(Object.freeze([a, b]));
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.push(Object.freeze([a, b, c]));
          break;
        }
        case 0x7d: // EMPTY_DICT
          this.push(new Map());
          break;
        case 0x64: {
          // DICT
          const m = new Map();
          this.setItems(m, this.popMark());
          this.push(m);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x8f: // EMPTY_SET
          this.push(new Set());
          break;
        case 0x90: {
          // ADDITEMS
          const items = this.popMark();
          this.addItems(this.top(), items);
          break;
        }
        case 0x91: // FROZENSET
          this.push(new Set(this.popMark()));
          break;
        case 0x63: {
          // GLOBAL: "module\nname\n"
          const module = this.line();
          const name = this.line();
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.bad('STACK_GLOBAL needs two strings');
          this.push(this.resolveGlobal(module, name));
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const fn = this.pop();
          this.push(this.callGlobal(fn, args, 'REDUCE'));
          break;
        }
        case 0x81: {
          // NEWOBJ: cls.__new__(cls, *args)
          const args = this.pop();
          const cls = this.pop();
          this.push(this.callGlobal(cls, args, 'NEWOBJ'));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX: keyword arguments are passed as a trailing Map
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!Array.isArray(args) || !(kwargs instanceof Map)) this.bad('NEWOBJ_EX needs a tuple and a dict');
          this.push(this.callGlobal(cls, kwargs.size ? [...args, kwargs] : args, 'NEWOBJ_EX'));
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop();
          const obj = this.pop();
          this.push(this.build(obj, state));
          break;
        }
        case 0x51: {
          // BINPERSID
          const pid = this.pop();
          if (!this.opts.persistentLoad) this.bad('persistent id without a persistent_load');
          this.push(this.opts.persistentLoad(pid, this.ctx));
          break;
        }
        case 0x71: // BINPUT
          this.memo.set(this.u8(), this.top());
          break;
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32(), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top());
          break;
        case 0x68: // BINGET
          this.push(this.memoGet(this.u8()));
          break;
        case 0x6a: // LONG_BINGET
          this.push(this.memoGet(this.u32()));
          break;
        default: {
          const known = UNSUPPORTED[op];
          this.pos--;
          if (known) fail('E_UNSUPPORTED', `pickle opcode ${known} (0x${op.toString(16)}) at byte ${this.pos} is not supported`, { file: this.opts.file });
          this.bad(`unknown opcode 0x${op.toString(16)}`);
        }
      }
    }
    return this.bad('ended without STOP');
  }
}

/** Real opcodes we refuse: text-protocol forms, extension registry and out-of-band buffers never appear in torch files. */
const UNSUPPORTED: Record<number, string> = {
  0x49: 'INT',
  0x4c: 'LONG',
  0x46: 'FLOAT',
  0x53: 'STRING',
  0x56: 'UNICODE',
  0x50: 'PERSID',
  0x67: 'GET',
  0x70: 'PUT',
  0x69: 'INST',
  0x6f: 'OBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}
