// Sequential file output with a known position. Small writes (zip headers, pickles) are coalesced;
// large ones (tensor data) go straight to the file, so memory stays bounded by one chunk.
import { closeSync, openSync, writeSync } from 'node:fs';
import { fail } from '../../lib/errors.js';

export interface Sink {
  /** bytes written so far */
  readonly position: number;
  write(chunk: Uint8Array): void;
}

const COALESCE = 1 << 20;

export class FileSink implements Sink {
  private fd: number;
  private pending = Buffer.alloc(COALESCE);
  private pendingLen = 0;
  position = 0;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (cause) {
      fail('E_IO', 'cannot create file', { file: path, cause });
    }
  }

  write(chunk: Uint8Array): void {
    if (this.pendingLen + chunk.length <= COALESCE) {
      this.pending.set(chunk, this.pendingLen);
      this.pendingLen += chunk.length;
    } else {
      this.flush();
      if (chunk.length < COALESCE / 4) {
        this.pending.set(chunk, 0);
        this.pendingLen = chunk.length;
      } else this.writeAll(chunk);
    }
    this.position += chunk.length;
  }

  private writeAll(chunk: Uint8Array): void {
    let done = 0;
    try {
      while (done < chunk.length) done += writeSync(this.fd, chunk, done, chunk.length - done);
    } catch (cause) {
      fail('E_IO', 'write failed', { file: this.path, cause });
    }
  }

  private flush(): void {
    if (this.pendingLen) this.writeAll(this.pending.subarray(0, this.pendingLen));
    this.pendingLen = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}
