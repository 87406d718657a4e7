/**
 * Command-line flags for engine build options, derived from BUILD_FLAGS so that every option has a flag.
 *
 * Two spellings per option:
 *  - ours, kebab-case of the option name: `--max-batch-size 8`, `--paged-context-fmha` / `--no-paged-context-fmha`
 *    (booleans also take `=true|false|enable|disable`), lists repeated (`--lora-dir A --lora-dir B`) or, for
 *    `--lora-target-modules`, comma-separated;
 *  - trtllm-build's own, so a known-good command line can be pasted: `--max_batch_size 8`,
 *    `--remove_input_padding disable`, `--strip_plan`, `--lora_dir A B` (nargs+).
 * Unknown arguments are returned untouched for the caller's own parser.
 */
import { fail } from '../errors.js';
import { BUILD_FLAGS, type BuildFlag, type EngineBuildOptions } from '../engine/index.js';

/** Our spelling of an option's flag. dryRun is `--trtllm-dry-run`: `--dry-run` is the export commands' own (write nothing). */
export function kebab(key: string): string {
  if (key === 'dryRun') return '--trtllm-dry-run';
  return '--' + key.replace(/[A-Z]/g, (m) => '-' + m.toLowerCase());
}

const BY_KEBAB = new Map(BUILD_FLAGS.map((f) => [kebab(f.key), f]));
const BY_TRTLLM = new Map(BUILD_FLAGS.filter((f) => f.flag !== null).map((f) => [f.flag!, f]));

function parseBool(text: string, flag: string): boolean {
  if (text === 'true' || text === 'enable' || text === '1') return true;
  if (text === 'false' || text === 'disable' || text === '0') return false;
  return fail('E_USAGE', `${flag} expects true|false|enable|disable, got '${text}'`);
}

function parseInt10(text: string | undefined, flag: string): number {
  if (text === undefined || !/^-?\d+$/.test(text)) fail('E_USAGE', `${flag} expects an integer, got ${text === undefined ? 'nothing' : `'${text}'`}`);
  return Number(text);
}

function boolKind(f: BuildFlag): boolean {
  return f.kind.type === 'switch' || f.kind.type === 'store-true' || f.kind.type === 'bool';
}

export interface ParsedBuildFlags {
  options: EngineBuildOptions;
  /** arguments that are not build flags, in order */
  rest: string[];
}

export function parseBuildFlags(argv: readonly string[]): ParsedBuildFlags {
  const options: Record<string, unknown> = {};
  const rest: string[] = [];
  const set = (f: BuildFlag, v: unknown, flag: string): void => {
    if (f.kind.type === 'list') {
      const prev = (options[f.key] as string[] | undefined) ?? [];
      options[f.key] = [...prev, ...(v as string[])];
      return;
    }
    if (options[f.key] !== undefined) fail('E_USAGE', `${flag} given twice`);
    options[f.key] = v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    const next = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) fail('E_USAGE', `${name} needs a value`);
      return v;
    };

    // ours: --max-batch-size, --no-strip-plan
    const negated = name.startsWith('--no-') ? BY_KEBAB.get('--' + name.slice(5)) : undefined;
    if (negated && boolKind(negated)) {
      if (inline !== undefined) fail('E_USAGE', `${name} takes no value`);
      set(negated, false, name);
      continue;
    }
    const ours = BY_KEBAB.get(name);
    if (ours) {
      const k = ours.kind;
      if (k.type === 'switch' || k.type === 'store-true' || k.type === 'bool') set(ours, inline === undefined ? true : parseBool(inline, name), name);
      else if (k.type === 'int') set(ours, parseInt10(next(), name), name);
      else if (k.type === 'list') set(ours, k.values ? next().split(',').filter((s) => s !== '') : [next()], name);
      else set(ours, next(), name);
      continue;
    }

    // trtllm-build's: --max_batch_size 8, --remove_input_padding disable, --lora_dir A B
    const theirs = BY_TRTLLM.get(name);
    if (theirs) {
      const k = theirs.kind;
      if (k.type === 'store-true') {
        if (inline !== undefined) fail('E_USAGE', `${name} takes no value`);
        set(theirs, true, name);
      } else if (k.type === 'switch') set(theirs, parseBool(next(), name), name);
      else if (k.type === 'int') set(theirs, parseInt10(next(), name), name);
      else if (k.type === 'list') {
        const vals = inline !== undefined ? [inline] : [];
        while (inline === undefined && i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) vals.push(argv[++i]!);
        if (vals.length === 0) fail('E_USAGE', `${name} needs at least one value`);
        set(theirs, vals, name);
      } else set(theirs, next(), name);
      continue;
    }
    rest.push(arg);
  }
  return { options: options as EngineBuildOptions, rest };
}

/** `--help` lines for every build flag. */
export function buildFlagsHelp(): string {
  const rows = BUILD_FLAGS.map((f) => {
    const k = f.kind;
    const arg = k.type === 'int' ? ' N'
      : k.type === 'choice' ? ` ${k.values.join('|')}`
      : k.type === 'path' ? ' PATH'
      : k.type === 'list' ? (k.values ? ' A,B,..' : ' DIR (repeat)')
      : k.type === 'switch' || k.type === 'bool' ? ` / --no-${kebab(f.key).slice(2)}`
      : '';
    return [`${kebab(f.key)}${arg}`, f.flag ? `${f.help} [${f.flag}]` : f.help];
  });
  const width = Math.min(44, Math.max(...rows.map((r) => r[0]!.length)));
  return rows.map(([a, b]) => `  ${a!.padEnd(width)}  ${b}`).join('\n');
}
