import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/interop/**'],
    pool: 'forks',
    // compiles lib/ into dist/ once per run: the CLI the tests spawn is never stale (test/support/cli.ts)
    globalSetup: ['test/support/build-once.ts'],
    testTimeout: 60_000,
  },
});
