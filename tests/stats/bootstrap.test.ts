import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { IntervalEvidence } from '../../src/analysis/bias/evidence.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import {
  bootstrapCi,
  bootstrapIndexCi,
  bootstrapMeanCi,
  bootstrapMeanDiffCi,
  bootstrapRatioPctCi,
  hedgesG,
  type Interval,
} from '../../src/analysis/stats/bootstrap.ts';
import { seededRandom } from '../../src/analysis/stats/random.ts';

// Reference intervals: tests/fixtures/stats/make_reference.py re-implements seededRandom (mulberry32)
// in Python, draws in the same order and takes numpy.percentile (linear) of the replicates; Hedges' g
// from the numpy formula.
interface RefInterval {
  estimate: number;
  low: number;
  high: number;
  level: number;
  resamples: number;
}
interface BootCase {
  name: string;
  a: number[];
  b: number[];
  seed: number;
  resamples: number;
  level: number;
  mean: RefInterval;
  mean_diff: RefInterval;
  ratio_pct: RefInterval;
  hedges_g: number;
}
const reference = JSON.parse(
  readFileSync(new URL('../fixtures/stats/reference.json', import.meta.url), 'utf8'),
) as { bootstrap: BootCase[] };

function close(actual: number, expected: number, rel = 1e-9, abs = 1e-12): void {
  const tol = Math.max(abs, rel * Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} vs ${expected} (tolerance ${tol})`);
}

function sameInterval(got: Interval, want: RefInterval): void {
  close(got.estimate, want.estimate);
  close(got.low, want.low);
  close(got.high, want.high);
  assert.equal(got.level, want.level);
  assert.equal(got.resamples, want.resamples);
}

describe('bootstrap intervals agree with the Python port of the same draws', () => {
  for (const c of reference.bootstrap) {
    const opts = { seed: c.seed, resamples: c.resamples, level: c.level };
    test(`${c.name}: mean, mean difference, ratio in %`, () => {
      sameInterval(bootstrapMeanCi(c.a, opts), c.mean);
      sameInterval(bootstrapMeanDiffCi(c.a, c.b, opts), c.mean_diff);
      sameInterval(bootstrapRatioPctCi(c.a, c.b, opts), c.ratio_pct);
    });
    test(`${c.name}: Hedges' g`, () => close(hedgesG(c.a, c.b), c.hedges_g, 1e-12));
  }
});

describe('bootstrap behaviour', () => {
  const rng = seededRandom(99);
  const a = Array.from({ length: 60 }, () => rng.normal());
  const b = Float64Array.from({ length: 45 }, () => rng.normal() + 0.5);

  test('same seed → identical interval; another seed → different draws', () => {
    const one = bootstrapMeanDiffCi(a, b, { seed: 3 });
    assert.deepEqual(bootstrapMeanDiffCi(a, b, { seed: 3 }), one);
    const other = bootstrapMeanDiffCi(a, b, { seed: 4 });
    assert.equal(other.estimate, one.estimate);
    assert.notEqual(other.low, one.low);
  });

  test('defaults: 2000 resamples at 95 %, and the shape is IntervalEvidence', () => {
    const ci = bootstrapMeanCi(a, { seed: 1 });
    assert.equal(ci.resamples, 2000);
    assert.equal(ci.level, 0.95);
    assert.ok(ci.low < ci.estimate && ci.estimate < ci.high);
    assert.deepEqual(IntervalEvidence.parse(ci), ci);
  });

  test('the interval of a normal mean is close to ±1.96 σ/√n', () => {
    const r = seededRandom(5);
    const x = Array.from({ length: 400 }, () => r.normal());
    const ci = bootstrapMeanCi(x, { seed: 11, resamples: 4000 });
    const m = x.reduce((s, v) => s + v, 0) / x.length;
    const sd = Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / (x.length - 1));
    const half = (1.96 * sd) / Math.sqrt(x.length);
    assert.ok(Math.abs(ci.high - ci.low - 2 * half) < 0.15 * 2 * half, `${ci.low}..${ci.high} vs ±${half}`);
  });

  test('generic bootstraps reproduce the mean bootstrap draw for draw', () => {
    const mean = (x: ArrayLike<number>) => {
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i]!;
      return s / x.length;
    };
    const direct = bootstrapMeanCi(a, { seed: 8, resamples: 1000 });
    assert.deepEqual(bootstrapCi(a, mean, { seed: 8, resamples: 1000 }), direct);
    const viaIdx = bootstrapIndexCi(
      a.length,
      (idx) => {
        let s = 0;
        for (let i = 0; i < idx.length; i++) s += a[idx[i]!]!;
        return s / idx.length;
      },
      { seed: 8, resamples: 1000 },
    );
    assert.deepEqual(viaIdx, direct);
  });

  test('a median bootstrap through the generic form stays inside the sample range', () => {
    const ci = bootstrapCi(
      b,
      (x) => {
        const s = Float64Array.from(x).sort();
        return s[Math.floor(s.length / 2)]!;
      },
      { seed: 2, resamples: 1000 },
    );
    assert.ok(ci.low >= Math.min(...b) && ci.high <= Math.max(...b));
  });

  test('constant samples give a zero-width interval', () => {
    const ci = bootstrapMeanDiffCi([2, 2, 2], [1, 1], { seed: 1 });
    assert.deepEqual([ci.estimate, ci.low, ci.high], [1, 1, 1]);
  });

  test('fewer than 1000 resamples, a bad level or seed, empty or non-finite samples are INPUT_INVALID', () => {
    const bad = (fn: () => unknown) => assert.throws(fn, (e: unknown) => hasCode(e, 'INPUT_INVALID'));
    bad(() => bootstrapMeanCi(a, { seed: 1, resamples: 999 }));
    bad(() => bootstrapMeanCi(a, { seed: 1, level: 1 }));
    bad(() => bootstrapMeanCi(a, { seed: 1.5 }));
    bad(() => bootstrapMeanCi([], { seed: 1 }));
    bad(() => bootstrapMeanDiffCi(a, [Number.POSITIVE_INFINITY], { seed: 1 }));
    bad(() => bootstrapRatioPctCi(a, [0, 0], { seed: 1 }));
    bad(() => bootstrapIndexCi(0, () => 0, { seed: 1 }));
  });
});

describe("Hedges' g", () => {
  test('sign follows mean(a) − mean(b); constant equal samples give 0; n1 + n2 < 3 is INPUT_INVALID', () => {
    assert.ok(hedgesG([3, 4, 5], [0, 1, 2]) > 0);
    assert.ok(hedgesG([0, 1, 2], [3, 4, 5]) < 0);
    // d = 3 / 1 = 3, df = 4, J = 1 − 3/15 = 0.8.
    close(hedgesG([3, 4, 5], [0, 1, 2]), 2.4, 1e-12);
    assert.equal(hedgesG([1, 1], [1, 1, 1]), 0);
    assert.equal(hedgesG([2, 2], [1, 1]), Number.POSITIVE_INFINITY);
    assert.throws(
      () => hedgesG([1], [2]),
      (e: unknown) => hasCode(e, 'INPUT_INVALID'),
    );
  });
});
