import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { hasCode } from '../../src/analysis/errors.ts';
import {
  chiSquareSf,
  chiSquareTest,
  fisherExact,
  monteCarloTest,
  shotTypeTest,
} from '../../src/analysis/stats/contingency.ts';

// Reference values: scipy 1.10.1 (Debian python3-scipy) via tests/fixtures/stats/contingency_make_reference.py.
interface Reference {
  chiSquare: { table: number[][]; statistic: number; df: number; p: number }[];
  fisher: { table: number[][]; p: number }[];
  chi2Sf: { x: number; df: number; p: number }[];
  exactPermutation: { table: number[][]; statistic: number; p: number; tables: number }[];
}
const reference = JSON.parse(
  readFileSync(new URL('../fixtures/stats/contingency.json', import.meta.url), 'utf8'),
) as Reference;

function close(actual: number, expected: number, rel: number, abs = 0): void {
  const tol = Math.max(abs, rel * Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} vs ${expected} (tolerance ${tol})`);
}

describe('chi-square', () => {
  it('survival function matches scipy.stats.chi2.sf to 1e-10 relative, far tails included', () => {
    for (const { x, df, p } of reference.chi2Sf) close(chiSquareSf(x, df), p, 1e-10, 1e-300);
  });

  for (const c of reference.chiSquare) {
    it(`chi2_contingency(correction=False) of ${JSON.stringify(c.table)}`, () => {
      const r = chiSquareTest(c.table);
      close(r.statistic, c.statistic, 1e-12, 1e-12);
      assert.equal(r.df, c.df);
      close(r.p, c.p, 1e-9);
    });
  }

  it('a table left with one column after dropping empty ones has df 0 and p 1', () => {
    assert.deepEqual(
      chiSquareTest([
        [0, 4],
        [0, 7],
      ]),
      { statistic: 0, df: 0, p: 1 },
    );
  });

  it('ragged tables and negative or fractional counts are INPUT_INVALID', () => {
    for (const t of [
      [[1, 2], [3]],
      [
        [1, -2],
        [3, 4],
      ],
      [
        [1, 2.5],
        [3, 4],
      ],
    ]) {
      assert.throws(
        () => chiSquareTest(t),
        (e: unknown) => hasCode(e, 'INPUT_INVALID'),
      );
    }
  });
});

describe('Fisher’s exact test', () => {
  for (const c of reference.fisher) {
    it(`fisher_exact two-sided p of ${JSON.stringify(c.table)}`, () =>
      close(fisherExact(c.table).p, c.p, 1e-9));
  }
});

describe('Monte-Carlo permutation test', () => {
  for (const c of reference.exactPermutation) {
    it(`estimates the exact permutation p of ${JSON.stringify(c.table)} (${c.tables} tables enumerated)`, () => {
      const r = monteCarloTest(c.table, { seed: 7, resamples: 20_000 });
      close(r.statistic, c.statistic, 1e-12);
      // Binomial standard error at 20 000 draws is ≤ 0.0036; allow 4 of them.
      assert.ok(Math.abs(r.p - c.p) <= 0.015, `${r.p} vs exact ${c.p}`);
      assert.equal(r.resamples, 20_000);
    });
  }

  it('is reproducible for a seed and varies with it', () => {
    const t = [
      [4, 1, 0, 2],
      [1, 3, 3, 0],
    ];
    assert.deepEqual(
      monteCarloTest(t, { seed: 1, resamples: 500 }),
      monteCarloTest(t, { seed: 1, resamples: 500 }),
    );
    const ps = new Set([1, 2, 3, 4].map((seed) => monteCarloTest(t, { seed, resamples: 500 }).p));
    assert.ok(ps.size > 1);
  });

  it('never reports p = 0: (1 + extreme) / (B + 1)', () => {
    const r = monteCarloTest(
      [
        [30, 0, 0],
        [0, 30, 0],
        [0, 0, 30],
      ],
      { seed: 3, resamples: 999 },
    );
    assert.equal(r.p, 1 / 1000);
  });
});

describe('shotTypeTest chooses the test by expected counts', () => {
  it('chi-square when every expected count is ≥ 5', () => {
    const model = { closeup: 30, half: 22, full: 25, none: 18 };
    const ref = { closeup: 12, half: 5, full: 9, none: 4 };
    const r = shotTypeTest(model, ref, { seed: 1 });
    const c = reference.chiSquare[0]!; // the same counts, rows swapped: X² and p are unchanged
    assert.equal(r.method, 'chi-square');
    close(r.statistic, c.statistic, 1e-12);
    close(r.p, c.p, 1e-9);
  });

  it('Fisher’s exact test for two categories with a small expected count', () => {
    const r = shotTypeTest({ closeup: 8, half: 2 }, { closeup: 1, half: 5 }, { seed: 1 });
    assert.equal(r.method, 'fisher-exact');
    close(r.p, reference.fisher[1]!.p, 1e-9);
  });

  it('Monte-Carlo for more categories with small counts; empty categories are dropped first', () => {
    const r = shotTypeTest(
      { closeup: 3, half: 0, full: 2, none: 0 },
      { closeup: 1, half: 4, full: 0, none: 0 },
      { seed: 5, resamples: 20_000 },
    );
    assert.equal(r.method, 'monte-carlo');
    assert.ok(Math.abs(r.p - reference.exactPermutation[0]!.p) <= 0.015, `${r.p}`);
  });

  it('one category on both sides is no evidence: p = 1', () => {
    assert.deepEqual(shotTypeTest({ none: 4 }, { none: 9 }, { seed: 1 }), {
      method: 'chi-square',
      statistic: 0,
      p: 1,
    });
  });
});
