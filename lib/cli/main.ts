import { readFileSync } from 'node:fs';
import { isExportError } from '../errors.js';
import type { Command } from './command.js';
import { exitCodeForSignal } from './with-progress.js';
import { demo } from './commands/demo.js';
import { build } from './commands/build.js';
import { exportCmd } from './commands/export.js';
import { inspect } from './commands/inspect.js';
import { trtllm } from './commands/trtllm.js';
import { verify } from './commands/verify.js';
import { hf } from './commands/hf.js';
import { featuresCmd } from './commands/features.js';

/** Registered subcommands; each lives in commands/<name>.ts. */
const COMMANDS: Command[] = [demo, inspect, trtllm, hf, verify, build, exportCmd, featuresCmd];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'mcore-export: Megatron-Core checkpoints to TensorRT-LLM and Hugging Face checkpoints',
    '',
    'Usage: mcore-export <command> [options]   (mcore-export <command> --help for details)',
    '       mcore-export --version',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Exit codes: 0 success, 1 failure (the message starts with its error code), 2 usage error,',
    '130/143/129 cancelled by SIGINT/SIGTERM/SIGHUP (E_ABORTED; temporaries removed, a previous output kept).',
    'With --json, a failure also prints {"error": {"code", "message", ...}} on stdout.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`mcore-export ${packageVersion()}\n`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(cmd.help.trimEnd() + '\n');
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (isExportError(e)) {
      process.stderr.write(`mcore-export ${name}: ${e.message}\n`);
      if (rest.includes('--json')) process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message, file: e.file, tensor: e.tensor } }) + '\n');
      if (e.code === 'E_ABORTED') return exitCodeForSignal() ?? 1;
      return e.code === 'E_USAGE' ? 2 : 1;
    }
    throw e;
  }
}

/** The package's version (package.json two levels up from lib/cli/ and dist/cli/). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
