// `mcore-export verify DIR`: is this a TensorRT-LLM checkpoint TensorRT-LLM will load as intended?
import { fail } from '../../errors.js';
import { recognizeInput } from '../../megatron/recognize.js';
import { type VerifyResult, verifyTrtllmDir } from '../../trtllm/verify.js';
import type { Command } from '../command.js';

export const verify: Command = {
  name: 'verify',
  summary: 'check a TensorRT-LLM checkpoint directory: config, rank files, tensor names, shapes and dtypes',
  help: `Usage: mcore-export verify DIR [--json]

Checks config.json, that every rank file exists, that every tensor the architecture needs is present with
its per-rank shape and dtype, and that no tensor TensorRT-LLM would silently ignore is there.
A directory that is something else (a Megatron-Core or Hugging Face checkpoint, an engine directory) gets one
problem saying what it is. Exit 0 when the directory passes, 1 with one coded reason per problem otherwise.`,
  async run(argv) {
    let dir: string | undefined;
    let json = false;
    for (const a of argv) {
      if (a === '--json') json = true;
      else if (a.startsWith('-')) fail('E_USAGE', `unknown option '${a}'`);
      else if (dir === undefined) dir = a;
      else fail('E_USAGE', `unexpected argument '${a}'`);
    }
    if (dir === undefined) fail('E_USAGE', 'missing checkpoint directory');
    const seen = recognizeInput(dir);
    const r: VerifyResult =
      seen && seen.kind !== 'trtllm-checkpoint'
        ? { ok: false, dir, ranks: 0, tensors: 0, problems: [{ code: 'E_FORMAT', message: `not a TensorRT-LLM checkpoint: this is ${seen.what}${seen.kind === 'megatron' ? ` (${seen.hint})` : ''}`, file: dir }] }
        : verifyTrtllmDir(dir);
    if (json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else if (r.ok) process.stdout.write(`OK ${dir}: ${seen?.what ?? 'a TensorRT-LLM checkpoint'}, ${r.ranks} rank file(s), ${r.tensors} tensors\n`);
    else {
      for (const p of r.problems) process.stderr.write(`${p.code}: ${p.message}${p.tensor ? ` (tensor ${p.tensor})` : ''}${p.file ? ` (file ${p.file})` : ''}\n`);
      process.stderr.write(`FAILED ${dir}: ${r.problems.length} problem(s)\n`);
    }
    return r.ok ? 0 : 1;
  },
};
