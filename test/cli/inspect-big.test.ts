// inspect on a ≥ 4 GiB checkpoint file reads only headers and pickles: the CLI child's own read() byte count
// (/proc/self/io rchar, reported by bench/inspect-big.hook.mjs) minus that of a run that opens no checkpoint
// stays under 1 MiB, and the process finishes well under a second. The .distcp file is sparse (its tensor
// bytes are holes), so the test costs ~100 KiB of disk.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bigVocabSpec, runInspect, type SparseCheckpoint, writeSparseTorchDist } from '../../bench/inspect-big.js';
import { BIN } from '../support/cli.js';

const work = mkdtempSync(join(tmpdir(), 'inspect-big-'));
let ck: SparseCheckpoint;

beforeAll(() => {
  ck = writeSparseTorchDist(join(work, 'ckpt'), bigVocabSpec());
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('inspect on a ≥ 4 GiB torch_dist file', () => {
  test('reads < 1 MiB of it and finishes in well under a second', () => {
    expect(ck.fileBytes).toBeGreaterThan(4 * 2 ** 30);
    const baseline = runInspect(BIN, '--help');
    expect(baseline.code).toBe(0);
    const run = runInspect(BIN, ck.root, '--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const readOfCheckpoint = run.io.rchar! - baseline.io.rchar!;
    console.log(`inspect ${(ck.fileBytes / 2 ** 30).toFixed(2)} GiB: read ${readOfCheckpoint} bytes of the checkpoint, process lifetime ${run.io.uptime_ms} ms`);
    expect(readOfCheckpoint).toBeLessThan(1 << 20);
    expect(run.io.uptime_ms).toBeLessThan(1000);

    const rep = JSON.parse(run.stdout);
    expect(rep.tensors.map((t: { name: string }) => t.name).sort()).toEqual([...ck.names].sort());
    const emb = rep.tensors.find((t: { name: string }) => t.name === 'embedding.word_embeddings.weight');
    const spec = bigVocabSpec();
    expect(emb.shape).toEqual([spec.vocabSize, spec.hiddenSize]);
    expect(emb.bytes).toBeGreaterThanOrEqual(4 * 2 ** 30);
    expect(emb.pieces).toHaveLength(1);
    expect(emb.pieces[0].byteLength).toBe(emb.bytes);
    expect(emb.pieces[0].byteOffset + emb.pieces[0].byteLength).toBeLessThanOrEqual(ck.fileBytes);
  });
});
