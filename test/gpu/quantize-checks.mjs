#!/usr/bin/env node
// Quantized outputs on the GPU equal the CPU's, byte for byte (issue 14), run with plain node on the GPU machine:
//   node test/gpu/quantize-checks.mjs FIXTURES_DIR OUT_DIR [--quick]
// (the CPU side is itself checked against an independent TypeScript reference by test/quantize/native-ops.test.ts
// and against PyTorch by test/interop/quantize.test.ts, so CUDA == CPU closes the chain)
// 1. random quantized plans: int8 / int4 (groups) / fp8 per channel / fp8 128×128 blocks; bf16, f16 and f32
//    sources with random bit patterns (NaN, Inf, subnormals, ties), file-backed, TP-split and transposed; scales
//    in f32, bf16, f16; CPU vs 'cuda' with a small deviceMemory (many units, block rows cut across units)
// 2. a large plan (8192 × 8192 bf16 through every scheme): several chunks per unit on the GPU
// 3. fixture exports: hf --quantize int8/int4/fp8-block and trtllm --quantize fp8-per-channel (TP 2), cpu vs cuda
// Writes OUT_DIR/quantize-checks.json; exit 1 on any difference. Without a GPU only the CPU runs (a smoke test).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const [FIX, OUT] = process.argv.slice(2);
if (!FIX || !OUT) throw new Error('usage: quantize-checks.mjs FIXTURES_DIR OUT_DIR [--quick]');
const QUICK = process.argv.includes('--quick');
const { executePlan } = await import(join(ROOT, 'dist/plan/execute.js'));
const { planQuantized } = await import(join(ROOT, 'dist/quantize/plan.js'));
const { resolveQuantize } = await import(join(ROOT, 'dist/quantize/scheme.js'));
const { openCheckpoint } = await import(join(ROOT, 'dist/megatron/open.js'));
const { exportTrtllm } = await import(join(ROOT, 'dist/trtllm/export.js'));
const { exportHf } = await import(join(ROOT, 'dist/hf/export.js'));
const { features, nativePath } = await import(join(ROOT, 'dist/native.js'));

const feat = features();
const CUDA = feat.cudaDevices >= 1 ? ['cuda'] : [];
const WORK = mkdtempSync('/tmp/quant-checks-');
mkdirSync(OUT, { recursive: true });
const report = { features: feat, addon: nativePath(), sections: {}, failures: [] };
const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');

function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => ((x = (Math.imul(x ^ (x >>> 15), 2246822519) + 3266489917) >>> 0), x);
}

// random source words: mostly ordinary weights, some specials
function sourceBytes(dtype, n, next) {
  const size = dtype === 'float32' ? 4 : 2;
  const buf = Buffer.alloc(n * size);
  for (let i = 0; i < n; i++) {
    const r = next();
    const pick = r % 100;
    let f;
    if (pick < 90) f = ((next() / 2 ** 32) - 0.5) * (pick < 3 ? 50 : 0.1);
    else if (pick < 92) f = 0;
    else if (pick < 94) f = (next() % 17 - 8) * 0.5; // ties after scaling
    else f = null; // raw bits: NaN, Inf, subnormals
    if (dtype === 'float32') {
      if (f === null) buf.writeUInt32LE(next(), i * 4);
      else buf.writeFloatLE(f, i * 4);
    } else if (dtype === 'bfloat16') {
      if (f === null) buf.writeUInt16LE(next() & 0xffff, i * 2);
      else { const t = Buffer.alloc(4); t.writeFloatLE(f); buf.writeUInt16LE(t.readUInt16LE(2), i * 2); }
    } else {
      buf.writeUInt16LE(f === null ? next() & 0xffff : (next() & 0x83ff) | (((next() % 30) + 1) << 10), i * 2);
    }
  }
  return buf;
}

const SCHEMES = [
  { scheme: 'int8-weight-only' },
  { scheme: 'int4-weight-only', groupSize: 32 },
  { scheme: 'int4-weight-only', groupSize: 128 },
  { scheme: 'fp8-per-channel' },
  { scheme: 'fp8-block' },
];

function randomCase(i) {
  const next = rng(1000 + i);
  const s = SCHEMES[i % SCHEMES.length];
  const q = resolveQuantize(s);
  const dtype = ['bfloat16', 'float16', 'float32'][next() % 3];
  const gran = q.kind === 'int4' ? q.groupSize : 1;
  const rows = 1 + (next() % 400);
  const cols = q.kind === 'int4' ? gran * (1 + (next() % 6)) : 2 * (1 + (next() % 300));
  const layout = ['file', 'split', 'transposed'][next() % 3];
  const size = dtype === 'float32' ? 4 : 2;
  const bytes = sourceBytes(dtype, rows * cols, next);
  const path = join(WORK, `src-${i}.bin`);
  let tensor;
  if (layout === 'transposed') {
    const t = Buffer.alloc(bytes.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) bytes.copy(t, (c * rows + r) * size, (r * cols + c) * size, (r * cols + c + 1) * size);
    writeFileSync(path, t);
    tensor = { dtype, shape: [rows, cols], blocks: [{ at: [0, 0], view: { storage: { kind: 'file', path, byteOffset: 0, byteLength: t.length }, dtype, shape: [rows, cols], strides: [1, rows], offset: 0 } }] };
  } else {
    writeFileSync(path, bytes);
    const storage = { kind: 'file', path, byteOffset: 0, byteLength: bytes.length };
    const half = layout === 'split' && rows > 1 ? 1 + (next() % (rows - 1)) : rows;
    const blocks = [{ at: [0, 0], view: { storage, dtype, shape: [half, cols], strides: [cols, 1], offset: 0 } }];
    if (half < rows) blocks.push({ at: [half, 0], view: { storage, dtype, shape: [rows - half, cols], strides: [cols, 1], offset: half * cols } });
    tensor = { dtype, shape: [rows, cols], blocks };
  }
  const scaleDtype = q.kind === 'fp8' ? 'float32' : ['float32', 'bfloat16', 'float16'][next() % 3];
  const w = planQuantized(`w${i}`, tensor, q, { values: 'q', scales: 's', valuesDtype: 'uint8', scaleDtype });
  return { label: `${s.scheme}${s.groupSize ? `-g${s.groupSize}` : ''} ${rows}x${cols} ${dtype} ${layout} scales ${scaleDtype}`, tensors: [w.values, w.scales, { ...w.scales, name: 's2' }, { ...w.values, name: 'q2' }] };
}

async function compare(section, label, makePlan, opts = {}) {
  const results = {};
  for (const device of ['cpu', ...CUDA]) {
    const dir = mkdtempSync(join(WORK, 'run-'));
    await executePlan(makePlan(dir), { device, ...(device === 'cpu' ? { threads: 4, maxBufferBytes: 1 << 16 } : { deviceMemory: opts.deviceMemory ?? 8 << 20 }) });
    results[device] = readdirSync(dir).sort().map((f) => sha(join(dir, f))).join(',');
    rmSync(dir, { recursive: true, force: true });
  }
  const ok = Object.values(results).every((h) => h === results.cpu);
  (report.sections[section] ??= { cases: 0, failed: 0 }).cases++;
  if (!ok) {
    report.sections[section].failed++;
    report.failures.push({ section, label, results });
    console.log(`DIFF ${section} ${label}`);
  }
}

// 1. random plans
const N = QUICK ? 25 : 150;
for (let i = 0; i < N; i++) {
  const c = randomCase(i);
  await compare('random', c.label, (dir) => ({ files: [{ path: join(dir, 'a.safetensors'), tensors: c.tensors }] }));
}
console.log(`random: ${JSON.stringify(report.sections.random)}`);

// 2. a large weight through every scheme (chunks of block rows inside a unit, several units)
{
  const rows = QUICK ? 2048 : 8192;
  const cols = 8192;
  const path = join(WORK, 'big.bin');
  writeFileSync(path, sourceBytes('bfloat16', rows * cols, rng(7)));
  const tensor = { dtype: 'bfloat16', shape: [rows, cols], blocks: [{ at: [0, 0], view: { storage: { kind: 'file', path, byteOffset: 0, byteLength: rows * cols * 2 }, dtype: 'bfloat16', shape: [rows, cols], strides: [cols, 1], offset: 0 } }] };
  for (const s of SCHEMES) {
    const q = resolveQuantize(s);
    const w = planQuantized('big', tensor, q, { values: 'q', scales: 's', valuesDtype: 'uint8', scaleDtype: q.kind === 'fp8' ? 'float32' : 'bfloat16' });
    const t0 = performance.now();
    await compare('large', `${s.scheme}${s.groupSize ? `-g${s.groupSize}` : ''} ${rows}x${cols}`, (dir) => ({ files: [{ path: join(dir, 'a.safetensors'), tensors: [w.values, w.scales] }] }), { deviceMemory: 256 << 20 });
    console.log(`large ${s.scheme}: ${((performance.now() - t0) / 1000).toFixed(2)} s (cpu + cuda)`);
  }
  rmSync(path, { force: true });
}

// 3. fixture exports
const FIXTURE_RUNS = [
  ['llama', 'hf', { scheme: 'int8-weight-only' }],
  ['llama', 'hf', { scheme: 'int4-weight-only', groupSize: 16 }],
  ['llama', 'hf', { scheme: 'fp8-block' }],
  ['mixtral', 'hf', { scheme: 'int4-weight-only', groupSize: 16 }],
  ['mixtral', 'hf', { scheme: 'fp8-block' }],
  ['llama', 'trtllm', { scheme: 'fp8-per-channel' }],
  ['gptnext', 'trtllm', { scheme: 'fp8-per-channel' }],
];
for (const [model, kind, quantize] of FIXTURE_RUNS) {
  const results = {};
  for (const device of ['cpu', ...CUDA]) {
    const out = join(WORK, `fx-${model}-${kind}-${device}`);
    const ckpt = openCheckpoint(join(FIX, 'megatron', model, 'torch/tp1pp1'));
    try {
      if (kind === 'hf') await exportHf(ckpt, { outDir: out, dtype: 'bfloat16', device, quantize });
      else await exportTrtllm(ckpt, { outDir: out, tpSize: 2, dtype: 'bfloat16', device, quantize });
    } finally {
      ckpt.close();
    }
    results[device] = readdirSync(out).sort().map((f) => `${f}:${sha(join(out, f))}`).join(',');
    rmSync(out, { recursive: true, force: true });
  }
  const ok = Object.values(results).every((h) => h === results.cpu);
  (report.sections.fixtures ??= { cases: 0, failed: 0 }).cases++;
  if (!ok) {
    report.sections.fixtures.failed++;
    report.failures.push({ section: 'fixtures', label: `${model} ${kind} ${quantize.scheme}`, results });
  }
  console.log(`fixture ${model} ${kind} ${quantize.scheme}: ${ok ? 'identical' : 'DIFFERENT'} on ${['cpu', ...CUDA].join(', ')}`);
}

writeFileSync(join(OUT, 'quantize-checks.json'), JSON.stringify(report, null, 2));
rmSync(WORK, { recursive: true, force: true });
console.log(`devices: cpu${CUDA.length ? ', cuda' : ' only (no GPU)'}; sections ${JSON.stringify(report.sections)}; failures ${report.failures.length}`);
assert.equal(report.failures.length, 0);
