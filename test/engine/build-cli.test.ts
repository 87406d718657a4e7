// `mcore-export build` in a real process, with the STAND-IN trtllm-build (TensorRT-LLM cannot be installed
// here; see test/support/fake-trtllm-build). The checkpoint is a real Megatron-made TRT-LLM checkpoint.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli as runCli } from '../support/cli.js';
import { parseBuildFlags } from '../../lib/cli/build-flags.js';
import { BUILD_FLAGS } from '../../lib/engine/options.js';
import { fixture } from '../support/fixtures.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const STAND_IN = join(HERE, '../support/fake-trtllm-build/trtllm-build');
const CKPT = fixture('reference/llama/tp2_pp1_bfloat16');

let work: string;
beforeEach(() => { work = mkdtempSync(join(tmpdir(), 'build-cli-')); });
afterEach(() => rmSync(work, { recursive: true, force: true }));

const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: work, env, timeoutMs: 60_000 });

describe('build flags', () => {
  it('has a kebab-case flag for every option, and trtllm-build spelling for every passed-through one', () => {
    const help = cli(['build', '--help']).stdout;
    for (const f of BUILD_FLAGS) {
      // dryRun is --trtllm-dry-run: --dry-run is the export commands' own flag (write nothing)
      const kebab = f.key === 'dryRun' ? '--trtllm-dry-run' : '--' + f.key.replace(/[A-Z]/g, (m) => '-' + m.toLowerCase());
      expect(help).toContain(kebab);
      if (f.flag) expect(help).toContain(f.flag);
    }
  });

  it('parses our spelling', () => {
    const { options, rest } = parseBuildFlags(['--max-batch-size', '8', '--no-remove-input-padding', '--paged-context-fmha', '--strip-plan',
      '--gemm-plugin=bfloat16', '--lora-dir', 'a', '--lora-dir', 'b', '--lora-target-modules', 'attn_qkv,attn_dense', '--fp8-rowwise-gemm-plugin', 'auto',
      '--use-fused-mlp=false', 'ckpt', '--tp', '2']);
    expect(options).toEqual({ maxBatchSize: 8, removeInputPadding: false, pagedContextFmha: true, stripPlan: true, gemmPlugin: 'bfloat16',
      loraDir: ['a', 'b'], loraTargetModules: ['attn_qkv', 'attn_dense'], fp8RowwiseGemmPlugin: 'auto', useFusedMlp: false });
    expect(rest).toEqual(['ckpt', '--tp', '2']);
  });

  it("parses trtllm-build's own spelling", () => {
    const { options, rest } = parseBuildFlags(['--max_batch_size', '8', '--remove_input_padding', 'disable', '--strip_plan', '--lora_dir', 'a', 'b', '--workers', '2', '--x']);
    expect(options).toEqual({ maxBatchSize: 8, removeInputPadding: false, stripPlan: true, loraDir: ['a', 'b'], workers: 2 });
    expect(rest).toEqual(['--x']);
  });

  it('rejects malformed values with E_USAGE', () => {
    expect(() => parseBuildFlags(['--max-batch-size', 'eight'])).toThrow(/E_USAGE/);
    expect(() => parseBuildFlags(['--max-batch-size'])).toThrow(/E_USAGE/);
    expect(() => parseBuildFlags(['--remove_input_padding', 'maybe'])).toThrow(/E_USAGE/);
    expect(() => parseBuildFlags(['--workers', '1', '--workers', '2'])).toThrow(/given twice/);
  });
});

describe('mcore-export build (process)', () => {
  it('builds, echoes the log on stderr and prints clean JSON on stdout', () => {
    const out = join(work, 'engine');
    const r = cli(['build', CKPT, '--out', out, '--trtllm-build', STAND_IN, '--max-batch-size', '8', '--megatron-defaults', '--json'],
      { FAKE_TRTLLM_RECORD: join(work, 'argv.json') });
    expect(r.stderr).toContain('[TRT-LLM] [I] Serializing engine to');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.worldSize).toBe(2);
    expect(res.engineDir).toBe(out);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.cache', 'rank0.engine', 'rank1.engine']);
    const argv: string[] = JSON.parse(readFileSync(join(work, 'argv.json'), 'utf8')).argv;
    expect(argv[argv.indexOf('--max_batch_size') + 1]).toBe('8'); // given flag beats the Megatron default (4)
    expect(argv[argv.indexOf('--tokens_per_block') + 1]).toBe('128'); // Megatron default
  });

  it('finds trtllm-build through $MCORE_EXPORT_TRTLLM_BUILD', () => {
    const r = cli(['build', CKPT, '--out', join(work, 'e'), '--quiet'], { MCORE_EXPORT_TRTLLM_BUILD: STAND_IN });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^engine .*: 2 ranks, 3 files/);
  });

  it('exit 1 with install advice when trtllm-build is nowhere', () => {
    const r = cli(['build', CKPT, '--out', join(work, 'e')], { PATH: dirname(process.execPath), MCORE_EXPORT_TRTLLM_BUILD: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/E_NOT_FOUND: trtllm-build was not found on PATH.*TensorRT-LLM 1\.x/);
    expect(existsSync(join(work, 'e'))).toBe(false);
  });

  it('exit 2 for usage errors; exit 1 (E_CONFIG) for a bad option combination', () => {
    expect(cli(['build', CKPT]).status).toBe(2);
    expect(cli(['build', CKPT, '--out', 'x', '--bogus']).status).toBe(2);
    const r = cli(['build', CKPT, '--out', 'x', '--trtllm-build', STAND_IN, '--user-buffer']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/E_CONFIG: engine build option userBuffer/);
  });
});
