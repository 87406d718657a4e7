import { defineConfig } from 'vitest/config';

// Cross-checks against other software (Python transformers): slow, needs the local wheelhouse; run with
// `npm run test:interop`. The tests skip with a printed reason where Python or the wheels are missing.
export default defineConfig({
  test: {
    include: ['test/interop/**/*.test.ts'],
    pool: 'forks',
    // compiles lib/ into dist/ once per run: the CLI the tests spawn is never stale (test/support/cli.ts)
    globalSetup: ['test/support/build-once.ts'],
    testTimeout: 900_000,
    hookTimeout: 1_800_000,
  },
});
