// The library's import graph (value and type imports alike): no cycles, and the layers only import downwards
// (readers know no target format; the conversion rules know nothing of building engines beyond its entry point).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const LIB = resolve(import.meta.dirname, '../../lib');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** lib-relative module → the lib-relative modules it imports or re-exports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(LIB)) {
    const text = readFileSync(file, 'utf8');
    const deps = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g)].map((m) =>
      relative(LIB, resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))),
    );
    graph.set(relative(LIB, file), deps);
  }
  return graph;
}

/** Every cycle found by depth-first search, each as the list of modules on it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (m: string): void => {
    state.set(m, 'open');
    stack.push(m);
    for (const d of graph.get(m) ?? []) {
      if (state.get(d) === 'open') found.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(m, 'done');
  };
  for (const m of graph.keys()) if (!state.has(m)) visit(m);
  return found;
}

const layer = (m: string): string => m.split('/')[0]!;

describe('lib/ import graph', () => {
  const graph = importGraph();

  it('sees the whole library', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('index.ts')!.length).toBeGreaterThan(3);
  });

  it('has no import cycles', () => {
    expect(cycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('readers (formats, megatron, tensor) import no target format, plan executor, engine build or CLI', () => {
    const upper = new Set(['trtllm', 'hf', 'engine', 'cli', 'scale', 'export']);
    const bad = [...graph].flatMap(([m, deps]) =>
      ['formats', 'megatron', 'tensor'].includes(layer(m)) ? deps.filter((d) => upper.has(layer(d))).map((d) => `${m} -> ${d}`) : [],
    );
    expect(bad).toEqual([]);
  });

  it('lib/trtllm reaches lib/engine only through its public entry (lib/engine/index.ts)', () => {
    const bad = [...graph].flatMap(([m, deps]) =>
      layer(m) === 'trtllm' ? deps.filter((d) => layer(d) === 'engine' && d !== 'engine/index.ts').map((d) => `${m} -> ${d}`) : [],
    );
    expect(bad).toEqual([]);
  });
});
