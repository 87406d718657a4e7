// Exports into a file system that fills up (a tiny tmpfs; mounting needs root, otherwise the test is skipped and
// says why): the CLI ends with a coded E_IO naming the file it could not write, and leaves nothing half-written —
// no temporaries, no rank files, no config.json, no staging directory, and the space is given back.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { FIXTURES } from '../support/fixtures.js';

const CKPT = join(FIXTURES, 'megatron/llama/torch/tp1pp1');
const PAGE = 4096;
const work = mkdtempSync(join(tmpdir(), 'mcore-full-'));
const mounts: string[] = [];

/** Mounts a tmpfs of `bytes` (rounded to pages) and returns its path, or the reason it could not. */
function tinyFs(name: string, bytes: number): string {
  const dir = join(work, name);
  mkdirSync(dir);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(bytes / PAGE) * PAGE}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount -t tmpfs failed: ${r.stderr || r.error?.message}`);
  mounts.push(dir);
  return dir;
}
const usedBytes = (dir: string) => {
  const s = statfsSync(dir);
  return (s.blocks - s.bfree) * s.bsize;
};

let why: string | null = null;
let sizes: Record<string, number> = {};
beforeAll(() => {
  try {
    tinyFs('probe', PAGE * 4);
  } catch (e) {
    why = (e as Error).message;
  }
  // the sizes an unconstrained export writes
  const out = join(work, 'unconstrained');
  const r = cli(['trtllm', CKPT, '--out', out, '--tp', '2', '--json']);
  expect(r.status, r.stderr).toBe(0);
  sizes = Object.fromEntries((JSON.parse(r.stdout) as { files: { path: string; bytes: number }[] }).files.map((f) => [f.path.slice(out.length + 1), f.bytes]));
});
afterAll(() => {
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
  rmSync(work, { recursive: true, force: true });
});

const pages = (n: number) => Math.ceil(n / PAGE) * PAGE;

describe('disk full', () => {
  // room for: part of rank0 / rank0 and part of rank1 / both rank files but not config.json
  const cases: [string, () => number, RegExp][] = [
    ['inside the first rank file', () => pages(sizes['rank0.safetensors']! / 2), /rank\d\.safetensors/],
    ['inside the second rank file', () => pages(sizes['rank0.safetensors']!) + pages(sizes['rank1.safetensors']! / 2), /rank\d\.safetensors/],
    ['at config.json, after both rank files', () => pages(sizes['rank0.safetensors']!) + pages(sizes['rank1.safetensors']!), /config\.json/],
  ];
  for (const [i, [where, room, names]] of cases.entries()) {
    it(`trtllm: the disk fills ${where} → E_IO naming the file, nothing left behind`, (ctx) => {
      if (why) {
        console.warn(`disk-full test skipped: ${why}`);
        return ctx.skip();
      }
      const fs = tinyFs(`trtllm-${i}`, room());
      const out = join(fs, 'out');
      const r = cli(['trtllm', CKPT, '--out', out, '--tp', '2']);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^mcore-export trtllm: E_IO: /);
      expect(r.stderr).toMatch(/ENOSPC|no space/i);
      expect(r.stderr).toMatch(names);
      expect(r.stderr).toContain(out);
      const left = existsSync(out) ? readdirSync(out) : [];
      expect(left.filter((n) => n !== '.'), 'files left in the output directory').toEqual([]);
      expect(usedBytes(fs)).toBeLessThan(PAGE * 4);
    });
  }

  it('hf: the disk fills → E_IO, no staging directory or partial checkpoint left', (ctx) => {
    if (why) {
      console.warn(`disk-full test skipped: ${why}`);
      return ctx.skip();
    }
    const fs = tinyFs('hf', 256 * 1024);
    const out = join(fs, 'out');
    const r = cli(['hf', CKPT, '--out', out]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^mcore-export hf: E_IO: /);
    expect(r.stderr).toContain(fs);
    expect(readdirSync(fs)).toEqual([]);
    expect(usedBytes(fs)).toBeLessThan(PAGE * 4);
  });
});
