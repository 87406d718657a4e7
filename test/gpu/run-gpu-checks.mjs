#!/usr/bin/env node
// GPU correctness checks, run on the GPU machine with plain node (no vitest there):
//   node test/gpu/run-gpu-checks.mjs FIXTURES_DIR OUT_DIR [--quick]
// 1. casts: every float dtype pair × affine variants over exhaustive 8/16-bit patterns and f32 specials/random
//    words, in contiguous (vector), transposed (tile) and strided (generic) layouts: CUDA bytes == CPU bytes
// 2. random plans (ranks 0-4, permuted/broadcast/padded sources, zero pieces, file and memory sources, all
//    dtypes, affine): CUDA == CPU
// 3. a large multi-unit plan (f32→bf16 casts, a transpose, a dim-1 concat, a row-interleaved split)
// 4. every fixture exported to TRT-LLM and HF with cpu (all threads), cpu (1 thread), cuda[, cuda:0,1]:
//    identical sha256 for every file
// 5. coded errors: a missing GPU is E_DEVICE, a malformed device E_USAGE
// Writes OUT_DIR/gpu-checks.json and OUT_DIR/hf-cases.json (HF exports written on the GPU, for the logits check).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const [FIX, OUT] = process.argv.slice(2);
if (!FIX || !OUT) throw new Error('usage: run-gpu-checks.mjs FIXTURES_DIR OUT_DIR');
const { executePlan } = await import(join(ROOT, 'dist/plan/execute.js'));
const { openCheckpoint } = await import(join(ROOT, 'dist/megatron/open.js'));
const { exportTrtllm } = await import(join(ROOT, 'dist/trtllm/export.js'));
const { exportHf } = await import(join(ROOT, 'dist/hf/export.js'));
const { features, nativePath } = await import(join(ROOT, 'dist/native.js'));

const feat = features();
const GPUS = feat.cudaDevices;
// without a GPU (a smoke test of this script) only the CPU runs
const CUDA_DEVICES = GPUS >= 1 ? ['cuda', ...(GPUS >= 2 ? ['cuda:0,1'] : [])] : [];
const WORK = mkdtempSync('/tmp/gpu-checks-');
// --only PREFIX: just the comparisons whose label starts with PREFIX (e.g. plan-2, cast-float32), for debugging
const ONLY = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const SECTIONS = process.argv.includes('--sections') ? process.argv[process.argv.indexOf('--sections') + 1].split(',') : undefined;
mkdirSync(OUT, { recursive: true });
const report = { features: feat, addon: nativePath(), sections: {}, failures: [] };

function sha(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
function section(name) {
  const s = { passed: 0, failed: 0, seconds: 0 };
  report.sections[name] = s;
  const t0 = performance.now();
  return {
    ok: () => s.passed++,
    bad: (what, detail) => {
      s.failed++;
      report.failures.push({ section: name, what, detail: String(detail).slice(0, 2000) });
      console.error(`FAIL [${name}] ${what}: ${String(detail).slice(0, 500)}`);
    },
    done: () => {
      s.seconds = (performance.now() - t0) / 1000;
      console.log(`${name}: ${s.passed} passed, ${s.failed} failed (${s.seconds.toFixed(1)} s)`);
    },
  };
}

// ---- deterministic random numbers ----
function rng(seed) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), pick: (a) => a[Math.floor(next() * a.length)] };
}
const FLOATS = ['float32', 'float16', 'bfloat16', 'float8_e4m3fn', 'float8_e5m2'];
const OTHERS = ['int8', 'uint8', 'int32', 'int64', 'bool'];
const SIZE = { float32: 4, float16: 2, bfloat16: 2, float8_e4m3fn: 1, float8_e5m2: 1, int8: 1, uint8: 1, int32: 4, int64: 8, bool: 1 };
const contiguous = (shape) => {
  const st = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) st[i] = st[i + 1] * shape[i + 1];
  return st;
};
const numel = (shape) => shape.reduce((a, b) => a * b, 1);
function randomBytes(r, n) {
  const b = new Uint8Array(n);
  const w = new Uint32Array(b.buffer, 0, n >> 2);
  for (let i = 0; i < w.length; i++) w[i] = (r.next() * 2 ** 32) >>> 0;
  for (let i = w.length * 4; i < n; i++) b[i] = Math.floor(r.next() * 256);
  return b;
}

/** Where two safetensors files first differ: byte offset and the tensor there. */
function firstDiff(a, b) {
  const x = readFileSync(a), y = readFileSync(b);
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  const n = Number(x.readBigUInt64LE(0));
  const header = JSON.parse(x.subarray(8, 8 + n).toString());
  const at = i - 8 - n;
  const hit = Object.entries(header).find(([k, v]) => k !== '__metadata__' && v.data_offsets[0] <= at && at < v.data_offsets[1]);
  return { byte: i, lengths: [x.length, y.length], tensor: hit?.[0], dtype: hit?.[1].dtype, element: hit ? (at - hit[1].data_offsets[0]) : undefined,
    cpu: [...x.subarray(i, i + 8)].map((v) => v.toString(16)).join(' '), cuda: [...y.subarray(i, i + 8)].map((v) => v.toString(16)).join(' ') };
}

/** Runs `plan(dir)` on the CPU and on each CUDA device; every file must have the same bytes. */
async function compareDevices(s, label, makePlan, extra = {}) {
  if (ONLY && !label.startsWith(ONLY)) return;
  const hashes = {};
  const kept = {};
  for (const device of ['cpu', ...CUDA_DEVICES]) {
    const dir = join(WORK, `${label}-${device.replace(/[:,]/g, '_')}`);
    mkdirSync(dir, { recursive: true });
    try {
      const res = await executePlan(makePlan(dir), { device, hash: true, ...extra });
      hashes[device] = res.files.map((f) => f.sha256).join(',');
      kept[device] = { dir, files: res.files.map((f) => f.path) };
    } catch (e) {
      s.bad(`${label} on ${device}`, `${e.code}: ${e.message}`);
      rmSync(dir, { recursive: true, force: true });
      for (const k of Object.values(kept)) rmSync(k.dir, { recursive: true, force: true });
      return;
    }
  }
  for (const d of CUDA_DEVICES) {
    if (hashes[d] === hashes.cpu) s.ok();
    else {
      const i = kept.cpu.files.findIndex((f, j) => sha(f) !== sha(kept[d].files[j]));
      s.bad(`${label}: ${d} differs from cpu`, JSON.stringify(firstDiff(kept.cpu.files[i], kept[d].files[i])));
    }
  }
  for (const k of Object.values(kept)) rmSync(k.dir, { recursive: true, force: true });
}

// ---- 1. casts ----
async function casts() {
  const s = section('casts');
  const r = rng(7);
  const sources = {};
  for (const dt of FLOATS) {
    const size = SIZE[dt];
    let bytes;
    if (size === 1) {
      bytes = new Uint8Array(4 * 256 + 5);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i & 255;
    } else if (size === 2) {
      bytes = new Uint8Array(2 * (65536 + 5));
      const v = new Uint16Array(bytes.buffer);
      for (let i = 0; i < v.length; i++) v[i] = i & 0xffff;
    } else {
      const n = 65536 + 5;
      bytes = randomBytes(r, 4 * n);
      const v = new Uint32Array(bytes.buffer);
      // specials: ±0, ±Inf, NaNs with payloads, subnormals, rounding boundaries of each narrow format
      const special = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7fbfffff, 0x00000001, 0x807fffff, 0x00400000,
        0x477ff000, 0x477fefff, 0x477fe000, 0x38800000, 0x387fffff, 0x33800000, 0x33000000, 0x33000001, 0x43e00000, 0x43dfffff, 0x43e80000, 0x3c800000,
        0x3b000000, 0x3a800000, 0x3a800001, 0x47700000, 0x476fffff, 0x37800000, 0x37000000, 0x37000001, 0x3f808000, 0x3f818000, 0x3f807fff, 0x7f7fffff];
      special.forEach((x, i) => { v[i] = x; v[i + 40] = (x ^ 0x80000000) >>> 0; });
      // values near every rounding step of the narrow formats
      for (let i = 100; i < 30000; i++) v[i] = ((v[i] & 0xfff00000) | ((r.next() < 0.5 ? 0x00080000 : 0x00008000) + (r.int(-2, 2) >>> 0))) >>> 0;
    }
    sources[dt] = bytes;
  }
  const affines = [undefined, { add: 1 }, { mul: 0.5 }, { add: 1, mul: 3.0000001 }, { mul: 448 / 3.5 }];
  for (const S of FLOATS) {
    for (const D of FLOATS) {
      const bytes = sources[S];
      const n = bytes.byteLength / SIZE[S];
      const R = 64;
      const C = Math.floor((n - 3) / R);
      const tensors = [];
      affines.forEach((affine, ai) => {
        tensors.push({ name: `c${ai}`, dtype: D, shape: [n], pieces: [{ dstOffset: 0, dstStrides: [1], src: { storage: { kind: 'memory', bytes }, dtype: S, shape: [n], strides: [1], offset: 0 }, ...(affine ? { affine } : {}) }] });
        // odd head: starts one element in, so vector alignment differs from the tensor above
        tensors.push({ name: `o${ai}`, dtype: D, shape: [n - 1], pieces: [{ dstOffset: 0, dstStrides: [1], src: { storage: { kind: 'memory', bytes }, dtype: S, shape: [n - 1], strides: [1], offset: 1 }, ...(affine ? { affine } : {}) }] });
        tensors.push({ name: `t${ai}`, dtype: D, shape: [C, R], pieces: [{ dstOffset: 0, dstStrides: [R, 1], src: { storage: { kind: 'memory', bytes }, dtype: S, shape: [C, R], strides: [1, C], offset: 3 }, ...(affine ? { affine } : {}) }] });
        tensors.push({ name: `s${ai}`, dtype: D, shape: [Math.floor(n / 3)], pieces: [{ dstOffset: 0, dstStrides: [1], src: { storage: { kind: 'memory', bytes }, dtype: S, shape: [Math.floor(n / 3)], strides: [3], offset: 2 }, ...(affine ? { affine } : {}) }] });
      });
      await compareDevices(s, `cast-${S}-${D}`, (dir) => ({ files: [{ path: join(dir, 'out.safetensors'), tensors }] }));
    }
  }
  s.done();
}

// ---- 2. random plans ----
let fileCounter = 0;
function randomSource(r, dtype, shape, dir) {
  if (r.next() < 0.1) return { storage: { kind: 'zeros' }, dtype, shape: [...shape], strides: shape.map(() => 0), offset: 0 };
  const rank = shape.length;
  const order = [...shape.keys()].sort(() => r.next() - 0.5);
  const strides = new Array(rank).fill(0);
  let st = 1;
  for (let i = order.length - 1; i >= 0; i--) {
    const d = order[i];
    if (r.next() < 0.1) continue; // broadcast
    strides[d] = st;
    st *= shape[d] + (r.next() < 0.2 ? r.int(1, 3) : 0);
  }
  // sometimes a negative stride (a flipped view) on one dim
  const offset0 = r.int(0, 5);
  const span = numel(shape) === 0 ? 0 : shape.reduce((a, d, i) => a + (d - 1) * strides[i], 0) + 1;
  const elements = offset0 + span + r.int(0, 3);
  const bytes = randomBytes(r, elements * SIZE[dtype]);
  if (r.next() < 0.5) return { storage: { kind: 'memory', bytes }, dtype, shape: [...shape], strides, offset: offset0 };
  const lead = r.int(0, 16);
  const path = join(dir, `src-${fileCounter++}.bin`);
  writeFileSync(path, Buffer.concat([randomBytes(r, lead), bytes, randomBytes(r, r.int(0, 16))]));
  return { storage: { kind: 'file', path, byteOffset: lead, byteLength: bytes.byteLength }, dtype, shape: [...shape], strides, offset: offset0 };
}
function randomTensor(r, name, dir) {
  const big = r.next() < 0.3;
  const rank = big ? r.int(1, 3) : r.int(0, 4);
  const shape = Array.from({ length: rank }, () => (big ? r.int(1, 300) : r.int(1, 7)));
  const dtype = r.next() < 0.85 ? r.pick(FLOATS) : r.pick(OTHERS);
  const out = contiguous(shape);
  const pieces = [];
  if (rank === 0) {
    pieces.push({ dstOffset: 0, dstStrides: [], src: randomSource(r, FLOATS.includes(dtype) ? r.pick(FLOATS) : dtype, [], dir) });
  } else {
    const dim = r.int(0, rank - 1);
    const cuts = [0];
    const parts = Math.min(shape[dim], r.int(1, 3));
    for (let i = 1; i < parts; i++) cuts.push(Math.floor((shape[dim] * i) / parts));
    cuts.push(shape[dim]);
    for (let i = 0; i + 1 < cuts.length; i++) {
      const sub = [...shape];
      sub[dim] = cuts[i + 1] - cuts[i];
      if (sub[dim] === 0) continue;
      const float = FLOATS.includes(dtype);
      const srcDtype = float ? r.pick(FLOATS) : dtype;
      const affine = float && r.next() < 0.2 ? (r.next() < 0.5 ? { add: 1 } : { mul: r.pick([0.5, 2, 3.0000001, 100]) }) : undefined;
      pieces.push({ dstOffset: cuts[i] * out[dim], dstStrides: out, src: randomSource(r, srcDtype, sub, dir), ...(affine ? { affine } : {}) });
    }
  }
  return { name, dtype, shape, pieces };
}
async function randomPlans(count) {
  const s = section('random-plans');
  const dir = join(WORK, 'random-sources');
  mkdirSync(dir, { recursive: true });
  for (let seed = 1; seed <= count; seed++) {
    const r = rng(seed * 7919);
    const files = Array.from({ length: r.int(1, 3) }, (_, f) => Array.from({ length: r.int(1, 6) }, (_, t) => randomTensor(r, `f${f}.t${t}`, dir)));
    await compareDevices(s, `plan-${seed}`, (out) => ({ files: files.map((tensors, f) => ({ path: join(out, `f${f}.safetensors`), tensors })) }));
  }
  rmSync(dir, { recursive: true, force: true });
  s.done();
}

// ---- 3. large plan ----
async function largePlan() {
  const s = section('large-plan');
  const r = rng(99);
  const dir = join(WORK, 'large-src');
  mkdirSync(dir, { recursive: true });
  const f32 = join(dir, 'a.bin');
  const nA = 8192 * 4096;
  writeFileSync(f32, randomBytes(r, nA * 4));
  const bf = join(dir, 'b.bin');
  const nB = 4096 * 8192;
  writeFileSync(bf, randomBytes(r, nB * 2));
  const file = (path, byteLength) => ({ kind: 'file', path, byteOffset: 0, byteLength });
  const A = file(f32, nA * 4);
  const B = file(bf, nB * 2);
  const tensors = [
    // f32 → bf16 cast of a 128 MiB tensor (several units)
    { name: 'cast', dtype: 'bfloat16', shape: [8192, 4096], pieces: [{ dstOffset: 0, dstStrides: [4096, 1], src: { storage: A, dtype: 'float32', shape: [8192, 4096], strides: [4096, 1], offset: 0 } }] },
    // transpose of a bf16 [4096, 8192] source
    { name: 'transpose', dtype: 'bfloat16', shape: [8192, 4096], pieces: [{ dstOffset: 0, dstStrides: [4096, 1], src: { storage: B, dtype: 'bfloat16', shape: [8192, 4096], strides: [1, 8192], offset: 0 } }] },
    // concat along dim 1 of two halves (row-parallel TP merge)
    { name: 'concat1', dtype: 'bfloat16', shape: [4096, 8192], pieces: [0, 1].map((h) => ({ dstOffset: h * 4096, dstStrides: [8192, 1], src: { storage: B, dtype: 'bfloat16', shape: [4096, 4096], strides: [8192, 1], offset: h * 4096 } })) },
    // every third row block (a QKV split), cast to f32 and scaled
    { name: 'qkv', dtype: 'float32', shape: [1365, 8192], pieces: [{ dstOffset: 0, dstStrides: [8192, 1], src: { storage: B, dtype: 'bfloat16', shape: [1365, 8192], strides: [3 * 8192, 1], offset: 8192 }, affine: { mul: 0.125 } }] },
    // fp8 output with scaling (saturation)
    { name: 'fp8', dtype: 'float8_e4m3fn', shape: [8192, 4096], pieces: [{ dstOffset: 0, dstStrides: [4096, 1], src: { storage: A, dtype: 'float32', shape: [8192, 4096], strides: [4096, 1], offset: 0 }, affine: { mul: 1e38 } }] },
  ];
  const t = {};
  for (const threads of [undefined, 1]) {
    const d = join(WORK, `large-cpu-${threads ?? 'all'}`);
    mkdirSync(d, { recursive: true });
    const t0 = performance.now();
    const res = await executePlan({ files: [{ path: join(d, 'big.safetensors'), tensors }] }, { hash: true, ...(threads ? { threads } : {}) });
    t[`cpu-${threads ?? 'all'}`] = { seconds: (performance.now() - t0) / 1000, sha256: res.files[0].sha256 };
    rmSync(d, { recursive: true, force: true });
  }
  for (const device of CUDA_DEVICES) {
    for (const deviceMemory of [undefined, 40 << 20]) {
      const d = join(WORK, `large-${device.replace(/[:,]/g, '_')}`);
      mkdirSync(d, { recursive: true });
      const t0 = performance.now();
      try {
        const res = await executePlan({ files: [{ path: join(d, 'big.safetensors'), tensors }] }, { device, hash: true, ...(deviceMemory ? { deviceMemory } : {}) });
        t[`${device}${deviceMemory ? '-40MiB' : ''}`] = { seconds: (performance.now() - t0) / 1000, sha256: res.files[0].sha256 };
      } catch (e) {
        s.bad(`large plan on ${device}`, `${e.code}: ${e.message}`);
      }
      rmSync(d, { recursive: true, force: true });
    }
  }
  const ref = t['cpu-all'].sha256;
  for (const [k, v] of Object.entries(t)) (v.sha256 === ref ? s.ok() : s.bad(`large plan ${k} differs`, `${v.sha256} vs ${ref}`));
  report.large = t;
  rmSync(dir, { recursive: true, force: true });
  s.done();
}

// ---- 4. fixtures ----
function layouts() {
  const out = [];
  const base = join(FIX, 'megatron');
  for (const model of readdirSync(base).sort()) {
    for (const fmt of readdirSync(join(base, model)).sort()) {
      for (const layout of readdirSync(join(base, model, fmt)).sort()) {
        if (statSync(join(base, model, fmt, layout)).isDirectory()) out.push({ model, path: join(base, model, fmt, layout), name: `${model}-${fmt}-${layout}` });
      }
    }
  }
  return out;
}
function dirHashes(dir) {
  const h = {};
  for (const f of readdirSync(dir).sort()) if (statSync(join(dir, f)).isFile()) h[f] = sha(join(dir, f));
  return h;
}
async function fixtures() {
  const s = section('fixtures');
  const hfCases = [];
  const runs = [{ label: 'cpu' }, { label: 'cpu-1thread', threads: 1 }, ...CUDA_DEVICES.map((d) => ({ label: d, device: d }))];
  for (const L of layouts()) {
    const ckpt = openCheckpoint(L.path);
    const jobs = [];
    for (const dtype of ['bfloat16', 'float32']) {
      for (const tp of [1, 2]) jobs.push({ kind: 'trtllm', dtype, tp, name: `${L.name}-trtllm-${dtype}-tp${tp}` });
      jobs.push({ kind: 'hf', dtype, name: `${L.name}-hf-${dtype}` });
    }
    for (const j of jobs) {
      const hashes = {};
      for (const run of runs) {
        const outDir = join(WORK, 'fx', `${j.name}-${run.label.replace(/[:,]/g, '_')}`);
        try {
          const common = { outDir, dtype: j.dtype, force: true, ...(run.threads ? { threads: run.threads } : {}), ...(run.device ? { device: run.device } : {}) };
          if (j.kind === 'trtllm') await exportTrtllm(ckpt, { ...common, tpSize: j.tp });
          else await exportHf(ckpt, common);
          hashes[run.label] = dirHashes(outDir);
        } catch (e) {
          if (e.code === 'E_UNSUPPORTED' || e.code === 'E_CONFIG') { hashes[run.label] = `refused ${e.code}`; continue; }
          s.bad(`${j.name} ${run.label}`, `${e.code}: ${e.message}`);
          hashes[run.label] = `error ${e.code}`;
        }
        if (j.kind === 'hf' && run.label === 'cuda' && L.path.endsWith('torch/tp1pp1')) {
          hfCases.push({ dir: outDir, logits: join(FIX, 'logits', `${L.model}.safetensors`), dtype: j.dtype, model: L.model });
        } else {
          rmSync(outDir, { recursive: true, force: true });
        }
      }
      const ref = JSON.stringify(hashes.cpu);
      for (const run of runs.slice(1)) {
        if (JSON.stringify(hashes[run.label]) === ref) s.ok();
        else s.bad(`${j.name}: ${run.label} differs from cpu`, `${JSON.stringify(hashes[run.label])} vs ${ref}`);
      }
    }
  }
  writeFileSync(join(OUT, 'hf-cases.json'), JSON.stringify(hfCases, null, 1));
  s.done();
}

// ---- 5. errors ----
async function errors() {
  const s = section('errors');
  const tensors = [{ name: 'x', dtype: 'float32', shape: [4], pieces: [{ dstOffset: 0, dstStrides: [1], src: { storage: { kind: 'memory', bytes: new Uint8Array(16).fill(1) }, dtype: 'float32', shape: [4], strides: [1], offset: 0 } }] }];
  const dir = join(WORK, 'err');
  mkdirSync(dir, { recursive: true });
  for (const [device, code] of [['cuda:99', 'E_DEVICE'], ['gpu', 'E_USAGE'], ['cuda:0,0', 'E_USAGE']]) {
    try {
      await executePlan({ files: [{ path: join(dir, 'x.safetensors'), tensors }] }, { device });
      s.bad(`device ${device}`, 'did not fail');
    } catch (e) {
      if (e.code === code) s.ok();
      else s.bad(`device ${device}`, `${e.code}: ${e.message}`);
    }
  }
  assert.equal(readdirSync(dir).length, 0, 'a failed device leaves no file');
  s.ok();
  s.done();
}

const quick = process.argv.includes('--quick');
for (const [name, fn] of [['casts', casts], ['random', () => randomPlans(quick ? 40 : 300)], ['large', largePlan], ['fixtures', fixtures], ['errors', errors]]) {
  if (SECTIONS && !SECTIONS.includes(name)) continue;
  try {
    await fn();
  } catch (e) {
    report.failures.push({ section: name, what: 'crashed', detail: String(e?.stack ?? e) });
    console.error(`CRASH in ${name}:`, e);
  }
}
writeFileSync(join(OUT, 'gpu-checks.json'), JSON.stringify(report, null, 1));
console.log('\nsection          passed failed seconds');
for (const [k, v] of Object.entries(report.sections)) console.log(`${k.padEnd(16)} ${String(v.passed).padStart(6)} ${String(v.failed).padStart(6)} ${v.seconds.toFixed(1).padStart(7)}`);
console.log(`GPUs: ${GPUS}; failures: ${report.failures.length}`);
process.exitCode = report.failures.length ? 1 : 0;
