// Test-only: a TP1 PP1 legacy fixture read straight from its model_optim_rng.pt (torch-save reader + args →
// config), so the HF rules are tested on real Megatron tensors without depending on openCheckpoint.
import { join } from 'node:path';
import { readTorchSave, isView } from '../../../lib/formats/torch-save.js';
import { configFromArgs, type Args } from '../../../lib/megatron/config.js';
import { guessModelType } from '../../../lib/megatron/model-type.js';
import type { Checkpoint, ModelType, TransformerConfig } from '../../../lib/megatron/types.js';
import { fromView, type Tensor } from '../../../lib/tensor/tensor.js';
import { FIXTURES } from '../../support/fixtures.js';

export { FIXTURES };
export const FIXTURE_MODELS = ['gpt2', 'gptnext', 'llama', 'mixtral'] as const;
export type FixtureModel = (typeof FIXTURE_MODELS)[number];

export interface Tp1Fixture {
  path: string;
  args: Args;
  config: TransformerConfig;
  modelType: ModelType;
  tensors: Map<string, Tensor>;
}

export function tp1Fixture(model: FixtureModel): Tp1Fixture {
  const path = join(FIXTURES, 'megatron', model, 'torch/tp1pp1/iter_0000010/mp_rank_00/model_optim_rng.pt');
  const top = readTorchSave(path).value as Map<string, unknown>;
  const args = top.get('args') as Args;
  const config = configFromArgs(args, path);
  const tensors = new Map<string, Tensor>();
  for (const [k, v] of top.get('model') as Map<string, unknown>) if (isView(v)) tensors.set(k, fromView(v));
  return { path, args, config, modelType: guessModelType(config, args), tensors };
}

/** The fixture as a Checkpoint (what openCheckpoint returns), for exportHf. */
export function tp1Checkpoint(model: FixtureModel): Checkpoint {
  const f = tp1Fixture(model);
  return {
    path: f.path,
    format: 'torch',
    iteration: 10,
    args: f.args,
    config: f.config,
    modelType: f.modelType,
    layout: { tp: 1, pp: 1, ep: 1, vp: 1, files: [f.path] },
    tensors: f.tensors,
    close() {},
  };
}
