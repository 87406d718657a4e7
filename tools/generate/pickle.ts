// Object-level pickle writer for the checkpoint generator: turns a small tree of Python-like values into
// the opcodes CPython's pickler emits (protocol 2 as torch.save writes data.pkl, protocol 4 as
// pickle.dump writes DCP's .metadata), including its memo habits (every container, string and global is
// memoised; an object met twice is a BINGET), so readers are exercised on what real files contain.

/** A Python value. JS numbers that are integers become int, others float; use `py.float` for 3.0. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyValue[]
  | PyObj
  | Map<PyValue, PyValue>
  | { readonly [k: string]: PyValue };

export type PyObj =
  | { readonly $: 'float'; readonly v: number }
  | { readonly $: 'tuple'; readonly items: readonly PyValue[] }
  | { readonly $: 'bytes'; readonly data: Uint8Array }
  | { readonly $: 'global'; readonly module: string; readonly name: string }
  /** callable(*args), i.e. REDUCE; `state` adds a BUILD, `dictItems` SETITEMS (OrderedDict) */
  | { readonly $: 'reduce'; readonly fn: PyValue; readonly args: PyObj; readonly state?: PyValue; readonly dictItems?: Map<string, PyValue> }
  /** cls.__new__(cls, *args) then BUILD(state): how objects with a __dict__ are pickled */
  | { readonly $: 'newobj'; readonly cls: PyObj; readonly args: readonly PyValue[]; readonly state?: PyValue }
  /** a persistent id (torch storages) */
  | { readonly $: 'persid'; readonly pid: PyValue };

const isObj = (v: PyValue): v is PyObj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && typeof (v as { $?: unknown }).$ === 'string';

export const py = {
  float: (v: number): PyObj => ({ $: 'float', v }),
  tuple: (...items: PyValue[]): PyObj => ({ $: 'tuple', items }),
  bytes: (data: Uint8Array): PyObj => ({ $: 'bytes', data }),
  global: (module: string, name: string): PyObj => ({ $: 'global', module, name }),
  reduce: (fn: PyValue, args: PyObj, extra: { state?: PyValue; dictItems?: Map<string, PyValue> } = {}): PyObj => ({ $: 'reduce', fn, args, ...extra }),
  newobj: (cls: PyObj, args: PyValue[] = [], state?: PyValue): PyObj => (state === undefined ? { $: 'newobj', cls, args } : { $: 'newobj', cls, args, state }),
  persid: (pid: PyValue): PyObj => ({ $: 'persid', pid }),
  /** collections.OrderedDict(items) with an optional instance __dict__ (state_dict()'s `_metadata`) */
  odict: (items: Map<string, PyValue>, state?: PyValue): PyObj =>
    py.reduce(py.global('collections', 'OrderedDict'), py.tuple(), state === undefined ? { dictItems: items } : { dictItems: items, state }),
  /** argparse.Namespace(**fields) */
  namespace: (fields: Map<string, PyValue>): PyObj => py.newobj(py.global('argparse', 'Namespace'), [], fields),
  /** torch.<dtype> object, e.g. torch.bfloat16 */
  torchDtype: (name: string): PyObj => py.global('torch', name),
};

const BATCH = 1000; // CPython's pickler batches SETITEMS/APPENDS by 1000

/** Growable byte buffer. */
class Bytes {
  buf = Buffer.alloc(1 << 12);
  len = 0;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u8(...b: number[]): void {
    this.room(b.length);
    for (const x of b) this.buf[this.len++] = x;
  }
  u16(v: number): void {
    this.room(2);
    this.buf.writeUInt16LE(v, this.len);
    this.len += 2;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
  }
  i32(v: number): void {
    this.room(4);
    this.buf.writeInt32LE(v, this.len);
    this.len += 4;
  }
  f64be(v: number): void {
    this.room(8);
    this.buf.writeDoubleBE(v, this.len);
    this.len += 8;
  }
  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  take(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

export interface PickleOptions {
  protocol: 2 | 4;
  /** called for persistent ids; the returned value is what gets pickled as the pid (default: as is) */
  persistentId?: (pid: PyValue) => PyValue;
}

/** Pickles `root` with CPython's opcode choices for the given protocol. */
export function pickle(root: PyValue, opts: PickleOptions): Buffer {
  return new Pickler(opts).dump(root);
}

class Pickler {
  private out = new Bytes();
  private memo = new Map<unknown, number>();
  private globals = new Map<string, number>();
  constructor(private readonly opts: PickleOptions) {}

  dump(root: PyValue): Buffer {
    this.out.u8(0x80, this.opts.protocol);
    this.save(root);
    this.out.u8(0x2e); // STOP
    const body = this.out.take();
    if (this.opts.protocol < 4) return Buffer.from(body);
    // Protocol 4 frames the opcodes; one frame for the whole body is valid (CPython splits at ~64 KiB).
    const framed = Buffer.alloc(body.length + 9);
    body.copy(framed, 0, 0, 2);
    framed[2] = 0x95; // FRAME
    framed.writeBigUInt64LE(BigInt(body.length - 2), 3);
    body.copy(framed, 11, 2);
    return framed;
  }

  private put(key: unknown): void {
    const id = this.memo.size;
    this.memo.set(key, id);
    if (this.opts.protocol >= 4) this.out.u8(0x94); // MEMOIZE
    else if (id < 256) this.out.u8(0x71, id); // BINPUT
    else {
      this.out.u8(0x72); // LONG_BINPUT
      this.out.u32(id);
    }
  }

  private get(id: number): void {
    if (id < 256) this.out.u8(0x68, id); // BINGET
    else {
      this.out.u8(0x6a); // LONG_BINGET
      this.out.u32(id);
    }
  }

  /** Emits a memo fetch if `key` was pickled before; returns whether it did. */
  private fetched(key: unknown): boolean {
    const id = this.memo.get(key);
    if (id === undefined) return false;
    this.get(id);
    return true;
  }

  private save(v: PyValue): void {
    if (v === null) return this.out.u8(0x4e); // NONE
    if (v === true) return this.out.u8(0x88);
    if (v === false) return this.out.u8(0x89);
    if (typeof v === 'number') return Number.isInteger(v) ? this.int(BigInt(v)) : this.float(v);
    if (typeof v === 'bigint') return this.int(v);
    if (typeof v === 'string') return this.str(v);
    if (this.fetched(v)) return;
    if (Array.isArray(v)) return this.list(v);
    if (v instanceof Map) return this.dict(v, v);
    if (isObj(v)) return this.obj(v);
    return this.dict(v, new Map(Object.entries(v)));
  }

  private int(v: bigint): void {
    if (v >= 0n && v < 256n) return this.out.u8(0x4b, Number(v)); // BININT1
    if (v >= 0n && v < 65536n) {
      this.out.u8(0x4d); // BININT2
      return this.out.u16(Number(v));
    }
    if (v >= -(2n ** 31n) && v < 2n ** 31n) {
      this.out.u8(0x4a); // BININT
      return this.out.i32(Number(v));
    }
    // LONG1: minimal little-endian two's complement
    const bytes: number[] = [];
    let x = v;
    for (;;) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
      const top = bytes[bytes.length - 1]! & 0x80;
      if ((x === 0n && !top) || (x === -1n && top)) break;
    }
    this.out.u8(0x8a, bytes.length, ...bytes);
  }

  private float(v: number): void {
    this.out.u8(0x47); // BINFLOAT
    this.out.f64be(v);
  }

  private str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    if (this.opts.protocol >= 4 && b.length < 256) this.out.u8(0x8c, b.length); // SHORT_BINUNICODE
    else {
      this.out.u8(0x58); // BINUNICODE
      this.out.u32(b.length);
    }
    this.out.raw(b);
    this.put(Symbol()); // CPython memoises every str object; ours are never fetched back
  }

  private bytes(o: PyObj & { $: 'bytes' }): void {
    if (this.opts.protocol >= 3) {
      if (o.data.length < 256) this.out.u8(0x43, o.data.length); // SHORT_BINBYTES
      else {
        this.out.u8(0x42); // BINBYTES
        this.out.u32(o.data.length);
      }
      this.out.raw(o.data);
      return this.put(o);
    }
    // Protocol 2 has no bytes type: CPython writes _codecs.encode(latin-1 text, 'latin1'), or bytes() when empty.
    if (o.data.length === 0) {
      this.global('__builtin__', 'bytes');
      this.out.u8(0x29, 0x52); // EMPTY_TUPLE REDUCE
      return this.put(o);
    }
    this.global('_codecs', 'encode');
    this.str(Buffer.from(o.data).toString('latin1'));
    this.str('latin1');
    this.out.u8(0x86, 0x52); // TUPLE2 REDUCE
    this.put(o);
  }

  private global(module: string, name: string): void {
    const key = `${module}\n${name}`;
    const id = this.globals.get(key);
    if (id !== undefined) return this.get(id);
    if (this.opts.protocol >= 4) {
      this.str(module);
      this.str(name);
      this.out.u8(0x93); // STACK_GLOBAL
    } else {
      this.out.u8(0x63); // GLOBAL
      this.out.raw(Buffer.from(`${key}\n`, 'utf8'));
    }
    this.globals.set(key, this.memo.size);
    this.put(Symbol());
  }

  private tuple(o: PyObj & { $: 'tuple' }): void {
    const n = o.items.length;
    if (n === 0) return this.out.u8(0x29); // EMPTY_TUPLE (CPython does not memoise it)
    if (n <= 3) {
      for (const x of o.items) this.save(x);
      this.out.u8([0x85, 0x86, 0x87][n - 1]!); // TUPLE1..3
    } else {
      this.out.u8(0x28); // MARK
      for (const x of o.items) this.save(x);
      this.out.u8(0x74); // TUPLE
    }
    this.put(o);
  }

  private list(v: PyValue[]): void {
    this.out.u8(0x5d); // EMPTY_LIST
    this.put(v);
    for (let i = 0; i < v.length; i += BATCH) {
      const batch = v.slice(i, i + BATCH);
      if (batch.length === 1) {
        this.save(batch[0]!);
        this.out.u8(0x61); // APPEND
      } else {
        this.out.u8(0x28);
        for (const x of batch) this.save(x);
        this.out.u8(0x65); // APPENDS
      }
    }
  }

  private dictItems(items: Map<PyValue, PyValue>): void {
    const entries = [...items];
    for (let i = 0; i < entries.length; i += BATCH) {
      const batch = entries.slice(i, i + BATCH);
      if (batch.length === 1) {
        this.save(batch[0]![0]);
        this.save(batch[0]![1]);
        this.out.u8(0x73); // SETITEM
      } else {
        this.out.u8(0x28);
        for (const [k, x] of batch) {
          this.save(k);
          this.save(x);
        }
        this.out.u8(0x75); // SETITEMS
      }
    }
  }

  private dict(key: object, items: Map<PyValue, PyValue>): void {
    this.out.u8(0x7d); // EMPTY_DICT
    this.put(key);
    this.dictItems(items);
  }

  private obj(o: PyObj): void {
    switch (o.$) {
      case 'float':
        return this.float(o.v);
      case 'tuple':
        return this.tuple(o);
      case 'bytes':
        return this.bytes(o);
      case 'global':
        return this.global(o.module, o.name);
      case 'persid': {
        const pid = this.opts.persistentId ? this.opts.persistentId(o.pid) : o.pid;
        this.save(pid);
        return this.out.u8(0x51); // BINPERSID
      }
      case 'reduce': {
        this.save(o.fn);
        this.save(o.args);
        this.out.u8(0x52); // REDUCE
        this.put(o);
        if (o.dictItems) this.dictItems(o.dictItems);
        if (o.state !== undefined) {
          this.save(o.state);
          this.out.u8(0x62); // BUILD
        }
        return;
      }
      case 'newobj': {
        this.save(o.cls);
        this.save(py.tuple(...o.args));
        this.out.u8(0x81); // NEWOBJ
        this.put(o);
        if (o.state !== undefined) {
          this.save(o.state);
          this.out.u8(0x62); // BUILD
        }
        return;
      }
    }
  }
}
