/**
 * Bias bench: the per-model CLIP distances of a top-50 audit (50 models × 40 images, dimension 512,
 * population leave-one-out) as the bias analyzer computes them (one audit-wide Gram matrix, seeded
 * bootstrap of each model's images), for 0 and DISTANCE_RESAMPLES resamples, and one model's FID +
 * KID + CMMD by distance.ts (d × d covariances) against the Gram-based path for the same pair.
 */
import {
  DISTANCE_RESAMPLES,
  distanceEvidence,
  groupDistances,
} from '../../src/analysis/bias/analysis-distance.ts';
import { cmmd, fid, kidFull } from '../../src/analysis/bias/distance.ts';
import { type Matrix, matrix } from '../../src/analysis/stats/linalg.ts';
import { seededRandom } from '../../src/analysis/stats/random.ts';
import type { BenchSection } from './types.ts';

function unitRows(n: number, d: number, seed: number): Matrix {
  const rng = seededRandom(seed);
  const m = matrix(n, d);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < d; j++) {
      const v = rng.normal();
      m.data[i * d + j] = v;
      norm += v * v;
    }
    for (let j = 0; j < d; j++) m.data[i * d + j]! /= Math.sqrt(norm);
  }
  return m;
}

const seconds = (fn: () => unknown): number => {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
};

export async function run(): Promise<BenchSection> {
  const models = 50;
  const perModel = 40;
  const d = 512;
  const groups = Array.from({ length: models }, (_, i) => unitRows(perModel, d, i + 1));
  const rows: BenchSection['rows'] = [];
  for (const resamples of [0, DISTANCE_RESAMPLES]) {
    const s = seconds(() => groupDistances(groups, 'population', { seed: 1, resamples }));
    rows.push({ case: `top-50 population distances, ${resamples} resamples`, seconds: Number(s.toFixed(2)) });
  }
  const a = groups[0]!;
  const ref = unitRows(models * perModel - perModel, d, 999);
  const plain = seconds(() => [fid(a, ref), kidFull(a, ref), cmmd(a, ref)]);
  const gram = seconds(() => distanceEvidence(a, ref, { seed: 1, resamples: 0 }));
  rows.push({
    case: 'one model vs 1960 images: distance.ts FID + KID + CMMD',
    seconds: Number(plain.toFixed(2)),
  });
  rows.push({
    case: 'one model vs 1960 images: Gram-based (all four, no bootstrap)',
    seconds: Number(gram.toFixed(2)),
  });
  return {
    name: 'bias',
    rows,
    notes: [
      `intervals use ${DISTANCE_RESAMPLES} bootstrap resamples of each model's images (reference fixed)`,
      'the Gram-based numbers equal distance.ts to 1e-9 relative (tests/bias/analyzer-distance.test.ts)',
    ],
  };
}
