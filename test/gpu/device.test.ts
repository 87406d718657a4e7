// The device option: parsing, the coded E_DEVICE refusal on a machine without a usable GPU (library and CLI,
// nothing left behind), and — where a GPU is present — CUDA output byte-identical to the CPU's. The full GPU
// matrix (exhaustive casts, random plans, every fixture export) is test/gpu/run-gpu-checks.mjs, run on the GPU
// machine with plain node.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { isExportError } from '../../lib/errors.js';
import { features, loadNative } from '../../lib/native.js';
import { parseDevice, resolveDevice } from '../../lib/plan/device.js';
import { executePlan } from '../../lib/plan/execute.js';
import type { CopyPlan } from '../../lib/plan/plan.js';
import { cliAsync } from '../support/cli.js';
import { fixture } from '../support/fixtures.js';

const FIXTURE = fixture('megatron/llama/torch/tp1pp1');
const nativeError = (() => {
  try {
    loadNative();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
})();
const gpus = nativeError ? 0 : features().cudaDevices;
if (nativeError) console.warn(`device tests that execute are skipped: ${nativeError}`);
if (gpus) console.warn(`the no-GPU tests are skipped here: this machine has ${gpus} usable GPU(s)`);
if (!gpus) console.warn(`CUDA-vs-CPU tests are skipped here: no usable GPU (${nativeError ?? features().cudaError ?? 'none'}); run test/gpu/run-gpu-checks.mjs on a GPU machine`);

const tmp = mkdtempSync(join(tmpdir(), 'mcore-device-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isExportError(e) ? e.code : `not an ExportError: ${String(e)}`;
  }
  return undefined;
}

/** A plan with a cast, a transpose and a strided piece over random bytes. */
function plan(dir: string): CopyPlan {
  const n = 4099;
  const bytes = new Uint8Array(n * 4);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  const src = (shape: number[], strides: number[], offset = 0) => ({ storage: { kind: 'memory' as const, bytes }, dtype: 'float32' as const, shape, strides, offset });
  return {
    files: [
      {
        path: join(dir, 'a.safetensors'),
        tensors: [
          { name: 'cast', dtype: 'bfloat16', shape: [n], pieces: [{ dstOffset: 0, dstStrides: [1], src: src([n], [1]) }] },
          { name: 'transpose', dtype: 'float16', shape: [64, 64], pieces: [{ dstOffset: 0, dstStrides: [64, 1], src: src([64, 64], [1, 64], 3) }] },
          { name: 'strided', dtype: 'float8_e4m3fn', shape: [1000], pieces: [{ dstOffset: 0, dstStrides: [1], src: src([1000], [3], 1), affine: { mul: 8 } }] },
        ],
      },
    ],
  };
}

describe('device option', () => {
  test('parses cpu, cuda, cuda:N and lists; refuses anything else with E_USAGE', () => {
    expect(parseDevice(undefined)).toEqual({ kind: 'cpu' });
    expect(parseDevice('cpu')).toEqual({ kind: 'cpu' });
    expect(parseDevice('cuda')).toEqual({ kind: 'cuda', gpus: [0] });
    expect(parseDevice('cuda:1')).toEqual({ kind: 'cuda', gpus: [1] });
    expect(parseDevice('cuda:0,1')).toEqual({ kind: 'cuda', gpus: [0, 1] });
    for (const bad of ['gpu', 'cuda:', 'cuda:0,', 'cuda:-1', 'cuda:0,0', 'CUDA', 'cuda:a']) expect(code(() => parseDevice(bad)), bad).toBe('E_USAGE');
  });

  test('resolveDevice: E_DEVICE without CUDA support, without devices, or past the last GPU', () => {
    const base = { threads: 1, version: 'x' };
    expect(resolveDevice({ kind: 'cpu' }, { ...base, cuda: false, cudaDevices: 0 })).toBeUndefined();
    expect(code(() => resolveDevice(parseDevice('cuda'), { ...base, cuda: false, cudaDevices: 0 }))).toBe('E_DEVICE');
    expect(code(() => resolveDevice(parseDevice('cuda'), { ...base, cuda: true, cudaDevices: 0, cudaError: 'no driver' }))).toBe('E_DEVICE');
    expect(code(() => resolveDevice(parseDevice('cuda:0,2'), { ...base, cuda: true, cudaDevices: 2 }))).toBe('E_DEVICE');
    expect(resolveDevice(parseDevice('cuda:0,1'), { ...base, cuda: true, cudaDevices: 2 })).toEqual([0, 1]);
  });
});

describe.skipIf(nativeError !== undefined || gpus > 0)('without a usable GPU', () => {
  test('executePlan({device: cuda}) rejects with E_DEVICE and leaves no file', async () => {
    const dir = join(tmp, 'nogpu');
    mkdirSync(dir);
    const err = await executePlan(plan(dir), { device: 'cuda' }).catch((e: unknown) => e);
    expect(isExportError(err) && err.code).toBe('E_DEVICE');
    expect(readdirSync(dir)).toEqual([]);
  });

  test('the CLI: trtllm and hf --device cuda exit with E_DEVICE and write nothing', async () => {
    for (const cmd of ['trtllm', 'hf']) {
      const out = join(tmp, `cli-${cmd}`);
      const r = await cliAsync([cmd, FIXTURE, '--out', out, '--device', 'cuda']);
      expect(r.status, cmd).not.toBe(0);
      expect(r.stderr, cmd).toMatch(/E_DEVICE/);
      expect(existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('.safetensors')) : [], cmd).toEqual([]);
    }
  });
});

describe.skipIf(!gpus)('with a GPU', () => {
  test('cuda writes the same bytes as the cpu', async () => {
    const out: Record<string, Buffer> = {};
    for (const device of ['cpu', 'cuda'] as const) {
      const dir = join(tmp, device);
      mkdirSync(dir);
      await executePlan(plan(dir), { device });
      out[device] = readFileSync(join(dir, 'a.safetensors'));
    }
    expect(out['cuda']!.equals(out['cpu']!)).toBe(true);
  });
});
