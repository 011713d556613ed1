/**
 * Distance bench: MMD (KID and CMMD kernels) on 1 000 × 1 000 vectors of dimension 512 and FID at
 * the same size; min / median / max of 3 runs each. Both kernels run over the same inputs, so
 * their rows compare like with like (the polynomial and RBF kernels share the Gram matrices).
 */
import { cmmd, fid, kidFull } from '../../src/analysis/bias/distance.ts';
import { matrix } from '../../src/analysis/stats/linalg.ts';
import { seededRandom } from '../../src/analysis/stats/random.ts';
import type { BenchSection } from './types.ts';

function features(n: number, d: number, seed: number, shift: number) {
  const rng = seededRandom(seed);
  const m = matrix(n, d);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < d; j++) {
      const v = rng.normal() + shift;
      m.data[i * d + j] = v;
      norm += v * v;
    }
    // CLIP embeddings are compared L2-normalised.
    const inv = 1 / Math.sqrt(norm);
    for (let j = 0; j < d; j++) m.data[i * d + j]! *= inv;
  }
  return m;
}

function timed(fn: () => number, runs = 3): { min: number; median: number; max: number; value: number } {
  const times: number[] = [];
  let value = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    value = fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return { min: times[0]!, median: times[1]!, max: times[times.length - 1]!, value };
}

export async function run(): Promise<BenchSection> {
  const n = 1000;
  const d = 512;
  const a = features(n, d, 1, 0);
  const b = features(n, d, 2, 0.02);
  // Three n × n Gram matrices of dimension d: 3 · n² · d multiply-adds per MMD.
  const gmac = (3 * n * n * d) / 1e9;
  const rows: BenchSection['rows'] = [];
  for (const [name, fn] of [
    ['kid_full (poly MMD², unbiased)', () => kidFull(a, b)],
    ['cmmd (RBF MMD², biased)', () => cmmd(a, b)],
    ['fid (covariances + eigen, d=512)', () => fid(a, b)],
  ] as const) {
    const t = timed(fn);
    rows.push({
      metric: name,
      n: `${n} × ${n}`,
      dim: d,
      's min': Number(t.min.toFixed(3)),
      's median': Number(t.median.toFixed(3)),
      's max': Number(t.max.toFixed(3)),
      'GMAC/s (median)': name.startsWith('fid') ? null : Number((gmac / t.median).toFixed(2)),
      value: Number(t.value.toPrecision(6)),
    });
  }
  return {
    name: 'distance: MMD / FID on 1 000 × 1 000 × 512',
    rows,
    notes: [
      'single-threaded float64 JavaScript; Gram matrices computed in 256-row blocks (no n × m matrix held)',
      'inputs: seeded unit vectors, second set shifted by 0.02 before normalising',
    ],
  };
}
