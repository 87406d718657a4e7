// Legacy `--ckpt-format torch`: iter_XXXXXXX/mp_rank_TT[_PPP]/model_optim_rng.pt, one torch.save per
// (TP rank, PP stage), holding {args, checkpoint_version, iteration, model, rng_state,
// num_floating_point_operations_so_far} with the stage's local-spec state dict.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { argsFields } from './args.js';
import { shardShape, stageEntries, tpPieces, type Parallel } from './model.js';
import { py, type PyValue } from './pickle.js';
import { rngState } from './rng-state.js';
import { FileSink } from './sink.js';
import { generated, type GenContext } from './tensors.js';
import { tensorValue } from './torch-save.js';
import { torchSave } from './torch-save.js';
import type { FileRecord, WriteOptions } from './generate.js';

/** `state_dict()._metadata`: every module prefix of the keys → {'version': 1}. */
function moduleMetadata(keys: readonly string[]): PyValue {
  const mods = new Map<string, PyValue>([['', { version: 1 }]]);
  for (const k of keys) {
    const parts = k.split('.');
    for (let i = 1; i < parts.length; i++) {
      const m = parts.slice(0, i).join('.');
      if (!mods.has(m)) mods.set(m, { version: 1 });
    }
  }
  return { _metadata: py.odict(mods) };
}

export function rankDirName(par: Parallel, tpRank: number, stage: number): string {
  const tt = String(tpRank).padStart(2, '0');
  return par.pp > 1 ? `mp_rank_${tt}_${String(stage).padStart(3, '0')}` : `mp_rank_${tt}`;
}

export function writeLegacy(ctx: GenContext, opt: WriteOptions, iterDir: string): FileRecord[] {
  const { par } = opt;
  const files: FileRecord[] = [];
  for (let stage = 0; stage < par.pp; stage++) {
    const entries = stageEntries(ctx.spec, par, stage);
    for (let r = 0; r < par.tp; r++) {
      const rank = r + par.tp * stage;
      const dirName = rankDirName(par, r, stage);
      mkdirSync(join(iterDir, dirName), { recursive: true });
      const rel = `${dirName}/model_optim_rng.pt`;
      const record: FileRecord = { path: rel, bytes: 0, tensors: [] };
      const location = opt.location === 'cpu' ? 'cpu' : `cuda:${rank % 8}`;
      const model = new Map<string, PyValue>();
      for (const e of entries) {
        if ('extraState' in e) {
          model.set(e.key, null);
          continue;
        }
        const pieces = tpPieces(e.tensor, par.tp, r);
        const shape = shardShape(e.tensor, par.tp, r);
        const rec = { key: e.key, global: e.tensor.name, dtype: e.tensor.dtype ?? ctx.spec.dtype, shape, sha256: '' };
        record.tensors.push(rec);
        const onDigest = opt.digests ? (sha: string) => void (rec.sha256 = sha) : undefined;
        model.set(
          e.key,
          tensorValue(
            generated(
              ctx,
              e.tensor,
              pieces.flatMap((p) => p.blocks),
              shape,
              location,
              onDigest,
            ),
          ),
        );
      }
      const root = new Map<PyValue, PyValue>([
        ['args', py.namespace(argsFields(ctx.spec, par, 'torch', opt.iteration, opt.root))],
        ['checkpoint_version', py.float(3.0)],
        ['iteration', opt.iteration],
        ['model', py.odict(model, moduleMetadata([...model.keys()]))],
        ['rng_state', rngState(rank, ctx.seed)],
        ['num_floating_point_operations_so_far', 0],
      ]);
      const sink = new FileSink(join(iterDir, rel));
      try {
        record.bytes = torchSave(sink, 'model_optim_rng', root, `${opt.root}:${rel}`);
      } finally {
        sink.close();
      }
      files.push(record);
    }
  }
  return files;
}
