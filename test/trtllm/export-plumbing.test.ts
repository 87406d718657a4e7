import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { prepareOutDir, writeFileAtomic } from '../../lib/export/out-dir.js';
import { renderProgressLine } from '../../lib/export/progress.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-export-plumbing-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('progress line shows percent, bytes, rate and ETA', () => {
  const line = renderProgressLine('trtllm', { bytesDone: 512 * 1024 * 1024, bytesTotal: 2048 * 1024 * 1024 }, 2, 100);
  expect(line).toMatch(/^trtllm \[#+-+\]  25% 512\.0 MiB\/2\.00 GiB 256\.0 MiB\/s ETA 00:06$/);
});

test('prepareOutDir refuses a non-empty directory, and with force removes only what the export owns', () => {
  const d = join(tmp, 'out');
  prepareOutDir(d, { owns: () => true });
  writeFileSync(join(d, 'rank0.safetensors'), 'old');
  writeFileSync(join(d, 'notes.txt'), 'keep');
  expect(() => prepareOutDir(d, { owns: (n) => n.startsWith('rank') })).toThrow(/E_USAGE/);
  prepareOutDir(d, { force: true, owns: (n) => n.startsWith('rank') });
  expect(readdirSync(d)).toEqual(['notes.txt']);
  writeFileAtomic(join(d, 'config.json'), '{}\n');
  expect(readFileSync(join(d, 'config.json'), 'utf8')).toBe('{}\n');
  expect(readdirSync(d).sort()).toEqual(['config.json', 'notes.txt']);
  expect(() => writeFileAtomic(join(d, 'missing-dir', 'x.json'), 'x')).toThrow(/E_IO/);
});
