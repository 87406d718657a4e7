// The allowlist for pickles written by torch.save (Megatron's model_optim_rng.pt, common.pt, DCP items).
// Each handler turns a Python construction into a plain JS value; nothing is imported or executed.
import { fail } from '../errors.js';
import type { GlobalHandler, GlobalTable, PickleContext } from './pickle.js';
import { isTuple, PyObject } from './pickle.js';

/** A torch dtype object (`torch.bfloat16`), named as torch names it (may be outside our DType set). */
export class TorchDType {
  constructor(readonly name: string) {}
}

/** A legacy typed storage class (`torch.BFloat16Storage`); `UntypedStorage` has dtype 'uint8'. */
export class TorchStorageType {
  constructor(
    readonly className: string,
    readonly dtype: string,
  ) {}
}

/** What `_rebuild_tensor_v2/v3` describes: a strided window on a storage (whatever persistentLoad returned). */
export interface TorchTensorDescriptor {
  readonly storage: unknown;
  /** in elements of `dtype` */
  readonly storageOffset: number;
  readonly size: readonly number[];
  readonly stride: readonly number[];
  /** the tensor's dtype (v3: explicit; v2: null — the storage class decides) */
  readonly dtype: string | null;
}

/** A Python enum member (`AttnBackend.auto` pickled as `AttnBackend(5)`, `signal.Signals(15)`). */
export class PyEnum {
  constructor(
    readonly className: string,
    readonly value: unknown,
  ) {}
}

/** `io.BytesIO` (TE 1.x `_extra_state`): its buffer. */
export class PyBytesIO {
  constructor(public bytes: Uint8Array) {}
}

export interface TorchGlobalsOptions {
  /** builds the value that stands for a tensor (default: the descriptor itself) */
  readonly tensor?: (d: TorchTensorDescriptor, ctx: PickleContext) => unknown;
}

/** torch storage classes → element dtype (torch names). */
export const STORAGE_DTYPES: Readonly<Record<string, string>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  ComplexFloatStorage: 'complex64',
  ComplexDoubleStorage: 'complex128',
  QInt8Storage: 'qint8',
  QUInt8Storage: 'quint8',
  QInt32Storage: 'qint32',
};

const TORCH_DTYPE_NAMES = [
  'float32', 'float', 'float64', 'double', 'float16', 'half', 'bfloat16', 'float8_e4m3fn', 'float8_e5m2',
  'float8_e4m3fnuz', 'float8_e5m2fnuz', 'float8_e8m0fnu', 'float4_e2m1fn_x2', 'int8', 'uint8', 'int16', 'short',
  'int32', 'int', 'int64', 'long', 'uint16', 'uint32', 'uint64', 'bool', 'complex64', 'complex128',
];
const DTYPE_ALIAS: Record<string, string> = { float: 'float32', double: 'float64', half: 'float16', short: 'int16', int: 'int32', long: 'int64' };

function where(ctx: PickleContext) {
  return { file: ctx.file };
}

function intArray(v: unknown, what: string, ctx: PickleContext): number[] {
  if (!Array.isArray(v)) fail('E_FORMAT', `${what} is not a tuple`, where(ctx));
  return v.map((x) => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x)) fail('E_FORMAT', `${what} holds ${String(x)}, not an integer`, where(ctx));
    return x;
  });
}

function rebuildTensor(args: readonly unknown[], dtype: unknown, ctx: PickleContext, opts: TorchGlobalsOptions): unknown {
  const [storage, storageOffset, size, stride] = args;
  if (typeof storageOffset !== 'number' || !Number.isSafeInteger(storageOffset) || storageOffset < 0) {
    fail('E_FORMAT', `tensor storage offset ${String(storageOffset)} is not a non-negative integer`, where(ctx));
  }
  const sz = intArray(size, 'tensor size', ctx);
  const st = intArray(stride, 'tensor stride', ctx);
  if (sz.length !== st.length) fail('E_FORMAT', `tensor size [${sz}] and stride [${st}] differ in rank`, where(ctx));
  if (dtype !== null && !(dtype instanceof TorchDType)) fail('E_FORMAT', 'tensor dtype argument is not a torch dtype', where(ctx));
  const d: TorchTensorDescriptor = { storage, storageOffset, size: sz, stride: st, dtype: dtype ? dtype.name : null };
  return opts.tensor ? opts.tensor(d, ctx) : d;
}

/** `_codecs.encode(text, 'latin1')`: how protocol 2 pickles Python bytes. */
function codecsEncode(args: readonly unknown[], ctx: PickleContext): Uint8Array {
  const [text, encoding] = args;
  if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
    fail('E_FORMAT', `_codecs.encode with ${typeof text} and encoding ${String(encoding)}: only latin1 text is expected`, where(ctx));
  }
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) fail('E_FORMAT', '_codecs.encode latin1 text holds a code point above 255', where(ctx));
    out[i] = c;
  }
  return out;
}

function bytesOf(args: readonly unknown[], ctx: PickleContext): Uint8Array {
  if (args.length === 0) return new Uint8Array(0);
  const [src] = args;
  if (src instanceof Uint8Array) return src.slice();
  if (Array.isArray(src)) return Uint8Array.from(intArray(src, 'bytes()', ctx));
  if (typeof src === 'number' && Number.isSafeInteger(src) && src >= 0 && src <= 1 << 20) return new Uint8Array(src);
  return fail('E_FORMAT', 'bytes() with an argument other than a byte list', where(ctx));
}

/** A Python object whose state dict becomes a null-prototype record (argparse.Namespace, SimpleNamespace). */
function namespace(): GlobalHandler {
  return {
    call: (args, ctx) => {
      const ns: Record<string, unknown> = Object.create(null);
      // SimpleNamespace(**kw) via NEWOBJ_EX passes a Map of keywords
      for (const a of args) if (a instanceof Map) assignState(ns, a, ctx);
      return ns;
    },
    build: (obj, state, ctx) => {
      assignState(obj as Record<string, unknown>, isTuple(state) ? state[0] : state, ctx);
      return obj;
    },
  };
}

function assignState(target: Record<string, unknown>, state: unknown, ctx: PickleContext): void {
  if (state === null || state === undefined) return;
  if (!(state instanceof Map)) fail('E_FORMAT', 'namespace state is not a dict', where(ctx));
  for (const [k, v] of state) {
    if (typeof k !== 'string') fail('E_FORMAT', 'namespace attribute name is not a string', where(ctx));
    target[k] = v;
  }
}

/** A dict-like (OrderedDict, defaultdict): a Map, filled from `[(k, v), ...]` if given. */
function dictLike(): GlobalHandler {
  return {
    call: (args, ctx) => {
      const m = new Map<unknown, unknown>();
      const items = args.find((a) => Array.isArray(a));
      if (items !== undefined) {
        for (const pair of items as unknown[]) {
          if (!Array.isArray(pair) || pair.length !== 2) fail('E_FORMAT', 'OrderedDict items are not pairs', where(ctx));
          m.set(pair[0], pair[1]);
        }
      }
      return m;
    },
    build: (obj) => obj,
  };
}

function enumHandler(className: string): GlobalHandler {
  return { call: (args) => new PyEnum(className, args[0]) };
}

/** A class kept as an opaque PyObject (args + BUILD state), for data nobody interprets. */
export function opaque(className: string): GlobalHandler {
  return { call: (args) => new PyObject(className, args) };
}

/** A marker value for a global used only as a value (never called): e.g. `defaultdict(list)`'s `list`. */
function valueOnly(value: unknown): GlobalHandler {
  return { value };
}

/** Allowlist for torch.save pickles. Extend with `withGlobals` for other producers (DCP metadata). */
export function torchGlobals(opts: TorchGlobalsOptions = {}): GlobalTable {
  const t = new Map<string, GlobalHandler>();
  const rebuildV2: GlobalHandler = { call: (a, ctx) => rebuildTensor(a, null, ctx, opts) };
  t.set('torch._utils._rebuild_tensor_v2', rebuildV2);
  t.set('torch._utils._rebuild_tensor_v3', { call: (a, ctx) => rebuildTensor(a, a[6] ?? null, ctx, opts) });
  // A Parameter is its tensor: (tensor, requires_grad, hooks[, state])
  t.set('torch._utils._rebuild_parameter', { call: (a) => a[0] });
  t.set('torch._utils._rebuild_parameter_with_state', { call: (a) => a[0] });
  for (const [cls, dtype] of Object.entries(STORAGE_DTYPES)) t.set(`torch.${cls}`, valueOnly(new TorchStorageType(cls, dtype)));
  t.set('torch.storage.UntypedStorage', valueOnly(new TorchStorageType('UntypedStorage', 'uint8')));
  t.set('torch.UntypedStorage', valueOnly(new TorchStorageType('UntypedStorage', 'uint8')));
  for (const n of TORCH_DTYPE_NAMES) t.set(`torch.${n}`, valueOnly(new TorchDType(DTYPE_ALIAS[n] ?? n)));
  t.set('torch.Size', { call: (a, ctx) => Object.freeze(intArray(a[0] ?? [], 'torch.Size', ctx)) });
  t.set('torch.device', { call: (a) => a.map(String).join(':') });
  t.set('torch.serialization._get_layout', { call: (a) => String(a[0]) });
  t.set('torch._C.Generator', opaque('torch._C.Generator'));

  t.set('collections.OrderedDict', dictLike());
  t.set('collections.defaultdict', dictLike());
  t.set('argparse.Namespace', namespace());
  t.set('types.SimpleNamespace', namespace());

  t.set('_codecs.encode', { call: codecsEncode });
  for (const m of ['builtins', '__builtin__']) {
    t.set(`${m}.bytes`, { call: bytesOf });
    t.set(`${m}.bytearray`, { call: bytesOf });
    t.set(`${m}.set`, { call: (a) => new Set(Array.isArray(a[0]) ? a[0] : []) });
    t.set(`${m}.frozenset`, { call: (a) => new Set(Array.isArray(a[0]) ? a[0] : []) });
    for (const n of ['list', 'dict', 'int', 'float', 'str', 'tuple', 'object']) t.set(`${m}.${n}`, valueOnly(`${m}.${n}`));
  }
  const bytesIO: GlobalHandler = {
    call: (a) => new PyBytesIO(a[0] instanceof Uint8Array ? a[0] : new Uint8Array(0)),
    build: (obj, state) => {
      // BytesIO.__setstate__ takes (buffer, position, dict)
      if (isTuple(state) && state[0] instanceof Uint8Array) (obj as PyBytesIO).bytes = state[0];
      return obj;
    },
  };
  t.set('_io.BytesIO', bytesIO);
  t.set('io.BytesIO', bytesIO);
  t.set('pathlib.PosixPath', { call: (a) => a.map(String).join('/') });
  t.set('pathlib.WindowsPath', { call: (a) => a.map(String).join('\\') });
  t.set('pathlib.Path', { call: (a) => a.map(String).join('/') });

  // Enums in Megatron args; and the signal an exit handler listens for.
  t.set('signal.Signals', enumHandler('signal.Signals'));
  t.set('enum.Enum', enumHandler('enum.Enum'));
  for (const m of ['megatron.core.transformer.enums', 'megatron.core.enums', 'megatron.core.models.common.embeddings.rope_utils', 'megatron.core.fusions.fused_bias_dropout']) {
    t.set(`${m}.*`, { call: (a, ctx) => new PyEnum(ctx.global ?? m, a[0]) });
  }
  t.set('megatron.core.optimizer.OptimizerConfig', opaque('megatron.core.optimizer.OptimizerConfig'));
  t.set('megatron.core.rerun_state_machine.RerunDiagnostic', enumHandler('megatron.core.rerun_state_machine.RerunDiagnostic'));
  t.set('megatron.core.rerun_state_machine.RerunMode', enumHandler('megatron.core.rerun_state_machine.RerunMode'));
  t.set('megatron.core.rerun_state_machine.RerunState', enumHandler('megatron.core.rerun_state_machine.RerunState'));

  // numpy arrays (np_rng_state) stay opaque
  for (const m of ['numpy._core.multiarray', 'numpy.core.multiarray']) {
    t.set(`${m}._reconstruct`, opaque(`${m}._reconstruct`));
    t.set(`${m}.scalar`, opaque(`${m}.scalar`));
  }
  t.set('numpy.ndarray', valueOnly('numpy.ndarray'));
  t.set('numpy.dtype', opaque('numpy.dtype'));
  return t;
}

/** A table with extra entries (later entries win). */
export function withGlobals(base: GlobalTable, extra: Iterable<readonly [string, GlobalHandler]>): GlobalTable {
  const t = new Map(base);
  for (const [k, v] of extra) t.set(k, v);
  return t;
}
