// The engine reads as layers (device, memory, kernels, tuning, model): no file under optimized/webgpu imports,
// directly or through others, a file that imports it. Type-only and dynamic imports count: a cycle of types
// still ties the files' meanings together. The same for the CLI: its entry point loads each command's file,
// and no command's file imports the entry point back (shared helpers have modules of their own).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

/** Every .ts file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []));
}

/** The files under `dir` that `file` imports (static, type-only, re-exports, dynamic). */
function importsOf(file: string, dir: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/g), ...text.matchAll(/import\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]);
  return specifiers.filter((s) => s.startsWith('.') && s.endsWith('.ts')).map((s) => resolve(dirname(file), s)).filter((f) => f.startsWith(dir));
}

/** The first import cycle found, as a list of files (the first repeated at the end), or null. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string): string[] | null => {
    if (state.get(f) === 'done') return null;
    if (state.get(f) === 'open') return [...path.slice(path.indexOf(f)), f];
    state.set(f, 'open');
    path.push(f);
    for (const g of graph.get(f) ?? []) {
      const cycle = visit(g);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(f, 'done');
    return null;
  };
  for (const f of graph.keys()) {
    const cycle = visit(f);
    if (cycle) return cycle;
  }
  return null;
}

describe('no import cycle in the engine or the CLI', () => {
  it('finds a planted cycle (so the check can fail)', () => {
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toBeNull();
  });

  it.each(['optimized/webgpu', 'cli'])('no file under %s imports, directly or through others, a file that imports it', (folder) => {
    const dir = join(ROOT, folder);
    const graph = new Map(sources(dir).map((f) => [f, importsOf(f, dir)]));
    expect(graph.size).toBeGreaterThan(5);
    expect([...graph.values()].flat().length).toBeGreaterThan(10); // the parser sees the imports
    expect(findCycle(graph)?.map((f) => relative(dir, f)).join(' -> ') ?? null).toBeNull();
  });
});
