// CI subset of the fuzz campaign (the full 100,000-input run is bench/fuzz/run.ts): 2,000 fixed-seed mutated
// copies of the real fixtures through the CLI's inspect, trtllm (+ verify of what it wrote) and hf commands, and
// verify on mutated TensorRT-LLM checkpoints. Every input must end ok or in a coded error: no crash, no hang,
// no failure without an E_ code. Runs dist/ (built at the start of every vitest run).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFuzz } from './harness.js';

const COUNT = Number(process.env['MCORE_FUZZ_CI_COUNT'] ?? 2000);
const work = mkdtempSync(join(tmpdir(), 'mcore-fuzz-ci-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('fuzz (CI subset)', () => {
  it(
    `${COUNT} mutated inputs: 0 crashes, 0 hangs, every failure coded`,
    async () => {
      const s = await runFuzz({ seed: 20261126, count: COUNT, workers: 2, timeoutMs: 30_000, workDir: work, findingsDir: join(work, 'findings') });
      const report = s.failures.slice(0, 5).map((f) => `#${f.index} ${f.outcome} ${f.base} [${f.mutations.join('; ')}] ${f.detail ?? f.commands.find((c) => c.outcome !== 'ok' && c.outcome !== 'coded')?.detail ?? ''}`.slice(0, 600));
      expect(report).toEqual([]);
      expect(s.outcomes.crash + s.outcomes.hang + s.outcomes.uncoded).toBe(0);
      expect(s.inputs).toBe(COUNT);
      // the mutations must actually bite: most inputs fail, in more than one way, and several refusals are E_SECURITY
      expect(s.outcomes.coded).toBeGreaterThan(COUNT / 2);
      expect(Object.keys(s.codes).length).toBeGreaterThan(5);
      expect(Object.keys(s.codes).some((k) => k.endsWith('E_SECURITY'))).toBe(true);
      // and some still export (mutations in tensor data, ignored fields): the harness is not just feeding garbage
      expect(s.trtllmOk).toBeGreaterThan(0);
    },
    240_000,
  );
});
