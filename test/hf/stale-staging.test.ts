// A killed export leaves its hidden staging directory beside the target; the next export to the same place
// removes it (only ours: the target's name, a process that is gone).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { beginOutput } from '../../lib/export/atomic-output.js';
import { HF_OUTPUT } from '../../lib/hf/output-dir.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-hf-stale-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The pid of a process that has exited (so no process has it now, barring reuse within the test). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

test('stale staging directories of dead processes are removed; live ones and others are kept', async () => {
  const dead = await deadPid();
  const stale = join(tmp, `.model.tmp-${dead}-deadbeef`);
  const live = join(tmp, `.model.tmp-${process.ppid}-cafebabe`);
  const other = join(tmp, `.other.tmp-${dead}-deadbeef`);
  for (const d of [stale, live, other]) {
    mkdirSync(d);
    writeFileSync(join(d, 'model-00001-of-00001.safetensors'), 'partial');
  }
  const staging = beginOutput(join(tmp, 'model'), HF_OUTPUT, false);
  expect(existsSync(stale)).toBe(false);
  expect(existsSync(live)).toBe(true);
  expect(existsSync(other)).toBe(true);
  staging.discard();
  expect(readdirSync(tmp).sort()).toEqual([`.model.tmp-${process.ppid}-cafebabe`, `.other.tmp-${dead}-deadbeef`].sort());
});
