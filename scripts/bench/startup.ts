/**
 * CLI start-up: `node dist/cli/main.js --help` against bare `node -e 0`, 7 runs each (min/median/max),
 * on the built CLI (`npm run build` runs first). Goal: --help ≤ 2× bare Node.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { BenchSection } from './types.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function times(args: string[], runs = 7): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: repoRoot, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${r.status}`);
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

export async function run(): Promise<BenchSection> {
  const build = spawnSync('npm', ['run', 'build'], { cwd: repoRoot, stdio: 'ignore' });
  if (build.status !== 0) throw new Error('npm run build failed');
  const rows: BenchSection['rows'] = [];
  const medians: number[] = [];
  for (const [measure, args] of [
    ['bare node -e 0', ['-e', '0']],
    ['node dist/cli/main.js --help', ['dist/cli/main.js', '--help']],
  ] as const) {
    const t = times([...args]);
    const median = t[Math.floor(t.length / 2)]!;
    medians.push(median);
    rows.push({
      measure,
      unit: 'ms',
      min: Math.round(t[0]!),
      median: Math.round(median),
      max: Math.round(t.at(-1)!),
    });
  }
  const ratio = medians[1]! / medians[0]!;
  rows.push({
    measure: 'ratio: --help / bare node',
    unit: 'ratio',
    median: Number(ratio.toFixed(2)),
    goal: '<= 2',
    met: ratio <= 2,
  });
  return {
    name: 'startup: loralens --help vs bare node (built dist)',
    rows,
    notes: [
      '7 runs each, back to back; heavy modules (zod, undici, onnxruntime, sharp, sqlite) load on first use.',
    ],
  };
}
