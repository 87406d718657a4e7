// Transformer Engine naming in legacy checkpoints: copies of the TP2 fixtures with the local-spec norm keys
// renamed as TE stores them (`linear_qkv.layer_norm_weight`, `linear_fc1.layer_norm_weight`) and `_extra_state`
// values replaced by what TE writes (TE 1.x io.BytesIO, TE 2.x uint8 tensors). The names are kept, extra state
// is skipped, and the bytes still equal the TP1 fixture's.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { PyBytesIO } from '../../lib/formats/pickle-torch.js';
import { readTorchSave } from '../../lib/formats/torch-save.js';
import { openCheckpoint } from '../../lib/megatron/open.js';
import { namingScheme } from '../../lib/megatron/te-names.js';
import type { Tensor } from '../../lib/tensor/tensor.js';
import { materialize } from '../support/materialize.js';
import { PickleWriter } from '../support/pickle-writer.js';
import { renameStrings, replaceNoneAfterKeys, rewriteTorchZip } from '../support/torch-archive.js';
import { fixture } from '../support/fixtures.js';

const FIX = fixture('megatron');
const tmp = mkdtempSync(join(tmpdir(), 'legacy-te-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const digest = (t: Tensor) => createHash('sha256').update(materialize(t)).digest('hex');

/** local-spec name → TE-spec name (dense layers) */
function teName(n: string): string | undefined {
  const m = /^(decoder\.layers\.\d+\.)(input_layernorm|pre_mlp_layernorm)\.(weight|bias)$/.exec(n);
  if (!m) return undefined;
  return `${m[1]}${m[2] === 'input_layernorm' ? 'self_attention.linear_qkv' : 'mlp.linear_fc1'}.layer_norm_${m[3]}`;
}

const bytesIO = () => new PickleWriter().global('_io', 'BytesIO').emptyTuple().newobj().shortBytes([0x80, 2, 0x4e, 0x2e]).int(0).none().tuple3().build().bytes();
/** a uint8 tensor of 4 elements over the added record `data/te_extra` */
const uint8Tensor = () =>
  new PickleWriter()
    .global('torch._utils', '_rebuild_tensor_v2')
    .mark()
    .mark().str('storage').global('torch', 'ByteStorage').str('te_extra').str('cpu').int(4).tuple().binpersid()
    .int(0).int(4).tuple1().int(1).tuple1().bool(false)
    .global('collections', 'OrderedDict').emptyTuple().reduce()
    .tuple()
    .reduce()
    .bytes();

function teCopy(model: string): string {
  const root = join(tmp, model);
  const ranks = ['mp_rank_00', 'mp_rank_01'];
  for (const r of ranks) {
    mkdirSync(join(root, 'iter_0000010', r), { recursive: true });
    const pt = join(FIX, model, 'torch/tp2pp1/iter_0000010', r, 'model_optim_rng.pt');
    const editPickle = (pkl: Uint8Array): Uint8Array => {
      const renamed = renameStrings(pkl, teName);
      const withBytesIO = replaceNoneAfterKeys(renamed, /self_attention\.linear_(qkv|proj)\._extra_state$/, bytesIO);
      return replaceNoneAfterKeys(withBytesIO, /mlp\.linear_fc[12]\._extra_state$/, uint8Tensor);
    };
    const edits = { 'data.pkl': editPickle, 'data/te_extra': Uint8Array.from([1, 2, 3, 4]) };
    writeFileSync(join(root, 'iter_0000010', r, 'model_optim_rng.pt'), rewriteTorchZip(pt, edits));
  }
  writeFileSync(join(root, 'latest_checkpointed_iteration.txt'), '10');
  return root;
}

describe('TE-named legacy checkpoints', () => {
  test.each(['gpt2', 'llama'])('%s TP2 with TE names equals TP1 with local names', (model) => {
    const want = openCheckpoint(join(FIX, model, 'torch/tp1pp1'));
    const root = teCopy(model);
    // the copy really carries TE-style extra state
    const sd = (readTorchSave(join(root, 'iter_0000010/mp_rank_01/model_optim_rng.pt')).value as Map<string, unknown>).get('model') as Map<string, unknown>;
    expect(sd.get('decoder.layers.0.self_attention.linear_qkv._extra_state')).toBeInstanceOf(PyBytesIO);
    expect(sd.get('decoder.layers.0.mlp.linear_fc2._extra_state')).toMatchObject({ dtype: 'uint8', shape: [4] });
    const te = openCheckpoint(root);
    const names = [...te.tensors.keys()];
    expect(namingScheme(names)).toBe('te');
    expect(namingScheme(want.tensors.keys())).toBe('local');
    expect(names.some((n) => n.includes('_extra_state'))).toBe(false);
    const expected = [...want.tensors.keys()].map((n) => teName(n) ?? n);
    expect(names.sort()).toEqual(expected.sort());
    expect(names).toContain('decoder.layers.1.self_attention.linear_qkv.layer_norm_weight');
    for (const [name, t] of want.tensors) {
      const got = te.tensors.get(teName(name) ?? name)!;
      expect([name, got.dtype, got.shape, digest(got)]).toEqual([name, t.dtype, t.shape, digest(t)]);
    }
  });
});
