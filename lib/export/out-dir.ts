import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ExportError, fail, isExportError } from '../errors.js';

/**
 * Makes `dir` ready to receive an export. A directory that exists and holds anything is refused unless `force`;
 * with `force`, only files the export itself would own (`owns(name)`) are removed, nothing else is touched.
 * Call only after every check on the inputs has passed: nothing is written before this.
 */
export function prepareOutDir(dir: string, opts: { force?: boolean | undefined; owns: (name: string) => boolean }): void {
  let entries: string[] = [];
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) fail('E_USAGE', 'output path exists and is not a directory', { file: dir });
    entries = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, dir);
  }
  // temporaries of an earlier export that was killed (its process is gone) are removed: a re-run needs no force
  entries = entries.filter((name) => {
    if (!opts.owns(name) || !isStaleTemporary(name)) return true;
    rmSync(join(dir, name), { force: true });
    return false;
  });
  if (entries.length > 0) {
    if (!opts.force) fail('E_USAGE', `output directory is not empty (${entries.length} entries); pass force (--force) to overwrite`, { file: dir });
    for (const name of entries) if (opts.owns(name)) rmSync(join(dir, name), { force: true });
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw ioError(e, dir);
  }
}

/** `.<name>.tmp-<pid>-<random>`, as writeFileAtomic and the plan executor name their temporaries. */
const TEMPORARY = /^\..+\.tmp-(\d+)-[0-9a-z]+$/;

/** A temporary whose writing process no longer exists on this host. */
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
    throw ioError(e, path);
  }
}

function ioError(e: unknown, file: string): Error {
  if (isExportError(e)) return e;
  const err = e as NodeJS.ErrnoException;
  return new ExportError('E_IO', `${err?.code ?? 'error'}: ${err?.message ?? String(e)}`, { file, cause: e });
}
