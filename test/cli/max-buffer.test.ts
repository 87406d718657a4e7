// `--max-buffer`: a tiny executor budget (many small work units, one thread's worth of buffers) still writes the
// reference bytes; values that cannot work are refused before anything is written.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { cli as runCli } from '../support/cli.js';
import { FIXTURES, REFERENCE } from '../trtllm/support/fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-max-buffer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = runCli(args);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('--max-buffer', () => {
  test('a 4KiB budget writes the reference conversion byte for byte', () => {
    const out = join(tmp, 'small');
    const r = cli('trtllm', join(FIXTURES, 'megatron/llama/torch/tp2pp1'), '--out', out, '--tp', '2', '--dtype', 'float16', '--max-buffer', '4KiB');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const ref = join(REFERENCE, 'llama/tp2_pp1_float16');
    expect(readdirSync(out).sort()).toEqual(readdirSync(ref).sort());
    for (const f of readdirSync(ref)) expect(readFileSync(join(out, f)).equals(readFileSync(join(ref, f))), f).toBe(true);
  });

  test.each([['100'], ['lots'], ['0']])('refuses %s with a usage error and writes nothing', (size) => {
    const out = join(tmp, `bad-${size}`);
    const r = cli('hf', join(FIXTURES, 'megatron/gpt2/torch/tp1pp1'), '--out', out, '--max-buffer', size);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('E_USAGE');
    expect(existsSync(out)).toBe(false);
  });
});
