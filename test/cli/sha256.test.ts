// `--sha256`: the hashes the CLI lists are those of the files on disk (computed here independently).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { cli } from '../support/cli.js';
import { fixture } from '../support/fixtures.js';

const CKPT = fixture('megatron/gpt2/torch/tp1pp1');
const tmp = mkdtempSync(join(tmpdir(), 'mcore-sha256-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('--sha256', () => {
  test.each(['trtllm', 'hf'])('%s --json lists the sha256 of every data file written', (cmd) => {
    const out = join(tmp, cmd);
    const r = cli([cmd, CKPT, '--out', out, '--json', '--sha256', ...(cmd === 'trtllm' ? ['--tp', '2'] : [])]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { path: string; sha256?: string }[] }).files.filter((f) => f.path.endsWith('.safetensors'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(f.sha256, f.path).toBe(createHash('sha256').update(readFileSync(f.path)).digest('hex'));
  });
});
