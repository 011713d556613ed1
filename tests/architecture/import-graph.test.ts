import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';

const SRC = new URL('../../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every relative module a file imports: static, `import type`, re-exports and dynamic `import()`. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => relative(SRC, resolve(dirname(file), spec)));
}

/** src-relative path → src-relative paths it imports (only files under src/). */
export function importGraph(): Map<string, string[]> {
  const files = sourceFiles(SRC);
  const known = new Set(files.map((f) => relative(SRC, f)));
  return new Map(
    files.map((f) => [relative(SRC, f), importsOf(f).filter((target) => known.has(target))] as const),
  );
}

/** One cycle path (`a → b → a`) per strongly connected component with a cycle (Tarjan). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, indices.get(w) ?? 0));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      for (;;) {
        const w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
        if (w === v) break;
      }
      const selfLoop = component.length === 1 && (graph.get(v) ?? []).includes(v);
      if (component.length > 1 || selfLoop) components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) visit(v);

  // The shortest cycle through each member, rotated to start at its smallest file, deduplicated.
  const cycles = new Map<string, string[]>();
  for (const component of components) {
    const members = new Set(component);
    for (const start of component) {
      const path = shortestCycle(graph, members, start);
      const body = path.slice(0, -1);
      const first = body.indexOf([...body].sort()[0] as string);
      const rotated = [...body.slice(first), ...body.slice(0, first)];
      const cycle = [...rotated, rotated[0] as string];
      cycles.set(cycle.join('\0'), cycle);
    }
  }
  return [...cycles.values()].sort((a, b) => a.join().localeCompare(b.join()));
}

function shortestCycle(graph: Map<string, string[]>, members: Set<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift() as string;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at: string | undefined = v; at !== undefined && at !== start; at = previous.get(at))
          path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

const layerOf = (file: string): string => (file.includes('/') ? (file.split('/')[0] ?? '') : file);

/** What each layer may not import (imports flow bot/cli → commands → app → storage/analysis). */
const FORBIDDEN: Record<string, readonly string[]> = {
  analysis: ['storage', 'app', 'commands', 'bot', 'cli', 'i18n'],
  storage: ['app', 'commands', 'bot', 'cli'],
  app: ['commands', 'bot', 'cli'],
  commands: ['bot', 'cli'],
  i18n: ['analysis', 'storage', 'app', 'commands', 'bot', 'cli'],
};

describe('import graph of src/', () => {
  const graph = importGraph();

  test('the graph is read from every source file, type-only imports included', () => {
    assert.ok(graph.size > 50, `only ${graph.size} files found`);
    assert.ok((graph.get('bot/bot.ts') ?? []).includes('commands/types.ts'), 'import type is an edge');
  });

  test('has no import cycle (each cycle is reported as a path)', () => {
    const cycles = findCycles(graph).map((path) => path.join(' → '));
    assert.deepEqual(cycles, [], `import cycles:\n${cycles.join('\n')}`);
  });

  test('layers import one way: analysis and storage never reach up; commands never import bot or cli', () => {
    const violations: string[] = [];
    for (const [file, targets] of graph) {
      const banned = FORBIDDEN[layerOf(file)] ?? [];
      for (const target of targets) {
        if (banned.includes(layerOf(target))) violations.push(`${file} → ${target}`);
      }
    }
    assert.deepEqual(violations, [], `layer violations:\n${violations.join('\n')}`);
  });

  test('the cycle finder reports a known cycle as a path', () => {
    const cycles = findCycles(
      new Map([
        ['a.ts', ['b.ts']],
        ['b.ts', ['c.ts']],
        ['c.ts', ['a.ts', 'd.ts']],
        ['d.ts', []],
        ['e.ts', ['e.ts']],
      ]),
    );
    assert.deepEqual(cycles, [
      ['a.ts', 'b.ts', 'c.ts', 'a.ts'],
      ['e.ts', 'e.ts'],
    ]);
  });
});
