// Test-only: writes pickle opcodes byte by byte, to build hostile and edge-case pickles without Python.
// Each method appends one opcode (protocol 2 encodings, as torch.save writes them).

export class PickleWriter {
  private parts: number[] = [];

  raw(...bytes: number[]): this {
    this.parts.push(...bytes);
    return this;
  }
  proto(p = 2): this {
    return this.raw(0x80, p);
  }
  stop(): this {
    return this.raw(0x2e);
  }
  mark(): this {
    return this.raw(0x28);
  }
  none(): this {
    return this.raw(0x4e);
  }
  bool(v: boolean): this {
    return this.raw(v ? 0x88 : 0x89);
  }
  int(v: number): this {
    if (v >= 0 && v < 256) return this.raw(0x4b, v);
    if (v >= 0 && v < 65536) return this.raw(0x4d, v & 0xff, v >> 8);
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return this.raw(0x4a, ...b);
  }
  /** LONG1 with the given little-endian two's complement bytes */
  long1(bytes: number[]): this {
    return this.raw(0x8a, bytes.length, ...bytes);
  }
  float(v: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return this.raw(0x47, ...b);
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length);
    return this.raw(0x58, ...n, ...b);
  }
  shortBytes(b: number[]): this {
    return this.raw(0x43, b.length, ...b);
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...Buffer.from(`${module}\n${name}\n`, 'utf8'));
  }
  stackGlobal(): this {
    return this.raw(0x93);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  emptyList(): this {
    return this.raw(0x5d);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  tuple1(): this {
    return this.raw(0x85);
  }
  tuple2(): this {
    return this.raw(0x86);
  }
  tuple3(): this {
    return this.raw(0x87);
  }
  setitem(): this {
    return this.raw(0x73);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  append(): this {
    return this.raw(0x61);
  }
  appends(): this {
    return this.raw(0x65);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  build(): this {
    return this.raw(0x62);
  }
  newobj(): this {
    return this.raw(0x81);
  }
  binpersid(): this {
    return this.raw(0x51);
  }
  put(id: number): this {
    return id < 256 ? this.raw(0x71, id) : this.raw(0x72, id & 0xff, (id >> 8) & 0xff, (id >> 16) & 0xff, id >>> 24);
  }
  get(id: number): this {
    return id < 256 ? this.raw(0x68, id) : this.raw(0x6a, id & 0xff, (id >> 8) & 0xff, (id >> 16) & 0xff, id >>> 24);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function pw(): PickleWriter {
  return new PickleWriter().proto(2);
}
