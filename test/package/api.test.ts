// Every name README.md's "### API" list documents is exported by the package with a real type (not `any`):
// checked by compiling a file that names each one against the package's own declarations (dist/index.d.ts, what
// package.json's "exports" points TypeScript to), and at run time for the values. Conversely every value the
// package exports is in the list, so the list stays complete.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { ROOT } from '../support/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-api-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function documentedNames(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n### API\n');
  expect(start, 'README.md has a "### API" section').toBeGreaterThan(0);
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  const names = section
    .split('\n')
    .filter((l) => l.startsWith('- '))
    .flatMap((l) => [...l.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((m) => m[1]!));
  expect(names.length).toBeGreaterThan(40);
  return names;
}

test('package.json points the package entry and its types at dist/index', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: { '.': { types: string; default: string } } };
  expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
});

test("every name in the README's API list is exported with a type; every exported value is listed", async () => {
  const names = documentedNames();
  const api = (await import(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)) as Record<string, unknown>;
  const values = names.filter((n) => n in api);
  expect(Object.keys(api).filter((k) => !names.includes(k)), 'exported values missing from the README list').toEqual([]);

  const index = join(ROOT, 'dist', 'index.js');
  const lines = [
    `import * as api from ${JSON.stringify(index)};`,
    'type IsAny<T> = 0 extends 1 & T ? true : false;',
    ...names.map((n, i) => `export const check${i}: IsAny<${values.includes(n) ? `typeof api.${n}` : `api.${n}`}> = false; // ${n}`),
  ];
  writeFileSync(join(tmp, 'check.ts'), lines.join('\n') + '\n');
  writeFileSync(
    join(tmp, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] },
      files: ['check.ts'],
    }),
  );
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(tmp, 'tsconfig.json')], { encoding: 'utf8' });
  // a missing name is "has no exported member"; an `any` is "Type 'false' is not assignable to type 'true'"
  const failures = `${r.stdout}${r.stderr}`
    .split('\n')
    .filter((l) => l.includes('check.ts('))
    .map((l) => {
      const line = Number(/check\.ts\((\d+),/.exec(l)![1]);
      return `${names[line - 3]}: ${l.slice(l.indexOf('error'))}`;
    });
  expect(failures).toEqual([]);
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
});
