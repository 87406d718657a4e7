#!/usr/bin/env node
// The package's `install` step: use a prebuilt addon when one loads here; otherwise build it with cmake-js
// (CUDA when nvcc is found), falling back to node-gyp (CPU only) when cmake is missing. One clear message
// on failure: the library still installs, and lib/native.ts says the same thing when the addon is needed.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

function loads(file) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)}).features()`], { stdio: 'ignore' });
  return r.status === 0;
}

function prebuilt() {
  const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir).filter((f) => f.endsWith('.node')).map((f) => path.join(dir, f)).find(loads);
}

function has(cmd, args) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

function run(cmd, args) {
  console.log(`mcore-export: ${cmd} ${args.join(' ')}`);
  return spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: process.env.CMAKE_BUILD_PARALLEL_LEVEL || '2' } }).status === 0;
}

function bin(name) {
  const local = path.join(root, 'node_modules', '.bin', name);
  return existsSync(local) ? local : name;
}

function main() {
  if (process.env.MCORE_SKIP_NATIVE_BUILD) return console.log('mcore-export: MCORE_SKIP_NATIVE_BUILD set, not building the addon');
  const pre = prebuilt();
  if (pre) return console.log(`mcore-export: using prebuilt addon ${path.relative(root, pre)}`);
  const built = path.join(root, 'build', 'Release', 'mcore_export.node');
  let ok = false;
  if (has('cmake', ['--version'])) {
    ok = run(bin('cmake-js'), ['configure', '--out', 'build']) && run(bin('cmake-js'), ['build', '--out', 'build']);
  } else {
    console.log('mcore-export: cmake not found, building the CPU-only addon with node-gyp');
    ok = run(bin('node-gyp'), ['rebuild', '-j', '2']);
  }
  if (ok && existsSync(built) && loads(built)) return console.log(`mcore-export: built ${path.relative(root, built)}`);
  console.error(
    'mcore-export: could not build the native addon. Install cmake (>= 3.19) and a C++17 compiler (g++ or clang++), ' +
      'then run `npm run build:native` in this package (or `npm run build:native:cpu` to skip CUDA, or `npx node-gyp rebuild` without cmake). ' +
      'Planning and --dry-run work without it; exporting needs it.',
  );
  // not fatal: the TypeScript parts stay usable and the loader repeats this advice (E_NATIVE)
}

main();
