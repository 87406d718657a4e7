// `mcore-export hf` as a user runs it: a real child process (test/support/cli.ts).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadNative } from '../../lib/native.js';
import { cliAsync } from '../support/cli.js';
import { FIXTURES } from './support/tp1-fixture.js';

/** Writing needs the native executor; without it only planning (dry runs, errors) can be checked. */
const nativeMissing = (() => {
  try {
    loadNative();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
})();
if (nativeMissing) console.warn(`hf CLI tests that write files are skipped: ${nativeMissing}`);
async function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await cliAsync(['hf', ...args]);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const src = (model: string, layout: string) => join(FIXTURES, 'megatron', model, layout);
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'hf-cli-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('mcore-export hf (child process)', () => {
  test.skipIf(nativeMissing)('--json prints only the result on stdout; the directory is complete', async () => {
    const out = join(tmp, 'llama');
    const r = await cli(src('llama', 'torch_dist/tp2pp1'), '--out', out, '--dtype', 'float32', '--max-shard-size', '40KB', '--json');
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({ architecture: 'LlamaForCausalLM', modelType: 'llama', dtype: 'float32', tensors: 39, dryRun: false });
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
    expect(res.bytes).toBe(index.metadata.total_size);
    for (const f of res.files) expect(existsSync(f.path)).toBe(true);
    expect(new Set(Object.values(index.weight_map)).size).toBeGreaterThan(1);
  });

  test.skipIf(nativeMissing)('every training layout of the same weights exports to byte-identical shards', async () => {
    const layouts = ['torch/tp1pp1', 'torch/tp2pp1', 'torch/tp1pp2', 'torch_dist/tp2pp1', 'torch_dist/tp1pp2'];
    const dirs = layouts.map((l) => join(tmp, `gptnext-${l.replace('/', '-')}`));
    for (let i = 0; i < layouts.length; i++) {
      const r = await cli(src('gptnext', layouts[i]!), '--out', dirs[i]!, '--max-shard-size', '50KB');
      expect(r.code, r.stderr).toBe(0);
    }
    const files = readdirSync(dirs[0]!).sort();
    expect(files.filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(1);
    for (const d of dirs.slice(1)) {
      expect(readdirSync(d).sort()).toEqual(files);
      for (const f of files) expect(readFileSync(join(d, f)).equals(readFileSync(join(dirs[0]!, f))), `${d}/${f}`).toBe(true);
    }
  });

  test('--dry-run writes nothing and says what would be written', async () => {
    const out = join(tmp, 'dry');
    const r = await cli(src('mixtral', 'torch/ep2'), '--out', out, '--dry-run', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ architecture: 'MixtralForCausalLM', dryRun: true });
    expect(existsSync(out)).toBe(false);
  });

  test('usage errors exit 2, conversion errors exit 1, both with the code on stderr and nothing written', async () => {
    const out = join(tmp, 'never');
    expect(await cli(src('gpt2', 'torch/tp1pp1'))).toMatchObject({ code: 2, stderr: expect.stringContaining('E_USAGE') });
    expect(await cli(src('gpt2', 'torch/tp1pp1'), '--out', out, '--model-type', 'bert')).toMatchObject({ code: 2 });
    expect(await cli(src('gpt2', 'torch/tp1pp1'), '--out', out, '--max-shard-size', 'lots')).toMatchObject({ code: 2 });
    expect(await cli(src('gpt2', 'torch/tp1pp1'), '--out', out, '--model-type', 'gemma')).toMatchObject({ code: 1, stderr: expect.stringContaining('E_UNSUPPORTED') });
    expect(await cli(join(tmp, 'no-such-checkpoint'), '--out', out)).toMatchObject({ code: 1, stderr: expect.stringContaining('E_NOT_FOUND') });
    expect(existsSync(out)).toBe(false);
    const busy = join(tmp, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'x'), '');
    expect(await cli(src('gpt2', 'torch/tp1pp1'), '--out', busy)).toMatchObject({ code: 2, stderr: expect.stringContaining('not empty') });
  });

  test('--help', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--max-shard-size');
    expect(r.stdout).toContain('gptnext → NemotronForCausalLM');
  });
});
