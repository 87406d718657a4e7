// vitest globalSetup: compiles lib/ into dist/ once per run, before any test, so tests that run the CLI
// (test/support/cli.ts) or load dist/ always see the current sources. A compile error fails the run.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function buildOnce(): void {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const r = spawnSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed:\n${r.stdout}${r.stderr}${r.error?.message ?? ''}`);
}
