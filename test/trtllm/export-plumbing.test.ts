import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { writeFileAtomic } from '../../lib/export/out-dir.js';
import { renderProgressLine } from '../../lib/export/progress.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-export-plumbing-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('progress line shows percent, bytes, rate and ETA', () => {
  const line = renderProgressLine('trtllm', { bytesDone: 512 * 1024 * 1024, bytesTotal: 2048 * 1024 * 1024 }, 2, 100);
  expect(line).toMatch(/^trtllm \[#+-+\]  25% 512\.0 MiB\/2\.00 GiB 256\.0 MiB\/s ETA 00:06$/);
});

// output directories (refusals, --force, staging): test/reliability/atomic-output.test.ts
test('writeFileAtomic replaces a file whole and leaves nothing else behind', () => {
  const d = join(tmp, 'out');
  mkdirSync(d);
  writeFileSync(join(d, 'notes.txt'), 'keep');
  writeFileAtomic(join(d, 'config.json'), '{}\n');
  expect(readFileSync(join(d, 'config.json'), 'utf8')).toBe('{}\n');
  expect(readdirSync(d).sort()).toEqual(['config.json', 'notes.txt']);
  expect(() => writeFileAtomic(join(d, 'missing-dir', 'x.json'), 'x')).toThrow(/E_IO/);
});
