// `mcore-export features`: what the native addon was built with and what it sees at run time.
import { features, nativePath } from '../../native.js';
import { fail } from '../../errors.js';
import type { Command } from '../command.js';

export const featuresCmd: Command = {
  name: 'features',
  summary: 'show the native addon in use: CUDA built in or not, CUDA devices seen, threads',
  help: `Usage: mcore-export features [--json]

Loads the native addon and prints where it came from and what it was built with: "cuda" (the CUDA part
is compiled in; "cudaArchitectures" lists the GPU architectures it has code for), "cudaDevices" (GPUs the
CUDA runtime sees now; 0 with the reason in "cudaError" on machines without a GPU or driver), "threads"
(hardware threads for the CPU executor).
Which addon: $MCORE_EXPORT_ADDON when set; else a local CUDA build (build/Release, from npm run
build:native); else the prebuilt CPU addon shipped in the package; else any local build.`,
  async run(argv) {
    const json = argv.includes('--json');
    const unknown = argv.find((a) => a !== '--json');
    if (unknown !== undefined) fail('E_USAGE', `unknown argument '${unknown}'`);
    const f = features();
    const report = { addon: nativePath(), ...f };
    process.stdout.write(json ? JSON.stringify(report, null, 2) + '\n' : Object.entries(report).map(([k, v]) => `${k}: ${String(v)}`).join('\n') + '\n');
    return 0;
  },
};
