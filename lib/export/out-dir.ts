// File-level pieces every output uses: atomic single files, our temporaries' names, and E_IO errors that carry
// the operating system's real errno once. Whole output directories: ./atomic-output.ts.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ExportError, isExportError } from '../errors.js';

/** `.<name>.tmp-<pid>-<random>`, as writeFileAtomic, the plan executor and staging directories name temporaries. */
const TEMPORARY = /^\..+\.tmp-(\d+)-[0-9a-z]+$/;

/** A temporary of ours whose writing process no longer exists on this host. */
export function isStaleTemporary(name: string): boolean {
  const m = TEMPORARY.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A temporary of this very process (an output staged inside its target, see atomic-output.ts). */
export function isOwnTemporary(name: string): boolean {
  const m = TEMPORARY.exec(name);
  return m !== null && Number(m[1]) === process.pid;
}

/** Writes `text` to `path` atomically: a temporary file in the same directory, fsync'd, then renamed over it. */
export function writeFileAtomic(path: string, text: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  const bytes = typeof text === 'string' ? new TextEncoder().encode(text) : text;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw ioError(e, path, 'cannot write');
  }
}

/**
 * An operating-system error as E_IO: `E_IO: <doing>: EROFS: read-only file system (file …)` — the errno the
 * system call returned, once (Node's message repeats the path and the syscall, which `file` already says).
 * ExportErrors pass through unchanged.
 */
export function ioError(e: unknown, file: string, doing = 'input/output error'): Error {
  if (isExportError(e)) return e;
  const err = e as NodeJS.ErrnoException;
  const text = typeof err?.message === 'string' ? err.message.split(/, (?:open|mkdir|rename|scandir|stat|lstat|rmdir|unlink|write|read|chmod|copyfile|fsync|close) /)[0]! : String(e);
  const withCode = err?.code && !text.startsWith(err.code) ? `${err.code}: ${text}` : text;
  return new ExportError('E_IO', `${doing}: ${withCode}`, { file, cause: e });
}
