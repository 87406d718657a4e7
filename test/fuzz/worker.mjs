// Fuzz worker: runs the real CLI entry (dist/cli/main.js, what bin/mcore-export.js calls) on many inputs in one
// process, to amortise Node start-up. The parent sends one case at a time over IPC and restarts the worker when
// it dies or stops answering, so a crash or hang is pinned to the input that caused it.
//
// Per command: ok (exit 0), coded (exit ≠ 0 and the message starts with an E_ code), uncoded (exit ≠ 0 without
// a code), crash (main threw: bin/mcore-export.js would print a stack). A signal, an unhandled rejection or an
// uncaught exception ends the worker; the parent records the input as a crash.
import { rmSync } from 'node:fs';
import { main } from '../../dist/cli/main.js';

let captured = '';
const keep = (chunk) => {
  if (captured.length < 16384) captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  return true;
};
process.stdout.write = () => true; // --json documents and summaries are not needed
process.stderr.write = keep;

const die = (kind) => (e) => {
  process.send?.({ fatal: kind, detail: String(e?.stack ?? e).slice(0, 4000) }, () => process.exit(70));
};
process.on('uncaughtException', die('uncaughtException'));
process.on('unhandledRejection', die('unhandledRejection'));

async function run(argv) {
  captured = '';
  const t0 = performance.now();
  let rc;
  try {
    rc = await main(argv);
  } catch (e) {
    return { cmd: argv[0], outcome: 'crash', detail: String(e?.stack ?? e).slice(0, 4000), ms: performance.now() - t0 };
  }
  const ms = performance.now() - t0;
  if (rc === 0) return { cmd: argv[0], outcome: 'ok', ms };
  const m = /(?:^|\n)(?:mcore-export \w+: )?(E_[A-Z_]+):/.exec(captured);
  if (m) return { cmd: argv[0], outcome: 'coded', code: m[1], rc, message: captured.slice(0, 400), ms };
  return { cmd: argv[0], outcome: 'uncoded', rc, detail: captured.slice(0, 4000), ms };
}

process.on('message', async (msg) => {
  const c = msg.case;
  const results = [];
  try {
    if (c.kind === 'trtllm') {
      results.push(await run(['verify', c.dir]));
    } else {
      results.push(await run(['inspect', c.dir, '--json']));
      results.push(await run(['trtllm', c.dir, '--out', msg.out, '--json', ...c.trtllmArgs]));
      if (results[1].outcome === 'ok') results.push(await run(['verify', msg.out]));
      if (c.hf) results.push(await run(['hf', c.dir, '--out', `${msg.out}-hf`, '--json']));
    }
  } finally {
    rmSync(msg.out, { recursive: true, force: true });
    rmSync(`${msg.out}-hf`, { recursive: true, force: true });
  }
  process.send({ index: c.index, results });
});
process.send({ ready: true });
