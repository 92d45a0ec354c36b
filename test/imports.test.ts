// The import graph of src/: no cycles, and the layers point one way (docs: architecture, "layers a
// reader can walk top to bottom"). src/tensor is the ground floor: it imports nothing from the
// layers above it (autograd, nn, train, ...). Static imports and `export ... from` count, type-only
// ones included; dynamic `import()` (lazy device loading) does not.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;

/** file (relative to the repository) -> the relative files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(src)) {
    const text = readFileSync(file, 'utf8');
    const targets: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const target = resolve(dirname(file), m[1])
        .replace(/\.js$/, '.ts')
        .replace(/\.mjs$/, '.mts');
      targets.push(relative(root, target));
    }
    graph.set(relative(root, file), targets);
  }
  return graph;
}

/** One cycle, as a path that starts and ends at the same file, or null (iterative DFS). */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  for (const start of graph.keys()) {
    if (state.has(start)) continue;
    const stack: Array<{ file: string; next: number }> = [{ file: start, next: 0 }];
    state.set(start, 'open');
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const targets = graph.get(top.file) ?? [];
      if (top.next >= targets.length) {
        state.set(top.file, 'done');
        stack.pop();
        continue;
      }
      const t = targets[top.next++];
      if (!graph.has(t)) continue;
      if (state.get(t) === 'open') {
        const from = stack.findIndex((f) => f.file === t);
        return [...stack.slice(from).map((f) => f.file), t];
      }
      if (!state.has(t)) {
        state.set(t, 'open');
        stack.push({ file: t, next: 0 });
      }
    }
  }
  return null;
}

describe('import graph of src/', () => {
  const graph = importGraph();

  it('finds the files and their imports', () => {
    expect(graph.get('src/autograd/primitives.ts')).toContain('src/tensor/tensor.ts');
    expect(graph.size).toBeGreaterThan(50);
  });

  it('has no cycle', () => {
    expect(findCycle(graph)).toBeNull();
  });

  it('the checker does find a cycle', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(findCycle(g)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('src/tensor imports nothing outside src/tensor', () => {
    const outward = [...graph].flatMap(([file, targets]) =>
      file.startsWith('src/tensor/')
        ? targets.filter((t) => t.startsWith('src/') && !t.startsWith('src/tensor/')).map((t) => `${file} -> ${t}`)
        : [],
    );
    expect(outward).toEqual([]);
  });

  it('src/autograd imports only src/tensor and itself', () => {
    const outward = [...graph].flatMap(([file, targets]) =>
      file.startsWith('src/autograd/')
        ? targets
            .filter((t) => t.startsWith('src/') && !/^src\/(tensor|autograd)\//.test(t))
            .map((t) => `${file} -> ${t}`)
        : [],
    );
    expect(outward).toEqual([]);
  });
});
