// Which addon the loader picks and what `npm install` tells the user, on throw-away copies of the package
// (dist/, bin/, package.json, scripts/install-native.cjs) with real addon binaries placed where an installed
// package has them: prebuilds/<platform>-<arch>/ and build/Release/.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ROOT } from '../support/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'mcore-loader-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const PLATFORM = `${process.platform}-${process.arch}`;

function reports(addon: string): { cuda: boolean } | undefined {
  const r = spawnSync(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(addon)}).features()))`], { encoding: 'utf8' });
  return r.status === 0 ? (JSON.parse(r.stdout) as { cuda: boolean }) : undefined;
}

// the addons this checkout has: the prebuilt one (npm run prebuildify / npm pack make it) and the local build
const candidates = [
  ...(existsSync(join(ROOT, 'prebuilds', PLATFORM)) ? readdirSync(join(ROOT, 'prebuilds', PLATFORM)).map((f) => join(ROOT, 'prebuilds', PLATFORM, f)) : []),
  join(ROOT, 'build', 'Release', 'mcore_export.node'),
].filter((f) => f.endsWith('.node') && existsSync(f));
const cpuAddon = candidates.find((f) => reports(f)?.cuda === false);
const cudaAddon = candidates.find((f) => reports(f)?.cuda === true);
if (!cpuAddon) console.warn(`loader tests that need a CPU-only addon are skipped: none among ${candidates.join(', ') || 'no addon at all'} (npm run prebuildify makes one)`);
if (!cudaAddon) console.warn(`the CUDA-build preference test is skipped: no CUDA build among ${candidates.join(', ') || 'no addon at all'} (npm run build:native with nvcc makes one)`);

let n = 0;
/** A copy of the package with the given addons in place. */
function pkg(addons: { prebuilt?: string; local?: string }): string {
  const dir = join(tmp, `pkg${n++}`);
  mkdirSync(dir);
  for (const d of ['dist', 'bin']) cpSync(join(ROOT, d), join(dir, d), { recursive: true });
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(ROOT, 'scripts', 'install-native.cjs'), join(dir, 'scripts', 'install-native.cjs'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  if (addons.prebuilt) {
    mkdirSync(join(dir, 'prebuilds', PLATFORM), { recursive: true });
    copyFileSync(addons.prebuilt, join(dir, 'prebuilds', PLATFORM, 'mcore-export.glibc.node'));
  }
  if (addons.local) {
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    copyFileSync(addons.local, join(dir, 'build', 'Release', 'mcore_export.node'));
  }
  return dir;
}

/** The addon file the package's loader picks, or its error. */
function loaded(dir: string, env: Record<string, string> = {}): { path?: string; error?: string } {
  const code = `import(${JSON.stringify(join(dir, 'dist', 'native.js'))}).then((m) => { try { console.log(JSON.stringify({ path: m.nativePath() })); } catch (e) { console.log(JSON.stringify({ error: e.message })); } })`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: { ...process.env, MCORE_EXPORT_ADDON: '', ...env } });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { path?: string; error?: string };
}

/** PATH with node only: no c++, g++, gcc, cc, clang++, cmake, make, nvcc. */
function compilerFreePath(): string {
  const bin = join(tmp, 'node-only-bin');
  if (!existsSync(bin)) {
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
  }
  return bin;
}

describe('the loader', () => {
  test.skipIf(!cpuAddon)('prefers the prebuilt addon to a CPU-only local build', () => {
    const dir = pkg({ prebuilt: cpuAddon, local: cpuAddon });
    expect(loaded(dir).path).toBe(join(dir, 'prebuilds', PLATFORM, 'mcore-export.glibc.node'));
  });

  test.skipIf(!cpuAddon || !cudaAddon)('prefers a local CUDA build (npm run build:native) to the CPU-only prebuilt addon, with no setting', () => {
    const dir = pkg({ prebuilt: cpuAddon, local: cudaAddon });
    expect(loaded(dir).path).toBe(join(dir, 'build', 'Release', 'mcore_export.node'));
  });

  test.skipIf(!cpuAddon)('uses $MCORE_EXPORT_ADDON alone when set, and the local build when there is no prebuilt one', () => {
    const dir = pkg({ local: cpuAddon });
    expect(loaded(dir).path).toBe(join(dir, 'build', 'Release', 'mcore_export.node'));
    const explicit = join(tmp, 'explicit.node');
    copyFileSync(cpuAddon!, explicit);
    expect(loaded(pkg({ prebuilt: cpuAddon }), { MCORE_EXPORT_ADDON: explicit }).path).toBe(explicit);
  });

  test("without any addon: E_NATIVE that quotes npm install's line and says how to build", () => {
    const dir = pkg({});
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build', 'install-native.txt'), 'could not build the native addon: no C++ compiler\n');
    const e = loaded(dir).error!;
    expect(e).toMatch(/^E_NATIVE: could not load the native addon \(npm install: could not build the native addon: no C\+\+ compiler\)/);
    expect(e).toContain('npm run build:native');
  });
});

describe('the install script (npm install runs it; npm shows none of its output)', () => {
  const install = (dir: string) =>
    spawnSync(process.execPath, [join(dir, 'scripts', 'install-native.cjs')], { cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: compilerFreePath(), CXX: '' } });

  test.skipIf(!cpuAddon)('with a prebuilt addon that loads: uses it, builds nothing, needs no compiler', () => {
    const dir = pkg({ prebuilt: cpuAddon });
    const r = install(dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`using the prebuilt addon prebuilds/${PLATFORM}/`);
    expect(existsSync(join(dir, 'build'))).toBe(false);
  });

  test('with no prebuilt addon and no compiler: exits 0, one line on stderr, and the same line for the loader', () => {
    const dir = pkg({});
    const r = install(dir);
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^mcore-export: could not build the native addon: no prebuilt addon loads on .* no C\+\+ compiler .*npm run build:native/);
    const note = readFileSync(join(dir, 'build', 'install-native.txt'), 'utf8').trim();
    expect(lines[0]).toBe(`mcore-export: ${note}`);
    expect(loaded(dir).error).toContain(note);
  });
});
