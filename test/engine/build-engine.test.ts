// buildEngine against a STAND-IN trtllm-build (test/support/fake-trtllm-build): TensorRT-LLM 1.x needs an
// NVIDIA GPU and its wheel cannot be installed here, so a small node script plays the executable. It records
// its argv, logs in TensorRT-LLM's format and writes an engine directory shaped like the real one. The
// checkpoint going in is a real one: Megatron's own TRT-LLM conversion in the fixture set (test/fixtures/classic/reference).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildEngine, type EngineLogLine, type EngineBuildProgress } from '../../lib/engine/build.js';
import { isExportError, type ExportError } from '../../lib/errors.js';
import { fixture } from '../support/fixtures.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const STAND_IN = join(HERE, '../support/fake-trtllm-build/trtllm-build');
const FIXTURES = fixture('reference');
const CKPT4 = join(FIXTURES, 'llama/tp2_pp2_bfloat16'); // world_size 4
const CKPT1 = join(FIXTURES, 'gpt2/tp1_pp1_bfloat16');

let work: string;
let record: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'engine-test-'));
  record = join(work, 'argv.json');
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function env(mode: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { FAKE_TRTLLM_MODE: mode, FAKE_TRTLLM_RECORD: record, ...extra };
}
async function rejection(p: Promise<unknown>): Promise<ExportError> {
  try {
    await p;
  } catch (e) {
    if (isExportError(e)) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
const recorded = () => JSON.parse(readFileSync(record, 'utf8')) as { argv: string[]; cwd: string; pid: number };

describe('buildEngine with the stand-in trtllm-build', () => {
  it('passes checkpoint, staging output and every option; installs the engine directory atomically', async () => {
    const out = join(work, 'engine');
    const logs: EngineLogLine[] = [];
    const progress: EngineBuildProgress[] = [];
    const res = await buildEngine(CKPT4, out, { maxBatchSize: 8, removeInputPadding: true, stripPlan: true, outputTimingCache: 'rel.cache' }, {
      trtllmBuild: STAND_IN,
      env: env('ok'),
      onLog: (l) => logs.push(l),
      onProgress: (p) => progress.push(p),
    });
    const { argv, cwd } = recorded();
    expect(argv.slice(0, 2)).toEqual(['--checkpoint_dir', CKPT4]);
    expect(argv[2]).toBe('--output_dir');
    expect(argv[3]).not.toBe(out); // built in a staging directory, renamed afterwards
    expect(dirname(argv[3]!)).toBe(work);
    expect(argv.slice(4)).toEqual(['--max_batch_size', '8', '--remove_input_padding', 'enable', '--strip_plan', '--output_timing_cache', join(process.cwd(), 'rel.cache')]);
    expect(cwd).toBe(argv[3]); // trtllm-build's cwd-relative timing cache lands in the engine dir
    expect(res.argv).toEqual(argv);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.cache', 'rank0.engine', 'rank1.engine', 'rank2.engine', 'rank3.engine']);
    expect(readdirSync(work).filter((n) => n.includes('partial'))).toEqual([]);
    expect(res.worldSize).toBe(4);
    expect(res.version).toBe('1.0.0-standin');
    expect(res.files.map((f) => f.name)).toEqual(['config.json', 'rank0.engine', 'rank1.engine', 'rank2.engine', 'rank3.engine']);
    // log lines from both streams, with levels
    expect(logs.some((l) => l.stream === 'stderr' && l.level === 'warning')).toBe(true);
    expect(logs.some((l) => l.stream === 'stdout' && l.level === 'info' && l.line.includes('Total time of building all engines'))).toBe(true);
    // one serializing + one serialized event per rank, counting up to the world size
    expect(progress.filter((p) => p.phase === 'serialized').map((p) => [p.rank, p.ranksDone])).toEqual([[0, 1], [1, 2], [2, 3], [3, 4]]);
    expect(progress.every((p) => p.ranksTotal === 4)).toBe(true);
  });

  it('streams log lines while the build is still running', async () => {
    const ctl = new AbortController();
    const seen: string[] = [];
    const p = buildEngine(CKPT1, join(work, 'e'), {}, {
      trtllmBuild: STAND_IN,
      env: env('hang'),
      signal: ctl.signal,
      onLog: (l) => {
        seen.push(l.line);
        if (l.line.includes('waiting forever')) ctl.abort(); // only reachable if lines arrive before exit
      },
    });
    const err = await rejection(p);
    expect(err.code).toBe('E_ABORTED');
    expect(seen.some((l) => l.includes('Set PluginConfig'))).toBe(true);
  });

  it('cancel: SIGTERM first; SIGKILL after the grace period for a child that ignores SIGTERM', async () => {
    const ctl = new AbortController();
    const started = Date.now();
    const p = buildEngine(CKPT1, join(work, 'e'), {}, {
      trtllmBuild: STAND_IN,
      env: env('hang-ignore-term'),
      signal: ctl.signal,
      killGraceMs: 400,
      onLog: (l) => { if (l.line.includes('waiting forever')) ctl.abort(); },
    });
    const err = await rejection(p);
    expect(err.code).toBe('E_ABORTED');
    expect(err.message).toMatch(/ignored SIGTERM and was killed/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(alive(recorded().pid)).toBe(false);
    expect(readdirSync(work).filter((n) => n.includes('partial'))).toEqual([]);
    expect(existsSync(join(work, 'e'))).toBe(false);
  });

  it('cancel of a child that honours SIGTERM does not wait for the grace period', async () => {
    const ctl = new AbortController();
    const started = Date.now();
    const err = await rejection(buildEngine(CKPT1, join(work, 'e'), {}, {
      trtllmBuild: STAND_IN, env: env('hang'), signal: ctl.signal, killGraceMs: 20_000,
      onLog: (l) => { if (l.line.includes('waiting forever')) ctl.abort(); },
    }));
    expect(err.code).toBe('E_ABORTED');
    expect(err.message).toMatch(/stopped on SIGTERM/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('an already-aborted signal launches nothing', async () => {
    const err = await rejection(buildEngine(CKPT1, join(work, 'e'), {}, { trtllmBuild: STAND_IN, env: env('ok'), signal: AbortSignal.abort() }));
    expect(err.code).toBe('E_ABORTED');
    expect(existsSync(record)).toBe(false);
  });

  it('non-zero exit → E_BUILD with the last log lines; previous engine dir untouched', async () => {
    const out = join(work, 'engine');
    mkdirSync(out);
    writeFileSync(join(out, 'config.json'), 'old');
    writeFileSync(join(out, 'rank0.engine'), 'old');
    const err = await rejection(buildEngine(CKPT1, out, {}, { trtllmBuild: STAND_IN, env: env('fail'), overwrite: true }));
    expect(err.code).toBe('E_BUILD');
    expect(err.message).toMatch(/exit code 3/);
    expect(err.message).toMatch(/Required but not provided tensors/);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'rank0.engine']);
    expect(readFileSync(join(out, 'rank0.engine'), 'utf8')).toBe('old');
    expect(readdirSync(work).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('exit 0 but a rank engine missing → E_BUILD naming it', async () => {
    const err = await rejection(buildEngine(CKPT4, join(work, 'e'), {}, { trtllmBuild: STAND_IN, env: env('missing-rank') }));
    expect(err.code).toBe('E_BUILD');
    expect(err.message).toMatch(/rank3\.engine is missing/);
    expect(existsSync(join(work, 'e'))).toBe(false);
  });

  it('exit 0 but no config.json → E_BUILD', async () => {
    const err = await rejection(buildEngine(CKPT1, join(work, 'e'), {}, { trtllmBuild: STAND_IN, env: env('no-config') }));
    expect(err.code).toBe('E_BUILD');
    expect(err.message).toMatch(/config\.json/);
  });

  it('a TensorRT-LLM without the TensorRT backend is reported as such', async () => {
    const err = await rejection(buildEngine(CKPT1, join(work, 'e'), {}, { trtllmBuild: STAND_IN, env: env('no-backend') }));
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toMatch(/release without the TensorRT-engine backend/);
    expect(err.message).toMatch(/tensorrt_llm==1\./);
    expect(err.message).toMatch(/No module named 'tensorrt_llm\.commands\.build'/);
  });

  it('missing executable → E_NOT_FOUND explaining TensorRT-LLM 1.x, how to install it and --trtllm-build', async () => {
    const err = await rejection(buildEngine(CKPT1, join(work, 'e'), {}, { trtllmBuild: join(work, 'nope/trtllm-build') }));
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toMatch(/TensorRT-LLM 1\.x/);
    expect(err.message).toMatch(/mid-2026/);
    expect(err.message).toMatch(/pip install/);
    expect(err.message).toMatch(/NGC/);
    expect(err.message).toMatch(/--trtllm-build/);
  });

  it('finds trtllm-build through $MCORE_EXPORT_TRTLLM_BUILD, then PATH; nothing on PATH → E_NOT_FOUND', async () => {
    const { locateTrtllmBuild } = await import('../../lib/engine/locate.js');
    expect(locateTrtllmBuild(undefined, { MCORE_EXPORT_TRTLLM_BUILD: STAND_IN, PATH: '' })).toBe(STAND_IN);
    expect(locateTrtllmBuild(undefined, { PATH: `/nonexistent:${dirname(STAND_IN)}` })).toBe(STAND_IN);
    const notExec = join(work, 'bin');
    mkdirSync(notExec);
    copyFileSync(STAND_IN, join(notExec, 'trtllm-build'));
    chmodSync(join(notExec, 'trtllm-build'), 0o644); // present but not executable: skipped
    expect(() => locateTrtllmBuild(undefined, { PATH: notExec })).toThrow(/E_NOT_FOUND: trtllm-build was not found on PATH/);
    expect(() => locateTrtllmBuild(undefined, { MCORE_EXPORT_TRTLLM_BUILD: join(notExec, 'trtllm-build'), PATH: dirname(STAND_IN) })).toThrow(/MCORE_EXPORT_TRTLLM_BUILD/);
  });

  it('checks the checkpoint before launching: missing rank file → E_NOT_FOUND, nothing spawned', async () => {
    const ckpt = join(work, 'ckpt');
    mkdirSync(ckpt);
    copyFileSync(join(CKPT4, 'config.json'), join(ckpt, 'config.json'));
    for (const r of [0, 1, 3]) copyFileSync(join(CKPT4, `rank${r}.safetensors`), join(ckpt, `rank${r}.safetensors`));
    const err = await rejection(buildEngine(ckpt, join(work, 'e'), {}, { trtllmBuild: STAND_IN, env: env('ok') }));
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toMatch(/rank2\.safetensors missing/);
    expect(existsSync(record)).toBe(false);
  });

  it('checks the checkpoint: a rank file that is not safetensors → E_FORMAT', async () => {
    const ckpt = join(work, 'ckpt');
    mkdirSync(ckpt);
    copyFileSync(join(CKPT1, 'config.json'), join(ckpt, 'config.json'));
    writeFileSync(join(ckpt, 'rank0.safetensors'), Buffer.from('\xff\xff\xff\xff\xff\xff\xff\x7f{}', 'latin1'));
    const err = await rejection(buildEngine(ckpt, join(work, 'e'), {}, { trtllmBuild: STAND_IN, env: env('ok') }));
    expect(err.code).toBe('E_FORMAT');
    expect(err.file).toBe(join(ckpt, 'rank0.safetensors'));
  });

  it('validates options before touching anything', async () => {
    const err = await rejection(buildEngine(join(work, 'does-not-exist'), join(work, 'e'), { maxBatchSize: -1 }, { trtllmBuild: STAND_IN }));
    expect(err.code).toBe('E_CONFIG');
    const arch = await rejection(buildEngine(CKPT1, join(work, 'e'), { ppReduceScatter: true }, { trtllmBuild: STAND_IN, env: env('ok') }));
    expect(arch.code).toBe('E_CONFIG'); // gpt2 checkpoint is GPTForCausalLM
    expect(existsSync(record)).toBe(false);
  });

  it('refuses a non-empty engine directory unless overwrite; overwrite replaces only a previous engine', async () => {
    const out = join(work, 'engine');
    mkdirSync(out);
    writeFileSync(join(out, 'rank0.engine'), 'x');
    expect((await rejection(buildEngine(CKPT1, out, {}, { trtllmBuild: STAND_IN, env: env('ok') }))).code).toBe('E_USAGE');
    await buildEngine(CKPT1, out, {}, { trtllmBuild: STAND_IN, env: env('ok'), overwrite: true });
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.cache', 'rank0.engine']);
    // a file no engine build writes: refused even with overwrite, named, untouched
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const foreign = await rejection(buildEngine(CKPT1, out, {}, { trtllmBuild: STAND_IN, env: env('ok'), overwrite: true }));
    expect(foreign.code).toBe('E_USAGE');
    expect(foreign.message).toMatch(/notes\.txt/);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.cache', 'notes.txt', 'rank0.engine']);
  });

  it('dryRun: no engine files are expected or installed', async () => {
    const res = await buildEngine(CKPT1, join(work, 'e'), { dryRun: true }, { trtllmBuild: STAND_IN, env: env('ok') });
    expect(recorded().argv).toContain('--dry_run');
    expect(res.files).toEqual([]);
    expect(existsSync(join(work, 'e'))).toBe(false);
    expect(readdirSync(work).filter((n) => n.startsWith('.'))).toEqual([]); // its scratch directory is elsewhere
  });
});
