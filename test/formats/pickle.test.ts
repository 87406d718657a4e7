import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { isTuple, PyObject, unpickle } from '../../lib/formats/pickle.js';
import { PyBytesIO, PyEnum, TorchDType, TorchStorageType, type TorchTensorDescriptor, torchGlobals } from '../../lib/formats/pickle-torch.js';
import { pw } from '../support/pickle-writer.js';
import { errorOf } from '../support/errors.js';

const FILE = 'hostile.pkl';
const globals = torchGlobals();
const run = (b: Uint8Array, persistentLoad?: (pid: unknown) => unknown) => unpickle(b, { file: FILE, globals, persistentLoad });

const tmp = mkdtempSync(join(tmpdir(), 'pickle-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('values', () => {
  test('containers, numbers, strings, memo', () => {
    const b = pw()
      .emptyDict().put(0)
      .mark()
      .str('list').emptyList().put(1).mark().int(1).int(300).int(-5).int(70000).appends()
      .str('tuple').str('a').float(1.5).tuple2()
      .str('neg').long1([0x00, 0x80])
      .str('big').long1([0, 0, 0, 0, 0, 0, 0, 0x40])
      .str('none').none()
      .str('same').get(1)
      .str('flag').bool(true)
      .str('bytes').shortBytes([1, 2, 255])
      .setitems()
      .stop()
      .bytes();
    const o = run(b) as Map<string, unknown>;
    expect(o.get('list')).toEqual([1, 300, -5, 70000]);
    expect(o.get('same')).toBe(o.get('list'));
    expect(isTuple(o.get('tuple'))).toBe(true);
    expect(o.get('tuple')).toEqual(['a', 1.5]);
    expect(o.get('neg')).toBe(-32768);
    expect(o.get('big')).toBe(1n << 62n);
    expect(o.get('none')).toBeNull();
    expect(o.get('flag')).toBe(true);
    expect(o.get('bytes')).toEqual(Uint8Array.from([1, 2, 255]));
  });

  test('torch constructs: OrderedDict with _metadata, Namespace, enums, dtypes, _codecs bytes, BytesIO', () => {
    const b = pw()
      .emptyDict()
      .str('od').global('collections', 'OrderedDict').emptyTuple().reduce().put(0)
      .str('k').int(7).setitem()
      .emptyDict().str('_metadata').emptyDict().setitem().build()
      .setitem()
      .str('args').global('argparse', 'Namespace').emptyTuple().newobj()
      .emptyDict().str('params_dtype').global('torch', 'bfloat16').setitem()
      .str('attention_backend').global('megatron.core.transformer.enums', 'AttnBackend').int(5).tuple1().reduce().setitem()
      .build()
      .setitem()
      .str('raw').global('_codecs', 'encode').str('a\u00ff').str('latin1').tuple2().reduce().setitem()
      .str('io').global('_io', 'BytesIO').emptyTuple().newobj().shortBytes([9, 8]).int(0).none().tuple3().build().setitem()
      .stop()
      .bytes();
    const o = run(b) as Map<string, unknown>;
    expect(o.get('od')).toEqual(new Map([['k', 7]]));
    const args = o.get('args') as Record<string, unknown>;
    expect(args.params_dtype).toEqual(new TorchDType('bfloat16'));
    expect(args.attention_backend).toEqual(new PyEnum('megatron.core.transformer.enums.AttnBackend', 5));
    expect(o.get('raw')).toEqual(Uint8Array.from([0x61, 0xff]));
    expect((o.get('io') as PyBytesIO).bytes).toEqual(Uint8Array.from([9, 8]));
  });

  test('_rebuild_tensor_v2 with a persistent storage id', () => {
    const b = pw()
      .global('torch._utils', '_rebuild_tensor_v2')
      .mark()
      .mark().str('storage').global('torch', 'HalfStorage').str('3').str('cuda:0').int(12).tuple().binpersid()
      .int(2).mark().int(2).int(5).tuple().mark().int(5).int(1).tuple().bool(false)
      .global('collections', 'OrderedDict').emptyTuple().reduce()
      .tuple()
      .reduce()
      .stop()
      .bytes();
    const t = run(b, (pid) => pid) as TorchTensorDescriptor;
    const pid = t.storage as unknown[];
    expect(pid[0]).toBe('storage');
    expect(pid[1]).toEqual(new TorchStorageType('HalfStorage', 'float16'));
    expect(pid[2]).toBe('3');
    expect(t.storageOffset).toBe(2);
    expect(t.size).toEqual([2, 5]);
    expect(t.stride).toEqual([5, 1]);
  });

  test('opaque numpy objects keep their state', () => {
    const b = pw()
      .global('numpy._core.multiarray', '_reconstruct').global('numpy', 'ndarray').int(0).tuple1().shortBytes([0x62]).tuple3().reduce()
      .int(1).build()
      .stop()
      .bytes();
    const o = run(b) as PyObject;
    expect(o).toBeInstanceOf(PyObject);
    expect(o.state).toBe(1);
  });
});

describe('hostile pickles', () => {
  test('GLOBAL os system + REDUCE: refused, nothing runs', () => {
    const marker = join(tmp, 'pwned');
    const b = pw().global('os', 'system').str(`touch ${marker}`).tuple1().reduce().stop().bytes();
    const e = errorOf(() => run(b));
    expect(e.code).toBe('E_SECURITY');
    expect(e.file).toBe(FILE);
    expect(e.message).toContain('os.system');
    expect(existsSync(marker)).toBe(false);
  });

  test.each([
    ['builtins', 'eval'],
    ['__builtin__', 'eval'],
    ['subprocess', 'Popen'],
    ['posix', 'system'],
    ['torch', 'load'],
    ['torch._utils', '_rebuild_from_type_v2'],
  ])('%s.%s is refused', (m, n) => {
    const b = pw().global(m, n).str('1+1').tuple1().reduce().stop().bytes();
    const e = errorOf(() => run(b));
    expect(e.code).toBe('E_SECURITY');
    expect(e.message).toContain(`${m}.${n}`);
  });

  test('STACK_GLOBAL is held to the same allowlist', () => {
    const b = pw().str('subprocess').str('Popen').stackGlobal().str('ls').tuple1().reduce().stop().bytes();
    expect(errorOf(() => run(b)).code).toBe('E_SECURITY');
  });

  test('a REDUCE nested deep in Namespace args is refused', () => {
    const b = pw()
      .global('argparse', 'Namespace').emptyTuple().newobj()
      .emptyDict().str('save').emptyList().global('builtins', 'eval').str('x').tuple1().reduce().append().setitem().build()
      .stop()
      .bytes();
    const e = errorOf(() => run(b));
    expect(e.code).toBe('E_SECURITY');
    expect(e.message).toContain('builtins.eval');
  });

  test('REDUCE on a non-callable value is a format error', () => {
    const b = pw().global('torch', 'float32').emptyTuple().reduce().stop().bytes();
    expect(errorOf(() => run(b)).code).toBe('E_FORMAT');
    const b2 = pw().str('os.system').emptyTuple().reduce().stop().bytes();
    expect(errorOf(() => run(b2)).code).toBe('E_FORMAT');
  });

  test('truncated, underflow, bad memo, unknown and unsupported opcodes', () => {
    const full = pw().str('hello').stop().bytes();
    for (let n = 1; n < full.length; n++) expect(errorOf(() => run(full.subarray(0, n))).code).toBe('E_FORMAT');
    expect(errorOf(() => run(pw().raw(0x58, 0xff, 0xff, 0xff, 0x7f).stop().bytes())).message).toContain('truncated');
    expect(errorOf(() => run(pw().tuple2().stop().bytes())).code).toBe('E_FORMAT');
    expect(errorOf(() => run(pw().get(3).stop().bytes())).code).toBe('E_FORMAT');
    expect(errorOf(() => run(pw().raw(0xff).stop().bytes())).code).toBe('E_FORMAT');
    expect(errorOf(() => run(pw().raw(0x69).stop().bytes())).code).toBe('E_UNSUPPORTED');
    expect(errorOf(() => run(pw().int(1).int(2).stop().bytes())).code).toBe('E_FORMAT');
    expect(errorOf(() => run(new Uint8Array([0x80, 9, 0x4e, 0x2e]))).code).toBe('E_UNSUPPORTED');
  });

  test('SETITEM on a list, APPEND on a tuple, BINPERSID without a loader', () => {
    expect(errorOf(() => run(pw().emptyList().int(1).int(2).setitem().stop().bytes())).code).toBe('E_FORMAT');
    expect(errorOf(() => run(pw().emptyTuple().int(1).append().stop().bytes())).code).toBe('E_FORMAT');
    expect(errorOf(() => run(pw().int(1).binpersid().stop().bytes())).code).toBe('E_FORMAT');
  });

  test('bad tensor arguments are refused', () => {
    const b = pw()
      .global('torch._utils', '_rebuild_tensor_v2')
      .mark().none().int(0).mark().str('x').tuple().mark().int(1).tuple().bool(false).none().tuple()
      .reduce().stop().bytes();
    expect(errorOf(() => run(b)).code).toBe('E_FORMAT');
  });
});
