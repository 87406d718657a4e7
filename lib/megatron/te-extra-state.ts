// Transformer Engine's FP8 `_extra_state`, decoded without Python. Two encodings occur in Megatron checkpoints
// (NVIDIA/TransformerEngine `transformer_engine/pytorch/module/base.py`, get_extra_state / set_extra_state):
//   TE 1.x: an `io.BytesIO` holding `torch.save(state)` (a zip archive), state = {scale_fwd, scale_inv_fwd,
//           amax_history_fwd, scale_bwd, scale_inv_bwd, amax_history_bwd, extra_fp8_variables[, global_fp8_*]};
//   TE 2.x: a uint8 tensor holding `pickle.dumps(state)`, state = {recipe, scale_fwd, amax_history_fwd, scale_bwd,
//           amax_history_bwd, extra_fp8_variables} (no scale_inv; an empty tensor when the module has no FP8 state).
// torch_dist stores either one as a byte item `torch.save([value])`. Forward slots are [input, weight, output].
// Every pickle runs in the allow-listing VM: recipe objects become inert records, nothing is executed.
import { closeSync, openSync, readSync } from 'node:fs';
import { fail } from '../errors.js';
import { type GlobalHandler, type PickleContext, PyObject, unpickle } from '../formats/pickle.js';
import { PyBytesIO, PyEnum, TorchStorageType, type TorchTensorDescriptor, torchGlobals, withGlobals } from '../formats/pickle-torch.js';
import { readLegacyStorage } from '../formats/torch-legacy-storage.js';
import { isView, readTorchSaveBytes } from '../formats/torch-save.js';
import { numel } from '../tensor/shape.js';
import { checkInBounds, isContiguous, type View } from '../tensor/view.js';

/** The FP8 forward scaling factors of one Transformer Engine module. */
export interface Fp8ScalingState {
  readonly encoding: 'te1' | 'te2';
  /** scale_fwd: multiplies a high-precision value into the FP8 range */
  readonly scaleFwd: Float32Array;
  /** scale_inv_fwd as stored (TE 1.x), or 1/scale_fwd computed in float32 (TE 2.x stores none) */
  readonly scaleInvFwd: Float32Array;
}

/** Recipes whose state carries per-tensor scale_fwd (TE's DelayedScaling and Megatron's subclass of it). */
const DELAYED_RECIPES = new Set(['transformer_engine.common.recipe.DelayedScaling', 'megatron.core.extensions.transformer_engine.TEDelayedScaling']);

/**
 * Decodes an `_extra_state` value as the checkpoint reader returns it (null, a `PyBytesIO`, a uint8 tensor view, raw
 * pickle bytes, or torch_dist's one-element list). null when the module holds no FP8 state.
 */
export function decodeTeExtraState(value: unknown, where: string): Fp8ScalingState | null {
  let v = value;
  if (Array.isArray(v) && v.length === 1) v = v[0];
  if (v === null || v === undefined) return null;
  if (v instanceof PyBytesIO) {
    if (v.bytes.byteLength === 0) return null;
    return fromState(readTorchSaveBytes(v.bytes, `${where} (TE 1.x extra state)`).value, 'te1', where);
  }
  let bytes: Uint8Array;
  if (v instanceof Uint8Array) bytes = v;
  else if (isView(v) && v.dtype === 'uint8') bytes = viewBytes(v, where);
  else return fail('E_FORMAT', 'Transformer Engine extra state is neither a BytesIO (TE 1.x) nor a uint8 tensor (TE 2.x)', { tensor: where });
  if (bytes.byteLength === 0) return null;
  return fromState(unpickle(bytes, { file: `${where} (TE 2.x extra state)`, globals: TE2_GLOBALS }), 'te2', where);
}

function fromState(state: unknown, encoding: 'te1' | 'te2', where: string): Fp8ScalingState | null {
  if (state === null) return null;
  if (!(state instanceof Map)) return fail('E_FORMAT', 'Transformer Engine extra state is not a dict', { tensor: where });
  const recipe = state.get('recipe');
  if (recipe !== undefined && !(recipe instanceof PyObject && DELAYED_RECIPES.has(recipe.className))) {
    const name = recipe instanceof PyObject ? recipe.className.split('.').pop() : typeof recipe;
    fail('E_UNSUPPORTED', `FP8 recipe ${name}: only delayed scaling stores the per-tensor scale_fwd a TensorRT-LLM FP8 export needs`, { tensor: where });
  }
  const scaleFwd = floats(state.get('scale_fwd'), 'scale_fwd', where);
  const inv = state.get('scale_inv_fwd');
  // TE 2.x keeps no scale_inv: its reciprocal in float32 (Math.fround of the double quotient is the correctly
  // rounded float32 1/x, as torch.reciprocal and TE's `1.0 / scale` compute it). Megatron itself reads
  // scale_inv_fwd and fails on TE 2.x state: this is an extension.
  const scaleInvFwd = inv === undefined ? scaleFwd.map((s) => Math.fround(1 / s)) : floats(inv, 'scale_inv_fwd', where);
  if (scaleFwd.length < 2 || scaleInvFwd.length !== scaleFwd.length) {
    fail('E_FORMAT', `FP8 scale_fwd has ${scaleFwd.length} and scale_inv_fwd ${scaleInvFwd.length} entries; a linear layer has [input, weight, output]`, { tensor: where });
  }
  return { encoding, scaleFwd, scaleInvFwd };
}

/** A small float32 tensor's values. */
function floats(v: unknown, key: string, where: string): Float32Array {
  if (!isView(v)) return fail('E_FORMAT', `FP8 state has no ${key} tensor`, { tensor: where });
  if (v.dtype !== 'float32') fail('E_FORMAT', `FP8 ${key} is ${v.dtype}, expected float32`, { tensor: where });
  const b = viewBytes(v, where);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Extra state is a few KiB (scales and an amax history per module); refuse absurd sizes before reading. */
const MAX_EXTRA_STATE_BYTES = 64 << 20;

/** The bytes of a small contiguous view (extra state and scale tensors). */
function viewBytes(v: View, where: string): Uint8Array {
  checkInBounds(v, { tensor: where });
  if (!isContiguous(v)) fail('E_UNSUPPORTED', 'a non-contiguous Transformer Engine extra-state tensor', { tensor: where });
  const item = v.dtype === 'uint8' ? 1 : 4;
  const start = v.offset * item;
  const len = numel(v.shape) * item;
  if (len > MAX_EXTRA_STATE_BYTES) fail('E_UNSUPPORTED', `Transformer Engine extra state of ${len} bytes (more than ${MAX_EXTRA_STATE_BYTES})`, { tensor: where });
  const s = v.storage;
  if (s.kind === 'memory') return s.bytes.subarray(start, start + len);
  if (s.kind === 'zeros') return new Uint8Array(len);
  const out = Buffer.alloc(len);
  const fd = openSync(s.path, 'r');
  try {
    let done = 0;
    while (done < len) {
      const n = readSync(fd, out, done, len - done, s.byteOffset + start + done);
      if (n <= 0) fail('E_FORMAT', `file ends while reading extra state at ${s.byteOffset + start}`, { file: s.path, tensor: where });
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** A tensor in a plain pickle: `_rebuild_tensor_v2(<storage from _load_from_bytes>, offset, size, stride, ...)`. */
function memoryTensor(d: TorchTensorDescriptor, ctx: PickleContext): View {
  const s = d.storage as { type?: unknown; bytes?: unknown } | null;
  if (!s || !(s.type instanceof TorchStorageType) || !(s.bytes instanceof Uint8Array)) fail('E_FORMAT', 'tensor rebuilt from something that is not a storage', { file: ctx.file });
  const dtype = d.dtype ?? (s.type as TorchStorageType).dtype;
  if (dtype !== 'float32' && dtype !== 'uint8') fail('E_UNSUPPORTED', `a ${dtype} tensor in Transformer Engine extra state`, { file: ctx.file });
  const v: View = { storage: { kind: 'memory', bytes: s.bytes as Uint8Array }, dtype, shape: d.size, strides: d.stride, offset: d.storageOffset };
  checkInBounds(v, { file: ctx.file });
  return v;
}

const loadFromBytes: GlobalHandler = {
  call: (args, ctx) => {
    if (!(args[0] instanceof Uint8Array)) fail('E_FORMAT', '_load_from_bytes without bytes', { file: ctx.file });
    return readLegacyStorage(args[0], ctx.file);
  },
};

/** Transformer Engine's recipe module: enums and the format tuple as values, recipe dataclasses as inert records. */
const teRecipe: GlobalHandler = {
  call: (args, ctx) => {
    const name = ctx.global ?? '';
    if (name.endsWith('.Format')) return new PyEnum(name, args[0]);
    if (name.endsWith('._FormatHelper')) return Object.freeze([...args]);
    return new PyObject(name, args);
  },
};

/** The allowlist of a TE 2.x state pickle: torch.save's, plus storages from bytes and TE's recipe classes. */
const TE2_GLOBALS = withGlobals(torchGlobals({ tensor: memoryTensor }), [
  ['torch.storage._load_from_bytes', loadFromBytes],
  // Megatron registers its weights_only-safe twin of _load_from_bytes for storages pickled in its processes
  ['megatron.core.safe_globals.safe_load_from_bytes', loadFromBytes],
  ['transformer_engine.common.recipe.*', teRecipe],
  ['megatron.core.extensions.transformer_engine.TEDelayedScaling', teRecipe],
]);
