// Test support: a torch.save file past 4 GiB without using 4 GiB of disk (all-zero chunks become holes of
// a sparse file), to exercise the zip64 paths of the generator's zip writer.
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import type { Sink } from '../../tools/generate/sink.js';
import { tensorValue, torchSave, type TensorData } from '../../tools/generate/torch-save.js';

/** A sink that leaves holes for all-zero chunks: a sparse file, so a > 4 GiB zip costs no disk. */
class SparseSink implements Sink {
  position = 0;
  private fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }
  private zeros = Buffer.alloc(64 << 20);
  write(chunk: Uint8Array): void {
    const allZero = chunk.length >= 1 << 20 && chunk.length <= this.zeros.length && Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).equals(this.zeros.subarray(0, chunk.length));
    if (!allZero) writeSync(this.fd, chunk, 0, chunk.length, this.position);
    this.position += chunk.length;
  }
  close(): void {
    ftruncateSync(this.fd, this.position);
    closeSync(this.fd);
  }
}

export const BIG = 2 ** 32 + 4096; // bytes of the big storage: past the 32-bit limit

/** torch.save({'big': uint8[BIG] zeros, 'after': float32[4]}) into a sparse file. */
export function writeBigZip(path: string): { afterValues: number[] } {
  const zeros = new Uint8Array(64 << 20);
  const big: TensorData = {
    dtype: 'uint8',
    shape: [BIG],
    location: 'cpu',
    produce: (w) => {
      for (let left = BIG; left > 0; left -= zeros.length) w(left >= zeros.length ? zeros : zeros.subarray(0, left));
    },
  };
  const afterValues = [1.5, -2.25, 3.125, 4.0625];
  const after: TensorData = { dtype: 'float32', shape: [4], location: 'cpu', produce: (w) => w(new Uint8Array(new Float32Array(afterValues).buffer)) };
  const sink = new SparseSink(path);
  try {
    torchSave(sink, 'big', new Map([['big', tensorValue(big)], ['after', tensorValue(after)]]), 'big');
  } finally {
    sink.close();
  }
  return { afterValues };
}

