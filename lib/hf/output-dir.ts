// All-or-nothing output directories: everything is written into a hidden staging directory next to the
// destination, which is renamed into place only when complete. A failure or an abort removes the staging
// directory, so a reader never sees a half-written checkpoint.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fail } from '../errors.js';
import { isStaleTemporary } from '../export/out-dir.js';

/** Refuses a destination that is a file, or a non-empty directory unless `force`. Call before any work. */
export function checkDestination(outDir: string, force: boolean): void {
  const out = resolve(outDir);
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) fail('E_USAGE', `output path exists and is not a directory`, { file: out });
  if (!force && readdirSync(out).length > 0) fail('E_USAGE', `output directory is not empty (pass --force / force: true to replace it)`, { file: out });
}

export interface Staging {
  /** where to write */
  readonly dir: string;
  /** moves the finished directory into place (replacing the old one when allowed) */
  commit(): void;
  /** removes the staging directory (after a failure) */
  discard(): void;
}

export function stageDirectory(outDir: string, force: boolean): Staging {
  const out = resolve(outDir);
  checkDestination(out, force);
  const parent = dirname(out);
  try {
    mkdirSync(parent, { recursive: true });
  } catch (e) {
    fail('E_IO', `cannot create the parent directory: ${(e as Error).message}`, { file: parent, cause: e });
  }
  removeStaleStaging(parent, basename(out));
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const dir = join(parent, `.${basename(out)}.tmp-${tag}`);
  try {
    mkdirSync(dir);
  } catch (e) {
    fail('E_IO', `cannot create a staging directory: ${(e as Error).message}`, { file: dir, cause: e });
  }
  return {
    dir,
    commit() {
      checkDestination(out, force);
      const old = existsSync(out) ? join(parent, `.${basename(out)}.old-${tag}`) : undefined;
      try {
        if (old) renameSync(out, old);
        renameSync(dir, out);
      } catch (e) {
        if (old && !existsSync(out)) renameSync(old, out);
        fail('E_IO', `cannot move the finished export into place: ${(e as Error).message}`, { file: out, cause: e });
      }
      if (old) rmSync(old, { recursive: true, force: true });
    },
    discard() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Staging directories of an earlier export to the same destination whose process was killed. */
function removeStaleStaging(parent: string, name: string): void {
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  for (const e of entries) if (e.startsWith(`.${name}.tmp-`) && isStaleTemporary(e)) rmSync(join(parent, e), { recursive: true, force: true });
}
