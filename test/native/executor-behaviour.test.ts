// The executor's contract around the bytes: progress, abort, atomic outputs, hashing, refusal of bad plans.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { features, loadNative } from '../../lib/native.js';
import { executePlan, type ExecuteProgress } from '../../lib/plan/execute.js';
import type { CopyPlan, PlanTensor } from '../../lib/plan/plan.js';
import type { View } from '../../lib/tensor/view.js';

const dir = mkdtempSync(join(tmpdir(), 'mcore-exec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// a 32 MiB f32 source read transposed: slow enough (hundreds of ms on one thread) to observe progress and abort
const ROWS = 2048;
const COLS = 4096;
const bigPath = join(dir, 'big.bin');
const big = new Float32Array(ROWS * COLS).map((_, i) => (i % 1000) / 7);
writeFileSync(bigPath, new Uint8Array(big.buffer));
const bigView: View = { storage: { kind: 'file', path: bigPath, byteOffset: 0, byteLength: big.byteLength }, dtype: 'float32', shape: [ROWS, COLS], strides: [1, ROWS], offset: 0 };

function bigPlan(out: string): CopyPlan {
  const tensors: PlanTensor[] = [0, 1, 2].map((i) => ({ name: `w${i}`, dtype: 'float16', shape: [ROWS, COLS], pieces: [{ dstOffset: 0, dstStrides: [COLS, 1], src: bigView }] }));
  return { files: [{ path: join(out, 'model.safetensors'), tensors }] };
}

const freshDir = (name: string): string => mkdtempSync(join(dir, `${name}-`));

const smallFile = join(dir, 'small.bin');
writeFileSync(smallFile, new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer));
const smallView = (over: Partial<View> = {}): View => ({ storage: { kind: 'file', path: smallFile, byteOffset: 0, byteLength: 24 }, dtype: 'float32', shape: [6], strides: [1], offset: 0, ...over });
const onePiece = (out: string, src: View, shape = [6], extra: Partial<PlanTensor> = {}): CopyPlan => ({
  files: [{ path: join(out, 'x.safetensors'), tensors: [{ name: 'x', dtype: 'float32', shape, pieces: [{ dstOffset: 0, dstStrides: [1], src }], ...extra }] }],
});

async function expectCode(p: Promise<unknown>, code: string, text?: RegExp): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err as { code?: string; message: string },
  );
  expect(e, 'expected a rejection').toBeDefined();
  expect(e!.code).toBe(code);
  if (text) expect(e!.message).toMatch(text);
}

describe('executePlan', () => {
  it('reports monotonic progress ending at the total, and hashes the files', async () => {
    const out = freshDir('progress');
    const seen: ExecuteProgress[] = [];
    const res = await executePlan(bigPlan(out), { threads: 1, onProgress: (p) => seen.push(p), hash: true });
    const size = readFileSync(res.files[0]!.path).byteLength;
    expect(res.bytes).toBe(size);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.bytesDone).toBeGreaterThan(seen[i - 1]!.bytesDone);
    expect(seen.at(-1)).toEqual({ bytesDone: size, bytesTotal: size });
    expect(res.files[0]!.sha256).toBe(createHash('sha256').update(readFileSync(res.files[0]!.path)).digest('hex'));
    expect(readdirSync(out)).toEqual(['model.safetensors']);
  });

  it('stops on abort with E_ABORTED and leaves no file, temporary or final', async () => {
    const out = freshDir('abort');
    const ac = new AbortController();
    const p = executePlan(bigPlan(out), { threads: 1, signal: ac.signal, onProgress: () => ac.abort() });
    await expectCode(p, 'E_ABORTED');
    expect(readdirSync(out)).toEqual([]);
  });

  it('refuses an already aborted signal before doing anything', async () => {
    const out = freshDir('preabort');
    await expectCode(executePlan(bigPlan(out), { signal: AbortSignal.abort() }), 'E_ABORTED');
    expect(readdirSync(out)).toEqual([]);
  });

  it('refuses bad plans before creating any output', async () => {
    const out = freshDir('bad');
    // region outside its file
    await expectCode(executePlan(onePiece(out, smallView({ storage: { kind: 'file', path: smallFile, byteOffset: 8, byteLength: 24 } }))), 'E_FORMAT', /small\.bin/);
    // view outside its region
    await expectCode(executePlan(onePiece(out, smallView({ offset: 1 }))), 'E_FORMAT', /outside its region/);
    // missing source file
    await expectCode(executePlan(onePiece(out, smallView({ storage: { kind: 'file', path: join(dir, 'nope.bin'), byteOffset: 0, byteLength: 24 } }))), 'E_IO', /nope\.bin/);
    // pieces that do not cover the tensor
    await expectCode(executePlan(onePiece(out, smallView({ shape: [5] }))), 'E_FORMAT', /pieces hold 5 elements/);
    // a piece writing one output element twice
    await expectCode(executePlan(onePiece(out, smallView({ shape: [2, 3], strides: [3, 1] }), [6], { pieces: [{ dstOffset: 0, dstStrides: [1, 1], src: smallView({ shape: [2, 3], strides: [3, 1] }) }] })), 'E_FORMAT', /more than once/);
    // piece beyond its tensor
    await expectCode(executePlan(onePiece(out, smallView(), [6], { pieces: [{ dstOffset: 1, dstStrides: [1], src: smallView() }] })), 'E_FORMAT', /tensor x/);
    // an integer source cast to float
    await expectCode(executePlan(onePiece(out, smallView({ dtype: 'int32' }))), 'E_UNSUPPORTED', /int32 to float32/);
    // destination directory missing
    await expectCode(executePlan(onePiece(join(out, 'missing'), smallView())), 'E_NOT_FOUND');
    expect(readdirSync(out)).toEqual([]);
  });

  it('writes a file that is already there atomically (replaced only when complete)', async () => {
    const out = freshDir('replace');
    const target = join(out, 'x.safetensors');
    writeFileSync(target, 'old');
    await expectCode(executePlan(onePiece(out, smallView({ shape: [5] }))), 'E_FORMAT');
    expect(readFileSync(target, 'utf8')).toBe('old');
    await executePlan(onePiece(out, smallView()));
    expect(readFileSync(target).subarray(-24)).toEqual(readFileSync(smallFile));
    expect(readdirSync(out)).toEqual(['x.safetensors']);
  });
});

describe('native surface', () => {
  it('features() describes the build', () => {
    const f = features();
    expect(typeof f.cuda).toBe('boolean');
    expect(f.threads).toBeGreaterThanOrEqual(1);
    expect(f.version).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    if (f.cudaDevices === 0) expect(f.cudaError).toMatch(/\w/);
  });

  it('MappedFile reads inside the file and refuses ranges outside it', () => {
    const m = new (loadNative().MappedFile)(smallFile);
    expect(m.size).toBe(24);
    expect(m.read(4, 8)).toEqual(readFileSync(smallFile).subarray(4, 12));
    expect(() => m.read(20, 8)).toThrow(expect.objectContaining({ code: 'E_FORMAT' }));
    m.advise(0, 24, 'sequential');
    m.close();
    expect(() => m.size).toThrow(expect.objectContaining({ code: 'E_IO' }));
    expect(() => new (loadNative().MappedFile)(join(dir, 'absent'))).toThrow(expect.objectContaining({ code: 'E_IO' }));
    expect(existsSync(join(dir, 'absent'))).toBe(false);
  });
});
