// Output directories with real files and the real CLI: --force replaces only a previous export of ours and
// refuses (naming them) when anything else is there; our own stale temporaries are cleaned; a previous output an
// interrupted swap set aside is put back; no directory is created when a check fails and none is left behind by
// a failure; path errors never hang and carry the real errno once; --dry-run writes nothing in any command;
// overrides that contradict the checkpoint are refused.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { beginOutput, checkOutput, makeDirs } from '../../lib/export/atomic-output.js';
import { HF_OUTPUT } from '../../lib/hf/output-dir.js';
import { TRTLLM_OUTPUT } from '../../lib/trtllm/export.js';
import { stagingDirs } from './support/big-checkpoint.js';
import { BUILT, FIXTURES, ROOT, cli, listTree, sha256File } from './support/cli.js';

const LLAMA = join(FIXTURES, 'megatron/llama/torch/tp1pp1');
const GPT2 = join(FIXTURES, 'megatron/gpt2/torch/tp1pp1');
const STAND_IN = join(ROOT, 'test', 'support', 'fake-trtllm-build', 'trtllm-build');
const work = mkdtempSync(join(tmpdir(), 'mcore-outdir-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
const fresh = (name = 'out') => join(work, `${name}-${n++}`);
const tree = (dir: string) => Object.fromEntries(listTree(dir).filter((p) => !p.endsWith('/')).map((p) => [p, sha256File(join(dir, p))]));

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

/** A directory with files no export writes: a sibling model, notes, a sub-directory. */
function withForeign(dir: string): Record<string, string> {
  mkdirSync(join(dir, 'other-model'), { recursive: true });
  writeFileSync(join(dir, 'other-model', 'weights.bin'), 'precious');
  mkdirSync(join(dir, 'notes'));
  writeFileSync(join(dir, 'notes', 'todo.txt'), 'keep me');
  writeFileSync(join(dir, 'README.md'), '# mine');
  return tree(dir);
}

describe.skipIf(!BUILT)('--force and previous exports (CLI)', () => {
  let trtllmPrev: Record<string, string>;
  let hfPrev: Record<string, string>;
  const trtllmPrevDir = join(work, 'trtllm-prev');
  const hfPrevDir = join(work, 'hf-prev');
  beforeAll(() => {
    expect(cli(['trtllm', LLAMA, '--out', trtllmPrevDir, '--dtype', 'float16']).status).toBe(0);
    expect(cli(['hf', LLAMA, '--out', hfPrevDir, '--dtype', 'float16']).status).toBe(0);
    trtllmPrev = tree(trtllmPrevDir);
    hfPrev = tree(hfPrevDir);
  });

  for (const cmd of ['trtllm', 'hf'] as const) {
    it(`${cmd} --force into a directory with foreign files: refused with E_USAGE naming them, nothing touched`, () => {
      const out = fresh(cmd);
      mkdirSync(out);
      cpSync(cmd === 'trtllm' ? trtllmPrevDir : hfPrevDir, out, { recursive: true }); // a previous export too
      const before = withForeign(out);
      const r = cli([cmd, LLAMA, '--out', out, '--force']);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^mcore-export ${cmd}: E_USAGE: the output directory holds 3 entries that no .* export writes \\(README\\.md, notes, other-model\\)`, 'm'));
      expect(tree(out)).toEqual(before);
      expect(stagingDirs(out)).toEqual([]);
    });

    it(`${cmd} --force into a previous export: replaced as a whole; without --force refused`, () => {
      const out = fresh(cmd);
      cpSync(cmd === 'trtllm' ? trtllmPrevDir : hfPrevDir, out, { recursive: true });
      const refused = cli([cmd, LLAMA, '--out', out]);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toMatch(/E_USAGE: the output directory is not empty \(.*config\.json.*\); pass --force/);
      expect(tree(out)).toEqual(cmd === 'trtllm' ? trtllmPrev : hfPrev);
      const r = cli([cmd, LLAMA, '--out', out, '--force', '--dtype', 'bfloat16']);
      expect(r.status, r.stderr).toBe(0);
      const now = tree(out);
      expect(Object.keys(now).sort()).toEqual(Object.keys(cmd === 'trtllm' ? trtllmPrev : hfPrev).sort());
      expect(now['config.json']).not.toBe((cmd === 'trtllm' ? trtllmPrev : hfPrev)['config.json']);
      expect(readFileSync(join(out, 'config.json'), 'utf8')).toMatch(/bfloat16/);
      expect(stagingDirs(out)).toEqual([]);
    });
  }

  it('an older export with more files (rank7 of a wider TP) is replaced whole: no stale rank file survives', () => {
    const out = fresh();
    cpSync(trtllmPrevDir, out, { recursive: true });
    writeFileSync(join(out, 'rank7.safetensors'), 'from a tp 8 export');
    expect(cli(['trtllm', LLAMA, '--out', out, '--force']).status).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'rank0.safetensors']);
    expect(cli(['verify', out]).status).toBe(0);
  });

  it('stale temporaries of ours (dead process) are cleaned, without --force; live ones and foreign look-alikes are not', async () => {
    const dead = await deadPid();
    const out = fresh();
    const staleStaging = join(work, `.${out.split('/').pop()}.tmp-${dead}-abc123`);
    mkdirSync(staleStaging);
    writeFileSync(join(staleStaging, 'rank0.safetensors'), 'half');
    const lookAlike = join(work, `.${out.split('/').pop()}-other.tmp-${dead}-abc123`);
    mkdirSync(lookAlike);
    mkdirSync(out);
    writeFileSync(join(out, `.rank0.safetensors.tmp-${dead}-x1y2`), 'left by an older version'); // written in place then
    const r = cli(['trtllm', LLAMA, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(staleStaging)).toBe(false);
    expect(existsSync(lookAlike)).toBe(true);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'rank0.safetensors']);
  });

  it('a previous export set aside by a swap killed between its two renames is put back by the next run', async () => {
    const dead = await deadPid();
    const out = fresh();
    cpSync(trtllmPrevDir, join(work, `.${out.split('/').pop()}.old-${dead}-feed01`), { recursive: true });
    // no `out`: the process died after moving the previous export aside, before moving the new one in
    const r = cli(['trtllm', LLAMA, '--out', out]);
    expect(r.status).toBe(2); // the previous export is back, so replacing it needs --force
    expect(r.stderr).toMatch(/not empty/);
    expect(tree(out)).toEqual(trtllmPrev);
    expect(stagingDirs(out)).toEqual([]);
  });
});

describe.skipIf(!BUILT)('nothing created before the checks pass, nothing left by a failure', () => {
  const cases: [string, string[]][] = [
    ['a bad --device', ['trtllm', LLAMA, '--device', 'cuda:99']],
    ['a TP that cannot split the heads', ['trtllm', LLAMA, '--tp', '3']],
    ['a model type that does not fit', ['trtllm', GPT2, '--model-type', 'llama']],
    ['hf: a model type that does not fit', ['hf', GPT2, '--model-type', 'mixtral']],
    ['a vocabulary below the tokenizer', ['trtllm', LLAMA, '--vocab-size', '100']],
    ['hf: a vocabulary below the tokenizer', ['hf', LLAMA, '--vocab-size', '100']],
  ];
  for (const [what, args] of cases) {
    it(`${what}: exit ≠ 0, no directory (nor its missing parents), no staging`, () => {
      const parent = fresh('parent');
      const out = join(parent, 'a', 'b');
      const r = cli([...args, '--out', out]);
      expect(r.status, r.stdout).not.toBe(0);
      expect(r.stderr).toMatch(/^mcore-export \w+: E_[A-Z_]+: /m);
      expect(existsSync(parent)).toBe(false);
    });
  }

  it('--model-type and --vocab-size refusals say why', () => {
    const gpt = cli(['trtllm', GPT2, '--out', fresh(), '--model-type', 'llama']);
    expect(gpt.stderr).toMatch(/E_CONFIG: model type 'llama' does not fit this checkpoint: llama normalises with RMSNorm, the checkpoint with LayerNorm/);
    const vocab = cli(['trtllm', LLAMA, '--out', fresh(), '--vocab-size', '100']);
    expect(vocab.stderr).toMatch(/E_CONFIG: --vocab-size 100 is below the tokenizer's vocabulary of \d+/);
  });

  it('a parent that is a file: E_IO with ENOTDIR, once', () => {
    const file = join(work, `plain-file-${n++}`);
    writeFileSync(file, 'x');
    const r = cli(['trtllm', LLAMA, '--out', join(file, 'out')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^mcore-export trtllm: E_IO: cannot inspect the output path: ENOTDIR: not a directory/m);
    expect(r.stderr.match(/E_IO/g)).toHaveLength(1);
  });
});

describe.skipIf(!BUILT)('path errors: no hang, the real errno, one prefix', () => {
  const cases: [string, string, RegExp][] = [
    ['/proc (recursive mkdir loops there)', '/proc/mcore-out', /E_IO: cannot create the staging directory: ENOENT: no such file or directory/],
    ['below /proc', '/proc/mcore-x/y/z', /E_IO: cannot create the output directory: ENOENT: no such file or directory/],
    ['/sys (refuses new entries)', '/sys/mcore-x/y', /E_IO: cannot create the output directory: (EPERM|EACCES|EROFS): /],
  ];
  for (const cmd of ['trtllm', 'hf']) {
    for (const [what, out, message] of cases) {
      it(`${cmd} --out ${out}: ${what}`, () => {
        const t0 = performance.now();
        const r = cli([cmd, LLAMA, '--out', out], { timeoutMs: 20_000 });
        expect(r.signal, 'killed by the timeout: it hung').toBe(null);
        expect(performance.now() - t0).toBeLessThan(20_000);
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(message);
        expect(r.stderr.match(/E_IO/g), r.stderr).toHaveLength(1);
        expect(r.stderr).not.toMatch(/(\b[A-Z]{4,}\b): \1/); // no doubled errno
      });
    }
  }

  it('makeDirs creates level by level and reports the errno of the level that failed', () => {
    const base = fresh('mk');
    expect(makeDirs(join(base, 'x', 'y'))).toEqual([base, join(base, 'x'), join(base, 'x', 'y')]);
    expect(makeDirs(join(base, 'x', 'y'))).toEqual([]);
    expect(() => makeDirs('/proc/mcore-a/b')).toThrow(/E_IO: cannot create the output directory: ENOENT.*\(file \/proc\/mcore-a\)/);
  });
});

describe.skipIf(!BUILT)('--dry-run writes nothing, in any command', () => {
  it('trtllm, hf and export --dry-run create no directory and no staging', () => {
    const parent = fresh('dry');
    for (const args of [
      ['trtllm', LLAMA, '--out', join(parent, 't'), '--dry-run'],
      ['hf', LLAMA, '--out', join(parent, 'h'), '--dry-run'],
      ['export', LLAMA, '--out', join(parent, 'e'), '--engine', join(parent, 'engine'), '--dry-run', '--trtllm-build', STAND_IN],
    ]) {
      const r = cli(args);
      expect(r.status, `${args[0]}: ${r.stderr}`).toBe(0);
      expect(existsSync(parent), `${args[0]} --dry-run created ${listTree(parent).join(', ')}`).toBe(false);
    }
  });

  it("trtllm-build's own dry run has its own flag; --dry-run is never passed to trtllm-build", () => {
    const r = cli(['build', '--help']);
    expect(r.stdout).toMatch(/--trtllm-dry-run/);
    expect(r.stdout).not.toMatch(/^\s+--dry-run\b/m);
  });
});

describe('atomic output (library)', () => {
  it('checkOutput writes nothing; beginOutput + discard leaves nothing; commit swaps in', () => {
    const out = join(fresh('lib'), 'deep', 'model');
    expect(checkOutput(out, HF_OUTPUT, false)).toMatchObject({ exists: false, previous: [] });
    const a = beginOutput(out, HF_OUTPUT, false);
    writeFileSync(join(a.dir, 'config.json'), '{}');
    a.discard();
    expect(existsSync(join(out, '..', '..'))).toBe(false);
    const b = beginOutput(out, HF_OUTPUT, false);
    writeFileSync(join(b.dir, 'config.json'), '{"v":1}');
    b.commit();
    expect(readdirSync(out)).toEqual(['config.json']);
    const c = beginOutput(out, HF_OUTPUT, true);
    writeFileSync(join(c.dir, 'config.json'), '{"v":2}');
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe('{"v":1}'); // the previous one until the commit
    c.commit();
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe('{"v":2}');
    expect(readdirSync(join(out, '..'))).toEqual(['model']);
  });

  it('a foreign file that appears during the export is not swapped away: the commit refuses', () => {
    const out = fresh('lib');
    mkdirSync(out);
    writeFileSync(join(out, 'rank0.safetensors'), 'old');
    const o = beginOutput(out, TRTLLM_OUTPUT, true);
    writeFileSync(join(o.dir, 'rank0.safetensors'), 'new');
    writeFileSync(join(out, 'late.txt'), 'appeared meanwhile');
    expect(() => o.commit()).toThrow(/E_USAGE.*late\.txt/);
    expect(readdirSync(out).sort()).toEqual(['late.txt', 'rank0.safetensors']);
    expect(readFileSync(join(out, 'rank0.safetensors'), 'utf8')).toBe('old');
    expect(stagingDirs(out)).toEqual([]);
  });

  it('an empty existing directory is replaced by the rename itself; its mode is kept', () => {
    const out = fresh('lib');
    mkdirSync(out, { mode: 0o750 });
    const o = beginOutput(out, TRTLLM_OUTPUT, false);
    writeFileSync(join(o.dir, 'config.json'), '{}');
    o.commit();
    expect(readdirSync(out)).toEqual(['config.json']);
    expect(statSync(out).mode & 0o777).toBe(0o750);
  });
});
