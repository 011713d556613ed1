import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { hasCode } from '../../src/analysis/errors.ts';
import {
  benjaminiHochberg,
  cliffsDelta,
  jensenShannon,
  mannWhitneyExactSf,
  mannWhitneyU,
  normalSf,
} from '../../src/analysis/stats/tests.ts';

// Reference values: scipy 1.17 / numpy 2.4 via tests/fixtures/stats/make_reference.py (inputs seeded
// and stored with the answers).
interface Reference {
  mannwhitneyu: Array<{
    name: string;
    a: number[];
    b: number[];
    results: Array<{ method: 'auto' | 'exact' | 'asymptotic'; continuity: boolean; u: number; p: number }>;
    cliffs_delta: number;
  }>;
  bh: Array<{ name: string; p: number[]; q: number[] }>;
  jensenshannon: Array<{ name: string; p: number[]; q: number[]; js: number }>;
}
const reference = JSON.parse(
  readFileSync(new URL('../fixtures/stats/reference.json', import.meta.url), 'utf8'),
) as Reference;

function close(actual: number, expected: number, rel = 1e-6, abs = 1e-12): void {
  const tol = Math.max(abs, rel * Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} vs ${expected} (tolerance ${tol})`);
}

describe('Mann–Whitney U agrees with scipy.stats.mannwhitneyu (≤ 1e-6 relative)', () => {
  for (const c of reference.mannwhitneyu) {
    for (const r of c.results) {
      test(`${c.name}, method=${r.method}${r.continuity ? '' : ', no continuity'}`, () => {
        const got = mannWhitneyU(c.a, c.b, { method: r.method, continuity: r.continuity });
        assert.equal(got.u, r.u);
        close(got.p, r.p);
        assert.equal(got.n1, c.a.length);
        assert.equal(got.n2, c.b.length);
        assert.ok(Number.isFinite(got.z));
      });
    }
    test(`${c.name}: Cliff's delta matches the brute-force pair count`, () => {
      close(cliffsDelta(c.a, c.b), c.cliffs_delta, 1e-12);
    });
  }

  test("auto picks scipy's method: exact only when a sample has ≤ 8 values and nothing is tied", () => {
    assert.equal(mannWhitneyU([1, 2, 3], [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]).method, 'exact');
    assert.equal(mannWhitneyU([1, 2, 3], [3, 5, 6]).method, 'normal');
    const nine = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    assert.equal(
      mannWhitneyU(
        nine,
        nine.map((v) => v + 0.5),
      ).method,
      'normal',
    );
  });

  test('all-equal samples give p = 1 and z = 0, never NaN', () => {
    for (const method of ['auto', 'exact', 'asymptotic'] as const) {
      const r = mannWhitneyU([5, 5, 5], [5, 5], { method });
      assert.equal(r.p, 1);
      assert.equal(r.z, 0);
      assert.equal(r.u, 3);
    }
  });

  test('U is the first sample’s statistic and z carries its sign', () => {
    const hi = mannWhitneyU([10, 11, 12, 13], [1, 2, 3]);
    assert.equal(hi.u, 12);
    assert.ok(hi.z > 0);
    const lo = mannWhitneyU([1, 2, 3], [10, 11, 12, 13]);
    assert.equal(lo.u, 0);
    assert.ok(lo.z < 0);
    assert.equal(lo.p, hi.p);
  });

  test('exact distribution: P(U ≥ k) sums to 1 at k = 0 and is symmetric', () => {
    assert.equal(mannWhitneyExactSf(0, 4, 6), 1);
    // P(U ≥ mn) = 1 / C(m+n, m): one arrangement out of C(10, 4) = 210.
    close(mannWhitneyExactSf(24, 4, 6), 1 / 210, 1e-12);
    for (let k = 0; k <= 24; k++) {
      // P(U ≥ k) = P(U ≤ mn − k) = 1 − P(U ≥ mn − k + 1)
      close(mannWhitneyExactSf(k, 4, 6), 1 - mannWhitneyExactSf(24 - k + 1, 4, 6), 1e-12, 1e-15);
      close(mannWhitneyExactSf(k, 6, 4), mannWhitneyExactSf(k, 4, 6), 1e-12, 1e-15);
    }
  });

  test('empty samples and non-finite values are INPUT_INVALID', () => {
    assert.throws(
      () => mannWhitneyU([], [1]),
      (e: unknown) => hasCode(e, 'INPUT_INVALID'),
    );
    assert.throws(
      () => mannWhitneyU([1, Number.NaN], [1]),
      (e: unknown) => hasCode(e, 'INPUT_INVALID'),
    );
    assert.throws(
      () => cliffsDelta([1], []),
      (e: unknown) => hasCode(e, 'INPUT_INVALID'),
    );
  });
});

describe('normal survival function', () => {
  // scipy.stats.norm.sf values.
  const known: Array<[number, number]> = [
    [0, 0.5],
    [1, 0.15865525393145707],
    [1.959963984540054, 0.025],
    [-2, 0.9772498680518208],
    [3, 0.0013498980316300946],
    [6.5, 4.016000583859118e-11],
    [10, 7.61985302416047e-24],
  ];
  for (const [z, sf] of known) {
    test(`sf(${z}) = ${sf}`, () => close(normalSf(z), sf, 1e-9));
  }
});

describe("Cliff's delta", () => {
  test('is +1 / −1 for separated samples and 0 for identical ones', () => {
    assert.equal(cliffsDelta([5, 6, 7], [1, 2]), 1);
    assert.equal(cliffsDelta([1, 2], [5, 6, 7]), -1);
    assert.equal(cliffsDelta([1, 2, 3], [1, 2, 3]), 0);
  });
});

describe('Benjamini–Hochberg agrees with scipy.stats.false_discovery_control', () => {
  for (const c of reference.bh) {
    test(c.name, () => {
      const q = benjaminiHochberg(c.p);
      assert.equal(q.length, c.q.length);
      for (let i = 0; i < q.length; i++) close(q[i]!, c.q[i]!, 1e-12);
    });
  }

  test('nulls pass through and do not count towards m', () => {
    const c = reference.bh[1]!;
    const withNulls: (number | null)[] = [null, ...c.p.slice(0, 4), null, ...c.p.slice(4), null];
    const q = benjaminiHochberg(withNulls);
    assert.equal(q[0], null);
    assert.equal(q[5], null);
    assert.equal(q[q.length - 1], null);
    const packed = q.filter((v): v is number => v !== null);
    for (let i = 0; i < packed.length; i++) close(packed[i]!, c.q[i]!, 1e-12);
  });

  test('is monotone in p and capped at 1; empty input gives empty output', () => {
    const p = [0.9, 0.01, 0.5, 0.02, 0.99, 1];
    const q = benjaminiHochberg(p) as number[];
    const order = p.map((_, i) => i).sort((i, j) => p[i]! - p[j]!);
    for (let k = 1; k < order.length; k++) assert.ok(q[order[k]!]! >= q[order[k - 1]!]!);
    assert.ok(q.every((v) => v <= 1 && v >= p[q.indexOf(v)]!));
    assert.deepEqual(benjaminiHochberg([]), []);
    assert.throws(
      () => benjaminiHochberg([0.5, 1.5]),
      (e: unknown) => hasCode(e, 'INPUT_INVALID'),
    );
    assert.throws(
      () => benjaminiHochberg([Number.NaN]),
      (e: unknown) => hasCode(e, 'INPUT_INVALID'),
    );
  });
});

describe('Jensen–Shannon divergence (base 2) agrees with scipy jensenshannon² ', () => {
  for (const c of reference.jensenshannon) {
    test(c.name, () => close(jensenShannon(c.p, c.q), c.js, 1e-9, 1e-12));
  }

  test('is symmetric, 0 for equal shapes, 1 for disjoint supports', () => {
    assert.equal(jensenShannon([1, 0], [0, 3]), 1);
    assert.equal(jensenShannon([1, 2, 3], [2, 4, 6]), 0);
    close(jensenShannon([1, 2, 0], [0, 1, 1]), jensenShannon([0, 1, 1], [1, 2, 0]), 1e-15);
  });

  test('bad histograms are INPUT_INVALID', () => {
    for (const [p, q] of [
      [[1, 2], [1]],
      [
        [0, 0],
        [1, 1],
      ],
      [
        [-1, 2],
        [1, 1],
      ],
      [
        [Number.NaN, 1],
        [1, 1],
      ],
    ] as const) {
      assert.throws(
        () => jensenShannon(p, q),
        (e: unknown) => hasCode(e, 'INPUT_INVALID'),
      );
    }
  });
});
