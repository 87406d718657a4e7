// Fuzz inputs: a copy of a real fixture directory with one or two mutations. Unchanged files are hard links to a
// private pristine copy (the shared fixtures are never touched); a mutated file is unlinked and written anew, so
// the pristine copy stays intact. Input i of seed s is always the same, so a finding can be re-created.
import { cpSync, chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { mutateBytes, mutateJson, mutateSafetensors, type Mutated } from './byte-ops.js';
import { mutatePickle } from './pickle-ops.js';
import { Rng } from './rng.js';
import { findZips, mutateZip } from './zip-ops.js';
import { rewriteTorchZip } from '../support/torch-archive.js';
import { readZip } from '../../lib/formats/zip.js';
import { FIXTURES } from '../support/fixtures.js';

export { FIXTURES };

export interface Base {
  /** 'checkpoint': a Megatron checkpoint root; 'trtllm': a TensorRT-LLM checkpoint directory */
  readonly kind: 'checkpoint' | 'trtllm';
  readonly name: string;
  /** the pristine private copy */
  readonly dir: string;
  /** every file, relative to dir */
  readonly files: readonly string[];
}

export interface FuzzCase {
  readonly index: number;
  readonly kind: Base['kind'];
  readonly base: string;
  readonly dir: string;
  /** what was done, in order */
  readonly mutations: readonly string[];
  /** extra trtllm flags (tp/pp/dtype...) */
  readonly trtllmArgs: readonly string[];
  /** also run the hf export */
  readonly hf: boolean;
}

function walk(dir: string, root = dir, out: string[] = []): string[] {
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (lstatSync(p).isDirectory()) walk(p, root, out);
    else out.push(relative(root, p));
  }
  return out;
}

/** Private, writable copies of every Megatron fixture checkpoint and a few TensorRT-LLM references. */
export function prepareBases(workDir: string): Base[] {
  const bases: Base[] = [];
  const add = (kind: Base['kind'], name: string, src: string) => {
    const dir = join(workDir, 'base', name.replaceAll('/', '_'));
    if (!existsSync(dir)) {
      cpSync(src, dir, { recursive: true });
      for (const f of walk(dir)) chmodSync(join(dir, f), 0o644);
    }
    bases.push({ kind, name, dir, files: walk(dir) });
  };
  const meg = join(FIXTURES, 'megatron');
  for (const model of readdirSync(meg).sort()) {
    for (const fmt of readdirSync(join(meg, model)).sort()) {
      for (const layout of readdirSync(join(meg, model, fmt)).sort()) add('checkpoint', `${model}/${fmt}/${layout}`, join(meg, model, fmt, layout));
    }
  }
  const ref = join(FIXTURES, 'reference');
  for (const model of readdirSync(ref).sort()) {
    for (const c of ['tp1_pp1_bfloat16', 'tp2_pp2_bfloat16', 'tp2_pp1_float16']) {
      if (existsSync(join(ref, model, c))) add('trtllm', `${model}/${c}`, join(ref, model, c));
    }
  }
  return bases;
}

/** Mutation weight by file: containers and pickles get most of the attention. */
function weightOf(kind: Base['kind'], rel: string): number {
  const n = basename(rel);
  if (n.endsWith('.pt') || n === '.metadata' || n.endsWith('.distcp') || n.endsWith('.safetensors')) return 10;
  if (n.endsWith('.json')) return kind === 'trtllm' ? 6 : 1;
  return 1;
}

function pickFile(rng: Rng, b: Base): string {
  const total = b.files.reduce((a, f) => a + weightOf(b.kind, f), 0);
  let x = rng.next() * total;
  for (const f of b.files) if ((x -= weightOf(b.kind, f)) < 0) return f;
  return b.files[b.files.length - 1]!;
}

/** data.pkl of a torch zip, and where it lies. */
function zipPickle(path: string): { bytes: Buffer; offset: number } | null {
  try {
    const z = readZip(path);
    for (const [name, e] of z.entries) {
      if (name.endsWith('/data.pkl')) return { bytes: readFileSync(path).subarray(e.dataOffset, e.dataOffset + e.size), offset: e.dataOffset };
    }
  } catch {
    // an already-mutated file: fall back to byte mutations
  }
  return null;
}

/** A pickle from another base to splice from. */
function otherPickle(rng: Rng, bases: readonly Base[]): Buffer {
  const b = rng.pick(bases.filter((x) => x.kind === 'checkpoint'));
  const f = b.files.find((x) => x.endsWith('.metadata')) ?? b.files.find((x) => x.endsWith('.pt'));
  if (!f) return Buffer.alloc(0);
  const p = join(b.dir, f);
  return f.endsWith('.pt') ? (zipPickle(p)?.bytes ?? Buffer.alloc(0)) : readFileSync(p);
}

const TEXT = ['', '10', '10\n', '-1', '0', '99999999999999999999', 'release', 'iter_0000010', '1e1', '0x0a', '\u0000', ' 10 ', '10\n11\n', '../..'];

function mutateFile(rng: Rng, path: string, rel: string, bases: readonly Base[]): string {
  const input = readFileSync(path);
  const name = basename(rel);
  let m: Mutated | null = null;
  const r = rng.next();
  if (name.endsWith('.pt')) {
    const pk = r < 0.45 ? zipPickle(path) : null;
    if (pk) {
      const e = mutatePickle(rng, pk.bytes, otherPickle(rng, bases));
      if (e.bytes.length === pk.bytes.length) {
        const b = Buffer.from(input);
        Buffer.from(e.bytes).copy(b, pk.offset);
        m = { bytes: b, what: `${e.what} (in place)` };
      } else {
        const pre = (readZip(path).entries.keys().next().value as string).split('/')[0];
        m = { bytes: rewriteTorchZip(path, { 'data.pkl': e.bytes }), what: `${e.what} (zip rebuilt, ${pre})` };
      }
    } else if (r < 0.75) m = mutateZip(rng, input);
  } else if (name === '.metadata') {
    if (r < 0.7) {
      const e = mutatePickle(rng, input, otherPickle(rng, bases));
      m = { bytes: Buffer.from(e.bytes), what: e.what };
    }
  } else if (name.endsWith('.distcp')) {
    if (r < 0.4) m = mutateZip(rng, input);
    else if (r < 0.6) {
      // a pickle inside one item, edited in place when the length allows it, shifted otherwise
      const zs = findZips(input);
      const z = zs.length ? rng.pick(zs) : null;
      const at = z ? input.indexOf(Buffer.from([0x80, 0x02]), z.start) : -1;
      if (z && at >= 0 && at < z.eocd) {
        const end = input.indexOf(0x2e, at); // first '.' (STOP) byte: good enough as the pickle's end for splicing
        const pk = input.subarray(at, end > at ? end + 1 : z.eocd);
        const e = mutatePickle(rng, pk, otherPickle(rng, bases));
        m = { bytes: Buffer.concat([input.subarray(0, at), e.bytes, input.subarray(at + pk.length)]), what: `distcp item pickle@${at}: ${e.what}` };
      }
    }
  } else if (name.endsWith('.safetensors')) {
    if (r < 0.6) m = mutateSafetensors(rng, input);
  } else if (name.endsWith('.json')) {
    m = mutateJson(rng, input);
  } else if (name.endsWith('.txt')) {
    if (r < 0.7) {
      const t = rng.pick(TEXT);
      m = { bytes: Buffer.from(t), what: `text → ${JSON.stringify(t)}` };
    }
  }
  m ??= mutateBytes(rng, input);
  unlinkSync(path);
  writeFileSync(path, m.bytes);
  return `${rel}: ${m.what}`;
}

/** Whole-file and directory edits: files removed, duplicated, swapped, replaced by directories, extra shards. */
function mutateTree(rng: Rng, dir: string, files: readonly string[]): string {
  const rel = rng.pick(files);
  const p = join(dir, rel);
  const k = rng.int(6);
  if (k === 0) {
    unlinkSync(p);
    return `${rel}: removed`;
  }
  if (k === 1 && files.length > 1) {
    const other = rng.pick(files.filter((f) => f !== rel));
    unlinkSync(p);
    linkSync(join(dir, other), p);
    return `${rel}: replaced by a copy of ${other}`;
  }
  if (k === 2 && files.length > 1) {
    const other = rng.pick(files.filter((f) => f !== rel));
    const tmp = `${p}.swap`;
    renameSync(p, tmp);
    renameSync(join(dir, other), p);
    renameSync(tmp, join(dir, other));
    return `${rel} and ${other}: swapped`;
  }
  if (k === 3) {
    unlinkSync(p);
    mkdirSync(p);
    return `${rel}: replaced by a directory`;
  }
  if (k === 4) {
    // an extra shard / rank directory next to the real ones
    const d = dirname(p);
    const extra = rng.pick(['__7_0.distcp', 'mp_rank_07/model_optim_rng.pt', 'mp_rank_00_009/model_optim_rng.pt', 'rank9.safetensors', 'iter_0000011']);
    mkdirSync(dirname(join(d, extra)), { recursive: true });
    if (!existsSync(join(d, extra))) linkSync(p, join(d, extra));
    return `${relative(dir, join(d, extra))}: extra copy of ${rel}`;
  }
  if (dirname(rel) === '.') {
    unlinkSync(p);
    return `${rel}: removed`;
  }
  rmSync(dirname(p), { recursive: true, force: true });
  return `${dirname(rel)}/: directory removed`;
}

const TRTLLM_ARGS: readonly (readonly string[])[] = [[], [], [], ['--tp', '2'], ['--pp', '2'], ['--tp', '2', '--pp', '2'], ['--dtype', 'float16'], ['--dtype', 'float32'], ['--vocab-size', '200'], ['--tp', '2', '--parallel-embedding'], ['--threads', '1']];

/** Builds fuzz input `index` of `seed` under `casesDir` (which must exist). */
export function makeCase(bases: readonly Base[], seed: number, index: number, casesDir: string): FuzzCase {
  const rng = new Rng((seed * 0x9e3779b1) ^ (index * 0x85ebca6b) ^ 0x5bd1e995);
  const base = rng.chance(0.8) ? rng.pick(bases.filter((b) => b.kind === 'checkpoint')) : rng.pick(bases.filter((b) => b.kind === 'trtllm'));
  const dir = join(casesDir, String(index));
  rmSync(dir, { recursive: true, force: true });
  for (const f of base.files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    linkSync(join(base.dir, f), join(dir, f));
  }
  const mutations: string[] = [];
  const rounds = rng.chance(0.15) ? 2 : 1;
  for (let i = 0; i < rounds; i++) {
    const files = walk(dir);
    if (files.length === 0) break;
    if (rng.chance(0.06)) mutations.push(mutateTree(rng, dir, files));
    else {
      const rel = pickFile(rng, { ...base, files });
      mutations.push(mutateFile(rng, join(dir, rel), rel, bases));
    }
  }
  return { index, kind: base.kind, base: base.name, dir, mutations, trtllmArgs: rng.pick(TRTLLM_ARGS), hf: rng.chance(0.25) };
}
