// Output directories that appear whole or not at all, for every export (trtllm, hf, engine builds).
//
// The new output is written into a hidden staging directory beside the target (`.<name>.tmp-<pid>-<random>`,
// same file system) and moved into place only when complete; a previous export stays where it is until then.
// `force` replaces a previous export only when every entry of the target is a file our exports write (known by
// name, `OutputKind.owns`); anything else refuses with E_USAGE naming it, so --force never deletes what we did
// not write. Nothing is created before the checks have passed, and a failure removes everything it created.
//
// A target that is a mount point cannot be renamed over: the staging directory then goes inside it and the
// files are moved in one by one (each atomically, the set not) — the one case without an all-or-nothing swap.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fail, isExportError } from '../errors.js';
import { ioError, isStaleTemporary } from './out-dir.js';

/** Which files an export of one kind writes, so `force` can tell them from everything else. */
export interface OutputKind {
  /** e.g. 'TensorRT-LLM checkpoint', for messages */
  readonly what: string;
  /** true for a file name (no path) that an export of this kind writes */
  owns(name: string): boolean;
  /** the flag that allows replacing a previous export (--force, --overwrite) */
  readonly forceFlag?: string;
}

export interface AtomicOutput {
  /** the target, resolved */
  readonly target: string;
  /** where to write the new output */
  readonly dir: string;
  /** moves the complete output into place (replacing a previous export of ours) */
  commit(): void;
  /** removes the staging directory and any directory this output created; safe to call twice */
  discard(): void;
  /** discard(), and `e` with staging paths in its message replaced by the target's (what the user knows) */
  abandon(e: unknown): unknown;
}

/** What is at the target now: the result of the read-only checks. */
export interface OutputCheck {
  readonly target: string;
  readonly exists: boolean;
  /** our files in the target (replaced when committing with force) */
  readonly previous: readonly string[];
}

const MAX_LISTED = 8;

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError(e, path, 'cannot inspect the output path');
  }
}

function list(names: readonly string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown} and ${names.length - MAX_LISTED} more` : shown;
}

/** `.<target>.tmp-…` staging and `.<target>.old-…` swap directories of `target` in its parent. */
const stagingPrefix = (target: string) => `.${basename(target)}.tmp-`;
const oldPrefix = (target: string) => `.${basename(target)}.old-`;

/**
 * The previous output of a process killed between the two renames of a swap is `.<target>.old-<pid>-…` with no
 * target: put it back, so a crash at that moment loses nothing.
 */
function restoreInterruptedSwap(target: string): void {
  const parent = dirname(target);
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  const dead = (n: string) => isStaleTemporary(stagingPrefix(target) + n.slice(oldPrefix(target).length));
  const old = names.filter((n) => n.startsWith(oldPrefix(target)) && dead(n)).map((n) => join(parent, n));
  if (old.length > 0 && statOrNull(target) === null) {
    try {
      renameSync(old.shift()!, target);
    } catch (e) {
      throw ioError(e, target, 'cannot restore the previous output of an interrupted export');
    }
  }
  // a swap killed after its second rename: the previous output it set aside is garbage
  for (const o of old) rmSync(o, { recursive: true, force: true });
}

/**
 * Read-only checks of the target (plus putting back a previous output an interrupted swap left aside): a file
 * is refused; a non-empty directory needs `force`, and then may hold only files of `kind` and our stale
 * temporaries. Throws E_USAGE naming the entries; writes nothing.
 */
export function checkOutput(targetPath: string, kind: OutputKind, force: boolean): OutputCheck {
  const target = resolve(targetPath);
  const flag = kind.forceFlag ?? '--force';
  restoreInterruptedSwap(target);
  const st = statOrNull(target);
  if (st === null) return { target, exists: false, previous: [] };
  if (!st.isDirectory()) fail('E_USAGE', 'the output path exists and is not a directory', { file: target });
  let names: string[];
  try {
    names = readdirSync(target);
  } catch (e) {
    throw ioError(e, target, 'cannot read the output directory');
  }
  const entries = names.filter((n) => !isStaleTemporary(n));
  const foreign = entries.filter((n) => !kind.owns(n) || !statSync(join(target, n)).isFile()).sort();
  const previous = entries.filter((n) => !foreign.includes(n)).sort();
  if (entries.length > 0 && !force) {
    fail('E_USAGE', `the output directory is not empty (${list(entries.sort())}); pass ${flag} to replace a previous ${kind.what} there`, { file: target });
  }
  if (foreign.length > 0) {
    fail('E_USAGE', `the output directory holds ${foreign.length} entr${foreign.length === 1 ? 'y' : 'ies'} that no ${kind.what} export writes ` +
      `(${list(foreign)}); ${flag} replaces only a previous export's own files, so nothing was touched: move them or choose another directory`, { file: target });
  }
  return { target, exists: true, previous };
}

/**
 * Creates the missing directories of `dir` one level at a time (Node's recursive mkdir loops forever on some
 * paths, e.g. under /proc). Returns the directories it created, deepest last; errors carry the real errno.
 */
export function makeDirs(dir: string): string[] {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    const st = statOrNull(p);
    if (st !== null) {
      if (!st.isDirectory()) fail('E_IO', 'cannot create the output directory: ENOTDIR: a parent is not a directory', { file: p });
      break;
    }
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  const created: string[] = [];
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
      created.push(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statOrNull(d)?.isDirectory()) continue; // another process
      removeCreated(created);
      throw ioError(e, d, 'cannot create the output directory');
    }
  }
  return created;
}

/** Removes directories `makeDirs` created, deepest first, as long as they are empty. */
function removeCreated(created: readonly string[]): void {
  for (const d of [...created].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty (another process writes there too) or already gone
    }
  }
}

function removeStaleStaging(parent: string, target: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(stagingPrefix(target)) && isStaleTemporary(n)) rmSync(join(parent, n), { recursive: true, force: true });
}

/**
 * Checks the target (checkOutput) and starts a staged output: call it after every other check has passed, since
 * it is the first thing that writes. Write into `.dir`, then `commit()`; on any failure `discard()`.
 */
export function beginOutput(targetPath: string, kind: OutputKind, force: boolean): AtomicOutput {
  const checked = checkOutput(targetPath, kind, force);
  const { target } = checked;
  const parent = dirname(target);
  const created = makeDirs(parent);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const targetStat = checked.exists ? statSync(target) : null;
  // a mount point (or any target on another file system than its parent) cannot be renamed over
  const inside = targetStat !== null && targetStat.dev !== statSync(parent).dev;
  const dir = inside ? join(target, `.mcore-export.tmp-${tag}`) : join(parent, `${stagingPrefix(target)}${tag}`);
  try {
    removeStaleStaging(inside ? target : parent, inside ? '.mcore-export' : target);
    if (checked.exists) for (const n of readdirSync(target)) if (isStaleTemporary(n)) rmSync(join(target, n), { recursive: true, force: true });
    mkdirSync(dir);
    if (targetStat) chmodSync(dir, targetStat.mode & 0o7777);
  } catch (e) {
    removeCreated(created);
    throw ioError(e, dir, 'cannot create the staging directory');
  }
  let done = false;
  const discard = () => {
    if (done) return;
    done = true;
    rmSync(dir, { recursive: true, force: true });
    if (!inside) removeCreated(created);
  };
  const commit = () => {
    if (done) fail('E_USAGE', 'this output was already committed or discarded', { file: target });
    try {
      // the target may have changed while we wrote: check again, with the same rules
      const now = checkOutput(target, kind, force);
      if (inside) moveFilesInto(dir, target, now.previous);
      else swapInto(dir, target, now.exists, tag);
    } catch (e) {
      discard();
      throw ioError(e, target, 'cannot move the finished output into place');
    }
    done = true;
  };
  return { target, dir, commit, discard, abandon: (e) => (discard(), nameTarget(e, dir, target)) };
}

/** `<staging>/.name.tmp-…` and `<staging>/name` in an ExportError's message and file → `<target>/name`. */
export function nameTarget(e: unknown, staging: string, target: string): unknown {
  if (!isExportError(e) || staging === target) return e;
  const escaped = staging.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const inStaging = new RegExp(`${escaped}(?:/(?:\\.([^/\\s]+?)\\.tmp-\\d+-[0-9a-z]+|([^/\\s:)]+)))?`, 'g');
  const fix = (text: string) => text.replace(inStaging, (_m, temp?: string, name?: string) => (temp ?? name ? join(target, (temp ?? name)!) : target));
  const mutable = e as { message: string; file?: string };
  mutable.message = fix(e.message);
  if (e.file !== undefined) mutable.file = fix(e.file);
  return e;
}

/** rename(2) replaces an absent or empty target atomically; a previous export is moved aside first. */
function swapInto(staging: string, target: string, exists: boolean, tag: string): void {
  const empty = exists && readdirSync(target).length === 0;
  if (!exists || empty) {
    renameSync(staging, target);
    return;
  }
  const old = join(dirname(target), `${oldPrefix(target)}${tag}`);
  renameSync(target, old);
  try {
    renameSync(staging, target);
  } catch (e) {
    renameSync(old, target);
    throw e;
  }
  rmSync(old, { recursive: true, force: true });
}

/** Mount-point targets: our previous files out, the new ones in (each rename atomic), the staging dir gone. */
function moveFilesInto(staging: string, target: string, previous: readonly string[]): void {
  const next = readdirSync(staging);
  for (const n of previous) if (!next.includes(n)) rmSync(join(target, n), { force: true });
  for (const n of next) renameSync(join(staging, n), join(target, n));
  rmdirSync(staging);
}

/**
 * A directory several processes write together (a partitioned export): created if missing (after the checks),
 * each process replacing only its own files, each file atomically. `mine(name)` are this process's files
 * (replaced without force: re-running a failed share is the normal way to finish); entries that are not files
 * of `kind` refuse, as does anything else unless `force`.
 */
export function beginSharedOutput(targetPath: string, kind: OutputKind, mine: (name: string) => boolean): AtomicOutput {
  const target = resolve(targetPath);
  const st = statOrNull(target);
  if (st !== null && !st.isDirectory()) fail('E_USAGE', 'the output path exists and is not a directory', { file: target });
  const names = st === null ? [] : readdirSync(target).filter((n) => !isStaleTemporary(n));
  const foreign = names.filter((n) => !kind.owns(n) && !/^\..+\.tmp-\d+-[0-9a-z]+$/.test(n)).sort();
  if (foreign.length > 0) {
    fail('E_USAGE', `the shared output directory holds ${foreign.length} entr${foreign.length === 1 ? 'y' : 'ies'} that no ${kind.what} export writes (${list(foreign)}); ` +
      'nothing was touched: move them or choose another directory', { file: target });
  }
  const created = makeDirs(target);
  for (const n of st === null ? [] : readdirSync(target)) {
    if (isStaleTemporary(n) && mine(n.replace(/^\.(.+)\.tmp-\d+-[0-9a-z]+$/, '$1'))) rmSync(join(target, n), { force: true });
  }
  let done = false;
  const discard = () => {
    if (!done) removeCreated(created);
    done = true;
  };
  return {
    target,
    dir: target,
    commit: () => {
      done = true;
    },
    discard,
    abandon: (e) => (discard(), e),
  };
}
