// The repository's fixture copy equals ../shared's sets (when ../shared is there, as in CI and development):
// a stale or edited copy would make every byte-parity test compare against the wrong truth.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, MODERN_FIXTURES } from './support/fixtures.js';

const SHARED = join(import.meta.dirname, '../../shared');

function digests(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.set(relative(root, path), createHash('sha256').update(readFileSync(path)).digest('hex'));
    }
  };
  walk(root);
  return out;
}

for (const [set, copy] of [['fixtures', FIXTURES], ['fixtures-modern', MODERN_FIXTURES]] as const) {
  const shared = join(SHARED, set);
  const why = existsSync(shared) ? '' : `(skipped: no ${shared} to compare with)`;
  if (why) console.log(`fixtures-copy: ${set} ${why}`);
  describe.skipIf(!!why)(`test fixtures: ${set} ${why}`, () => {
    it(`equals ${shared} file for file (refresh with scripts/refresh-fixtures.sh)`, () => {
      expect(Object.fromEntries(digests(copy))).toEqual(Object.fromEntries(digests(shared)));
    });
  });
}
