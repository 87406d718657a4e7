// The CLI's answers to what people type: --version, --json failures as JSON, inputs that are not Megatron-Core
// checkpoints named for what they are, verify saying what a directory is, --config for safetensors inputs, and
// demo cleaning up after itself. Real child processes (test/support/cli.ts) on real fixture files.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { executePlan, openCheckpoint } from '../../lib/index.js';
import { planTensor } from '../../lib/plan/from-tensor.js';
import { cli, ROOT } from '../support/cli.js';
import { sha256File } from '../support/files.js';
import { fixture } from '../support/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-cli-inputs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const LEGACY = fixture('megatron', 'llama', 'torch', 'tp1pp1');
const TRTLLM_DIR = fixture('reference', 'llama', 'tp1_pp1_bfloat16');
const DIST_DIR = fixture('megatron', 'llama', 'torch_dist', 'tp1pp1', 'iter_0000010');

let hfDir: string;
beforeAll(() => {
  hfDir = join(tmp, 'hf');
  expect(cli(['hf', LEGACY, '--out', hfDir]).status).toBe(0);
});

describe('--version and --json failures', () => {
  test('--version prints the package version', () => {
    const r = cli(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`mcore-export ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  });

  test('a failing command with --json prints one JSON error object on stdout (and the message on stderr)', () => {
    const r = cli(['trtllm', join(tmp, 'nothing-here'), '--out', join(tmp, 'o'), '--json']);
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as { error: { code: string; message: string; file?: string } };
    expect(j.error.code).toBe('E_NOT_FOUND');
    expect(j.error.file).toBe(join(tmp, 'nothing-here'));
    expect(r.stderr).toContain('E_NOT_FOUND');
    const usage = cli(['trtllm', LEGACY, '--json']);
    expect(usage.status).toBe(2);
    expect((JSON.parse(usage.stdout) as { error: { code: string } }).error.code).toBe('E_USAGE');
  });
});

describe('inputs that are not Megatron-Core checkpoints', () => {
  test.each([
    ['a Hugging Face directory', () => hfDir, 1, /E_UNSUPPORTED: this is a Hugging Face checkpoint \(LlamaForCausalLM\), not a Megatron-Core checkpoint/],
    ['a TensorRT-LLM checkpoint directory', () => TRTLLM_DIR, 1, /E_UNSUPPORTED: this is a TensorRT-LLM checkpoint \(LlamaForCausalLM\).*mcore-export verify/],
    ['one .distcp file', () => join(DIST_DIR, '__0_0.distcp'), 2, /E_USAGE: this is one file of a torch_dist .*pass its directory instead: .*iter_0000010/],
    ['the .metadata file', () => join(DIST_DIR, '.metadata'), 2, /E_USAGE: this is one file of a torch_dist/],
  ])('%s: inspect, trtllm and hf say what it is', (_, path, status, message) => {
    for (const args of [['inspect', path()], ['trtllm', path(), '--out', join(tmp, 'x')], ['hf', path(), '--out', join(tmp, 'x')]]) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(status);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    expect(readdirSync(tmp)).not.toContain('x');
  });

  test('verify names what a directory is when it is not a TensorRT-LLM checkpoint, in one problem', () => {
    for (const [dir, what] of [[hfDir, 'a Hugging Face checkpoint (LlamaForCausalLM)'], [LEGACY, 'a Megatron-Core checkpoint'], [DIST_DIR, 'a Megatron-Core checkpoint']] as const) {
      const r = cli(['verify', dir, '--json']);
      expect(r.status).toBe(1);
      const j = JSON.parse(r.stdout) as { ok: boolean; problems: { code: string; message: string }[] };
      expect(j.problems).toHaveLength(1);
      expect(j.problems[0]!.message).toContain(`not a TensorRT-LLM checkpoint: this is ${what}`);
    }
    const ok = cli(['verify', TRTLLM_DIR]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('a TensorRT-LLM checkpoint (LlamaForCausalLM)');
  });
});

describe('--config: safetensors inputs', () => {
  let stDir: string;
  beforeAll(async () => {
    // the legacy checkpoint's tensors, under their Megatron names, as one safetensors file
    const ckpt = openCheckpoint(LEGACY);
    stDir = join(tmp, 'st');
    mkdirSync(stDir);
    await executePlan({ files: [{ path: join(stDir, 'model.safetensors'), tensors: [...ckpt.tensors].map(([n, t]) => planTensor(n, t, t.dtype)) }] });
    const jsonable = Object.fromEntries(Object.entries(ckpt.args!).filter(([, v]) => v === null || ['number', 'string', 'boolean'].includes(typeof v) || Array.isArray(v)));
    writeFileSync(join(tmp, 'args.json'), JSON.stringify(jsonable));
    const inspected = JSON.parse(cli(['inspect', LEGACY, '--json']).stdout) as { config: unknown };
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(inspected.config));
  });

  test('without --config: E_CONFIG that says to pass one', () => {
    const r = cli(['trtllm', stDir, '--out', join(tmp, 'none')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/E_CONFIG: .*safetensors/);
  });

  test.each(['args.json', 'config.json'])('--config %s: the export equals the one from the original checkpoint', (file) => {
    const ref = join(tmp, `ref-${file}`);
    const out = join(tmp, `out-${file}`);
    expect(cli(['trtllm', LEGACY, '--out', ref, '--tp', '2']).status).toBe(0);
    const r = cli(['trtllm', stDir, '--config', join(tmp, file), '--out', out, '--tp', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(readdirSync(ref).sort());
    for (const f of readdirSync(ref)) expect(sha256File(join(out, f)), f).toBe(sha256File(join(ref, f)));
    expect(cli(['inspect', stDir, '--config', join(tmp, file), '--json']).status).toBe(0);
  });

  test('refused: YAML, a file that is neither kind, a TransformerConfig missing fields, --config on a checkpoint with args', () => {
    writeFileSync(join(tmp, 'c.yaml'), 'num_layers: 4\n');
    writeFileSync(join(tmp, 'neither.json'), '{"layers": 4}');
    writeFileSync(join(tmp, 'partial.json'), '{"numLayers": 4, "hiddenSize": 64}');
    for (const [file, code] of [['c.yaml', 'E_UNSUPPORTED'], ['neither.json', 'E_CONFIG'], ['partial.json', 'E_CONFIG']]) {
      const r = cli(['trtllm', stDir, '--config', join(tmp, file!), '--out', join(tmp, 'bad')]);
      expect(r.status, file).toBe(1);
      expect(r.stderr, file).toContain(`${code}:`);
    }
    const r = cli(['trtllm', LEGACY, '--config', join(tmp, 'args.json'), '--out', join(tmp, 'bad')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--config is for safetensors inputs/);
    expect(readdirSync(tmp)).not.toContain('bad');
  });
});

test('demo without --out removes its temporary directory; with --out it keeps the export', () => {
  const r = cli(['demo', '--json'], { env: { TMPDIR: tmp } });
  expect(r.status, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout) as { outDir: string; kept: boolean };
  expect(j.kept).toBe(false);
  expect(readdirSync(tmp).filter((n) => n.startsWith('mcore-export-demo-'))).toEqual([]);
  const out = join(tmp, 'demo-kept');
  expect(cli(['demo', '--out', out]).status).toBe(0);
  expect(readdirSync(out).sort()).toEqual(['config.json', 'rank0.safetensors', 'rank1.safetensors']);
});
