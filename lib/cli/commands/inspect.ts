// `mcore-export inspect CKPT`: what a checkpoint holds, read from headers and pickles only (no tensor bytes).
import { relative } from 'node:path';
import { fail } from '../../errors.js';
import { hfRuleFor } from '../../hf/convert.js';
import { describeArchitecture } from '../../megatron/architecture.js';
import { explainModelFamily, explainModelType } from '../../megatron/model-type.js';
import { openCheckpoint } from '../../megatron/open.js';
import { type Checkpoint, type ModelType, MODEL_TYPES } from '../../megatron/types.js';
import { itemsize } from '../../tensor/dtype.js';
import { fmtShape, numel } from '../../tensor/shape.js';
import type { Tensor } from '../../tensor/tensor.js';
import { reach } from '../../tensor/view.js';
import type { Command } from '../command.js';

interface InspectArgs {
  path: string;
  json: boolean;
  modelType?: ModelType;
}

function parseArgs(argv: string[]): InspectArgs {
  let path: string | undefined;
  let json = false;
  let modelType: ModelType | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = true;
    else if (a === '--model-type' || a.startsWith('--model-type=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) fail('E_USAGE', '--model-type needs a value');
      if (v !== 'auto') {
        if (!(MODEL_TYPES as readonly string[]).includes(v)) fail('E_USAGE', `unknown model type '${v}'; expected auto or one of ${MODEL_TYPES.join(', ')}`);
        modelType = v as ModelType;
      }
    } else if (a.startsWith('-')) fail('E_USAGE', `unknown option '${a}'`);
    else if (path === undefined) path = a;
    else fail('E_USAGE', `unexpected argument '${a}' (one checkpoint path is expected)`);
  }
  if (path === undefined) fail('E_USAGE', 'missing checkpoint path');
  return modelType === undefined ? { path, json } : { path, json, modelType };
}

/** Where a logical tensor's bytes are: one piece per block, as file byte ranges (or memory / zeros). */
interface Piece {
  at: number[];
  shape: number[];
  source: 'file' | 'memory' | 'zeros';
  file?: string;
  byteOffset?: number;
  byteLength?: number;
  contiguous: boolean;
}

function pieces(t: Tensor): Piece[] {
  return t.blocks.map((b) => {
    const v = b.view;
    const base = { at: [...b.at], shape: [...v.shape] };
    if (v.storage.kind !== 'file') return { ...base, source: v.storage.kind, contiguous: false };
    const r = reach(v);
    const size = itemsize(v.dtype);
    const start = v.storage.byteOffset + (r ? r.min * size : 0);
    const length = r ? (r.max - r.min + 1) * size : 0;
    return { ...base, source: 'file', file: v.storage.path, byteOffset: start, byteLength: length, contiguous: length === numel(v.shape) * size };
  });
}

function report(c: Checkpoint) {
  const guess = explainModelType(c.config, c.args);
  const tensors = [...c.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape], bytes: numel(t.shape) * itemsize(t.dtype), pieces: pieces(t) }));
  return {
    path: c.path,
    format: c.format,
    iteration: c.iteration,
    layout: c.layout,
    modelType: c.modelType,
    modelTypeSource: c.modelType === guess.modelType ? `guessed: ${guess.reason}` : 'given',
    architecture: { ...describeArchitecture(c.config), familyReason: explainModelFamily(c.config)?.reason ?? null, huggingFace: hfRuleFor(c.config, c.modelType)?.architecture ?? null },
    config: c.config,
    tensorCount: tensors.length,
    totalBytes: tensors.reduce((s, t) => s + t.bytes, 0),
    tensors,
  };
}

function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(2)} ${units[i]}`;
}

function human(r: ReturnType<typeof report>): string {
  const lines: string[] = [];
  const l = r.layout;
  lines.push(`checkpoint  ${r.path}`);
  lines.push(`format      ${r.format}, iteration ${r.iteration ?? 'release'}`);
  lines.push(`trained as  tp ${l.tp}, pp ${l.pp}, ep ${l.ep}, vp ${l.vp} (${l.files.length} data file${l.files.length === 1 ? '' : 's'})`);
  lines.push(`model type  ${r.modelType} (${r.modelTypeSource})`);
  const a = r.architecture;
  if (a.family) lines.push(`family      ${a.family} (${a.familyReason})`);
  lines.push(`hf export   ${a.huggingFace ?? 'none'}`);
  lines.push(`attention   ${a.attention}`);
  lines.push(`mlp         ${a.mlp}`);
  lines.push(`layers      ${a.layers}${a.mtpLayers ? `; ${a.mtpLayers} multi-token-prediction layer(s)` : ''}`);
  lines.push('config');
  const width = Math.max(...Object.keys(r.config).map((k) => k.length));
  for (const [k, v] of Object.entries(r.config)) if (v !== undefined) lines.push(`  ${k.padEnd(width)}  ${JSON.stringify(v)}`);
  lines.push(`tensors     ${r.tensorCount}, ${fmtBytes(r.totalBytes)} (${r.totalBytes} bytes)`);
  const nameWidth = Math.max(...r.tensors.map((t) => t.name.length));
  for (const t of r.tensors) {
    const where = t.pieces.map((p) => (p.source === 'file' ? `${relative(r.path, p.file!) || p.file}@${p.byteOffset}+${p.byteLength}` : p.source));
    const shown = where.length > 3 ? [...where.slice(0, 3), `… ${where.length - 3} more`] : where;
    lines.push(`  ${t.name.padEnd(nameWidth)}  ${t.dtype.padEnd(8)}  ${fmtShape(t.shape).padEnd(16)}  ${shown.join(', ')}`);
  }
  lines.push('files');
  for (const f of l.files) lines.push(`  ${f}`);
  return lines.join('\n') + '\n';
}

export const inspect: Command = {
  name: 'inspect',
  summary: 'show a checkpoint: format, training layout, config, model type, every tensor and where its bytes are',
  help: `Usage: mcore-export inspect CKPT [--json] [--model-type auto|${MODEL_TYPES.join('|')}]

Reads only the checkpoint's headers and pickles (never the tensor data) and prints its format, iteration,
training layout (tp/pp/ep/vp), the TransformerConfig derived from its args, the model type (guessed unless
--model-type is given), the architecture (modern family and the Hugging Face class \`hf\` writes; attention
kind; dense MLP or experts / shared experts / router; which layers are dense and which MoE), and every logical tensor as a TP1 PP1 state dict would name it: dtype, global shape
and the file byte ranges its bytes come from.

  --json              one JSON object on stdout
  --model-type T      use T instead of the guess`,
  async run(argv) {
    const a = parseArgs(argv);
    const c = openCheckpoint(a.path, a.modelType === undefined ? {} : { modelType: a.modelType });
    try {
      const r = report(c);
      process.stdout.write(a.json ? JSON.stringify(r) + '\n' : human(r));
    } finally {
      c.close();
    }
    return 0;
  },
};
