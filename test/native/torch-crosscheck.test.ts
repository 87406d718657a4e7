// Cross-check with PyTorch itself: the native casts must give the bytes torch gives for the same values.
// Needs the interop virtualenv (.venv-interop with torch); skipped with a visible reason otherwise.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNative } from '../../lib/native.js';
import { DTYPES, type DType } from '../../lib/tensor/dtype.js';
import { interopPython } from '../support/python.js';

const PYTHON = interopPython();
const hasTorch = existsSync(PYTHON) && (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasTorch) console.warn(`torch cross-check skipped: no ${PYTHON} with torch (run scripts/interop-venv.sh to create one)`);

const dir = mkdtempSync(join(tmpdir(), 'mcore-torch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 6000 values per dtype: ordinary magnitudes, tiny and huge ones, fp8 edges, NaN, ±Inf, ±0. */
function makeInputs(): Record<'float32' | 'float16' | 'bfloat16', Uint8Array> {
  let s = 4242;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const f = new Float32Array(6000);
  for (let i = 0; i < f.length; i++) f[i] = (rnd() - 0.5) * 2 ** Math.floor(rnd() * 60 - 30);
  const specials = [NaN, -NaN, Infinity, -Infinity, 0, -0, 448, 464, 465, 480, 500, 57344, 61440, 61439, 65504, 65520, 65519.99, 2 ** -10, 2 ** -17, 3e38, 1e-40];
  f.set(specials.map(Math.fround), 0);
  const u = new Uint32Array(f.buffer);
  u[30] = 0x7fa00000; // NaN with a payload
  u[31] = 0xff812345;
  const f32 = new Uint8Array(f.buffer);
  const f16 = new Uint16Array(6000).map((_, i) => (i < 40 ? [0x7c01, 0xfe00, 0x7e55, 0x0001, 0x8400, 0x7bff][i % 6]! : Math.floor(rnd() * 65536)));
  const bf16 = new Uint16Array(6000).map((_, i) => (i < 40 ? [0x7f81, 0xffc0, 0x7fff, 0x0001, 0x7f7f, 0x8080][i % 6]! : Math.floor(rnd() * 65536)));
  return { float32: f32, float16: new Uint8Array(f16.buffer), bfloat16: new Uint8Array(bf16.buffer) };
}

describe.skipIf(!hasTorch)('native casts vs torch', () => {
  it('match torch byte for byte for casts, weight + 1 and fp8 scaling', () => {
    const inputs = makeInputs();
    for (const [name, bytes] of Object.entries(inputs)) writeFileSync(join(dir, `${name}.bin`), bytes);
    execFileSync(PYTHON, [join(process.cwd(), 'test', 'native', 'torch-crosscheck.py'), dir], { stdio: 'pipe' });
    const native = loadNative();
    const dsts: DType[] = ['float32', 'float16', 'bfloat16', 'float8_e4m3fn', 'float8_e5m2'];
    const problems: string[] = [];
    const compare = (label: string, got: Uint8Array, file: string) => {
      const want = readFileSync(join(dir, file));
      if (!Buffer.from(got).equals(want)) {
        const at = want.findIndex((b, i) => b !== got[i]);
        problems.push(`${label}: first difference at byte ${at}`);
      }
    };
    for (const [sn, bytes] of Object.entries(inputs) as [DType, Uint8Array][]) {
      for (const dn of dsts) if (dn !== sn) compare(`${sn}→${dn}`, native.convertBuffer(bytes, DTYPES[sn].code, DTYPES[dn].code), `${sn}-${dn}.bin`);
      compare(`${sn}+1`, native.convertBuffer(bytes, DTYPES[sn].code, DTYPES[sn].code, 1), `${sn}-add1.bin`);
      compare(`${sn}*0.37→e4m3`, native.convertBuffer(bytes, DTYPES[sn].code, DTYPES.float8_e4m3fn.code, undefined, 0.37), `${sn}-mul-e4m3.bin`);
    }
    expect(problems).toEqual([]);
  });
});
