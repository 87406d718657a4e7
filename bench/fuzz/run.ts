// Full fuzz run (the CI subset is test/fuzz/fuzz-ci.test.ts). Needs dist/ (npm run build:ts), then:
//   npx vite-node bench/fuzz/run.ts -- --count 100000 --seed 1 [--start 0] [--workers 2] [--timeout-ms 30000]
//     [--work /tmp/mcore-fuzz] [--findings bench/fuzz/findings]
// Prints progress every 1000 inputs and a JSON summary at the end (also written to <work>/summary-<seed>.json).
// Exit 1 when any input crashed, hung, or failed without an error code; its input is kept under --findings.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runFuzz } from '../../test/fuzz/harness.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    count: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    start: { type: 'string', default: '0' },
    workers: { type: 'string', default: '2' },
    'timeout-ms': { type: 'string', default: '30000' },
    work: { type: 'string', default: '/tmp/mcore-fuzz' },
    findings: { type: 'string', default: 'bench/fuzz/findings' },
  },
});
const seed = Number(values.seed);
const work = values.work!;
rmSync(join(work, 'cases'), { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const t0 = Date.now();
const summary = await runFuzz({
  seed,
  count: Number(values.count),
  start: Number(values.start),
  workers: Number(values.workers),
  timeoutMs: Number(values['timeout-ms']),
  workDir: work,
  findingsDir: values.findings!,
  onResult(r, done) {
    if (r.outcome !== 'ok' && r.outcome !== 'coded') process.stderr.write(`FINDING ${r.outcome} input ${r.index} (${r.base}): ${r.mutations.join('; ')}\n`);
    if (done % 1000 === 0) process.stderr.write(`${done} inputs, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  },
});
const text = JSON.stringify({ ...summary, failures: summary.failures.slice(0, 50) }, null, 2);
writeFileSync(join(work, `summary-${seed}.json`), text);
process.stdout.write(text + '\n');
process.exitCode = summary.outcomes.crash + summary.outcomes.hang + summary.outcomes.uncoded > 0 ? 1 : 0;
