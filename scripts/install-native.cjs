#!/usr/bin/env node
// The package's `install` step. Uses the prebuilt addon (prebuilds/, CPU-only) when one loads here, so installing
// needs no compiler. Otherwise builds a CPU-only addon from source: cmake-js, or node-gyp when cmake is missing.
// CUDA is never compiled here (minutes per GPU architecture): `npm run build:native` does that, and the loader
// (lib/native.ts) then prefers the CUDA build to the prebuilt one.
// npm hides an install script's output unless it fails, and failing would fail the whole install although the
// TypeScript half works without the addon. So the outcome goes, as one line, to the terminal (/dev/tty, when
// there is one), to stderr (shown with --foreground-scripts and in npm's debug log) and to build/install-native.txt,
// which the loader quotes in its E_NATIVE error at first use.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const note = path.join(root, 'build', 'install-native.txt');

function loads(file) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)}).features()`], { stdio: 'ignore' });
  return r.status === 0;
}

function prebuilt() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir).filter((f) => f.endsWith('.node')).map((f) => path.join(dir, f)).find(loads);
}

function has(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** One line to the user: the terminal when there is one (npm captures stdout and stderr), and stderr. */
function tell(line) {
  process.stderr.write(`${line}\n`);
  try {
    const fd = openSync('/dev/tty', 'w');
    writeSync(fd, `${line}\n`);
    closeSync(fd);
  } catch {
    // no terminal (CI, Windows): stderr and the note must do
  }
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: process.env.CMAKE_BUILD_PARALLEL_LEVEL || '2' } });
  process.stderr.write(`${cmd} ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  if (r.status === 0) return undefined;
  const lines = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').map((l) => l.trim());
  const error = lines.find((l) => /error/i.test(l) && !/^gyp info/.test(l)) ?? r.error?.message ?? `exit code ${r.status}`;
  return `${path.basename(cmd)} failed: ${error}`;
}

function bin(name) {
  const local = path.join(root, 'node_modules', '.bin', name);
  return existsSync(local) ? local : name;
}

function build() {
  const cxx = process.env.CXX || ['c++', 'g++', 'clang++'].find(has);
  if (!cxx) return `no prebuilt addon loads on ${process.platform}-${process.arch} here and no C++ compiler (c++, g++ or clang++) is installed to build one`;
  tell(`mcore-export: no prebuilt addon loads on ${process.platform}-${process.arch} here: building it from source (CPU only, about a minute)`);
  if (has('cmake')) {
    return run(bin('cmake-js'), ['configure', '--out', 'build', '--CDMCORE_CUDA=OFF']) ?? run(bin('cmake-js'), ['build', '--out', 'build']);
  }
  return run(bin('node-gyp'), ['rebuild', '-j', '2']);
}

/** Leaves only build/Release/mcore_export.node: the object files of a build have no use in an installed package. */
function pruneBuild() {
  const dir = path.join(root, 'build');
  for (const n of readdirSync(dir)) if (n !== 'Release') rmSync(path.join(dir, n), { recursive: true, force: true });
  for (const n of readdirSync(path.join(dir, 'Release'))) if (n !== 'mcore_export.node') rmSync(path.join(dir, 'Release', n), { recursive: true, force: true });
}

function main() {
  rmSync(note, { force: true });
  if (process.env.MCORE_SKIP_NATIVE_BUILD) return console.log('mcore-export: MCORE_SKIP_NATIVE_BUILD set, not building the addon');
  const pre = prebuilt();
  if (pre) return console.log(`mcore-export: using the prebuilt addon ${path.relative(root, pre)}`);
  const built = path.join(root, 'build', 'Release', 'mcore_export.node');
  if (existsSync(built) && loads(built)) return console.log(`mcore-export: using the existing build ${path.relative(root, built)}`);
  const why = build() ?? (existsSync(built) && loads(built) ? undefined : 'the build produced no loadable build/Release/mcore_export.node');
  if (!why) {
    pruneBuild();
    return tell(`mcore-export: built ${path.relative(root, built)} (for CUDA: \`npm run build:native\` in ${root})`);
  }
  const line = `could not build the native addon: ${why}. Inspecting and planning work; exporting needs the addon: install cmake and a C++17 compiler, then run \`npm run build:native\` in ${root}`;
  mkdirSync(path.dirname(note), { recursive: true });
  writeFileSync(note, `${line}\n`);
  tell(`mcore-export: ${line}`);
  // not fatal: the TypeScript parts stay usable, and the loader repeats this line in its E_NATIVE error
}

main();
