// A safetensors checkpoint: one file, or a directory of shards described by `model.safetensors.index.json`
// (Hugging Face's `weight_map`: tensor name → shard file), or a directory of shards without an index.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ExportError, fail } from '../errors.js';
import type { View } from '../tensor/view.js';
import { MAX_HEADER_BYTES, openSafetensorsFile } from './safetensors.js';

export const INDEX_FILE = 'model.safetensors.index.json';

export interface SafetensorsCheckpoint {
  /** what was opened: a file, an index file or a directory */
  readonly path: string;
  /** every shard file the tensors come from, in the order read */
  readonly files: readonly string[];
  /** tensor name → zero-copy view over its shard */
  readonly tensors: ReadonlyMap<string, View>;
  /** each shard's `__metadata__` */
  readonly fileMetadata: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** the index file's `metadata` object (e.g. `total_size`), null without an index */
  readonly indexMetadata: Readonly<Record<string, unknown>> | null;
}

/** Opens a .safetensors file, a `*.index.json`, or a directory holding either. */
export function openSafetensors(path: string): SafetensorsCheckpoint {
  const kind = statKind(path);
  if (kind === 'file') return path.endsWith('.json') ? openIndexed(path) : openFiles(path, [path]);
  const index = join(path, INDEX_FILE);
  if (statKind(index, true) === 'file') return openIndexed(index, path);
  let names: string[];
  try {
    names = readdirSync(path).filter((n) => n.endsWith('.safetensors')).sort();
  } catch (e) {
    return fail('E_IO', `cannot list directory: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { file: path, cause: e });
  }
  if (names.length === 0) fail('E_NOT_FOUND', `no ${INDEX_FILE} and no .safetensors files`, { file: path });
  return openFiles(path, names.map((n) => join(path, n)));
}

/** Shards without an index: their tensors are merged; a name found in two shards is an error. */
function openFiles(path: string, files: readonly string[]): SafetensorsCheckpoint {
  const tensors = new Map<string, View>();
  const owner = new Map<string, string>();
  const fileMetadata = new Map<string, Readonly<Record<string, string>>>();
  for (const file of files) {
    const f = openSafetensorsFile(file);
    fileMetadata.set(file, f.metadata);
    for (const [name, view] of f.tensors) {
      const other = owner.get(name);
      if (other !== undefined) fail('E_FORMAT', `tensor is in two shards: ${other} and ${file}`, { file: path, tensor: name });
      owner.set(name, file);
      tensors.set(name, view);
    }
  }
  return { path, files: [...files], tensors, fileMetadata, indexMetadata: null };
}

/** Shards named by an index: every mapped tensor must be in its shard, and every shard tensor in the map. */
function openIndexed(indexPath: string, openedAs = indexPath): SafetensorsCheckpoint {
  const { weightMap, metadata } = readIndex(indexPath);
  const dir = dirname(indexPath);
  const byFile = new Map<string, string[]>();
  for (const [name, file] of weightMap) {
    const list = byFile.get(file);
    if (list) list.push(name);
    else byFile.set(file, [name]);
  }
  const tensors = new Map<string, View>();
  const fileMetadata = new Map<string, Readonly<Record<string, string>>>();
  const files: string[] = [];
  for (const [file, names] of byFile) {
    const full = shardPath(dir, file, indexPath);
    const f = openSafetensorsFile(full);
    files.push(full);
    fileMetadata.set(full, f.metadata);
    for (const name of names) {
      const view = f.tensors.get(name);
      if (!view) fail('E_FORMAT', `${basename(indexPath)} maps this tensor to ${file}, which does not hold it`, { file: full, tensor: name });
      tensors.set(name, view);
    }
    for (const name of f.tensors.keys()) {
      const mapped = weightMap.get(name);
      if (mapped === undefined) fail('E_FORMAT', `shard holds a tensor that ${basename(indexPath)} does not list`, { file: full, tensor: name });
      if (mapped !== file) fail('E_FORMAT', `shard holds a tensor that ${basename(indexPath)} maps to ${mapped}`, { file: full, tensor: name });
    }
  }
  return { path: openedAs, files, tensors, fileMetadata, indexMetadata: metadata };
}

function readIndex(indexPath: string): { weightMap: Map<string, string>; metadata: Record<string, unknown> | null } {
  const where = { file: indexPath };
  let bytes: Buffer;
  try {
    const size = statSync(indexPath).size;
    if (size > MAX_HEADER_BYTES) fail('E_FORMAT', `index file of ${size} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`, where);
    bytes = readFileSync(indexPath);
  } catch (e) {
    if (e instanceof ExportError) throw e;
    return fail('E_IO', `cannot read index: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { ...where, cause: e });
  }
  let root: unknown;
  try {
    root = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return fail('E_FORMAT', `index is not valid UTF-8 JSON: ${(e as Error).message}`, { ...where, cause: e });
  }
  if (!isObject(root)) fail('E_FORMAT', 'index is not a JSON object', where);
  const wm = root['weight_map'];
  if (!isObject(wm)) fail('E_FORMAT', 'index has no weight_map object', where);
  const weightMap = new Map<string, string>();
  for (const [name, file] of Object.entries(wm)) {
    if (typeof file !== 'string' || file === '') fail('E_FORMAT', 'weight_map value is not a file name', { ...where, tensor: name });
    weightMap.set(name, file);
  }
  const md = root['metadata'];
  if (md !== undefined && md !== null && !isObject(md)) fail('E_FORMAT', 'index metadata is not an object', where);
  return { weightMap, metadata: md ?? null };
}

/** A shard named by the index must stay inside the index's directory. */
function shardPath(dir: string, file: string, indexPath: string): string {
  const full = resolve(dir, file);
  const rel = relative(resolve(dir), full);
  if (isAbsolute(file) || rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    fail('E_SECURITY', `weight_map names a shard outside the checkpoint directory: ${JSON.stringify(file)}`, { file: indexPath });
  }
  if (statKind(full, true) !== 'file') fail('E_NOT_FOUND', `shard named by ${basename(indexPath)} is missing`, { file: full });
  return full;
}

function statKind(path: string, quiet = false): 'file' | 'dir' | 'missing' {
  try {
    const s = statSync(path);
    if (s.isFile()) return 'file';
    if (s.isDirectory()) return 'dir';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') fail('E_IO', `cannot stat: ${code ?? String(e)}`, { file: path, cause: e });
  }
  if (!quiet) fail('E_NOT_FOUND', 'no such file or directory', { file: path });
  return 'missing';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
