import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { hasCode } from '../../src/analysis/errors.ts';
import { empiricalPValue, quantile } from '../../src/analysis/stats/quantile.ts';
import { wilsonInterval } from '../../src/analysis/stats/wilson.ts';

describe('Wilson score interval', () => {
  // Published values: R. G. Newcombe, "Two-sided confidence intervals for the single proportion:
  // comparison of seven methods", Statistics in Medicine 17 (1998) 857–872, Table II, method 3 (score).
  const newcombe: Array<[number, number, number, number]> = [
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ];
  for (const [x, n, low, high] of newcombe) {
    test(`${x}/${n} gives Newcombe's [${low}, ${high}] to 4 decimals`, () => {
      const ci = wilsonInterval(x, n)!;
      assert.ok(Math.abs(ci.low - low) < 5e-5, `low ${ci.low}`);
      assert.ok(Math.abs(ci.high - high) < 5e-5, `high ${ci.high}`);
      assert.equal(ci.rate, x / n);
    });
  }

  test('n = 0 has no interval; bad counts are INPUT_INVALID', () => {
    assert.equal(wilsonInterval(0, 0), null);
    assert.throws(
      () => wilsonInterval(3, 2),
      (e: unknown) => hasCode(e, 'INPUT_INVALID'),
    );
    assert.throws(
      () => wilsonInterval(0.5, 2),
      (e: unknown) => hasCode(e, 'INPUT_INVALID'),
    );
  });

  test('the interval always contains the rate, stays in [0,1] and narrows with n', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, f) => {
        const x = Math.round(f * n);
        const ci = wilsonInterval(x, n)!;
        const big = wilsonInterval(x * 4, n * 4)!;
        return (
          ci.low >= 0 &&
          ci.high <= 1 &&
          ci.low <= ci.rate + 1e-12 &&
          ci.high >= ci.rate - 1e-12 &&
          big.high - big.low < ci.high - ci.low
        );
      }),
    );
  });
});

describe('quantile and empirical p-value', () => {
  test('type-7 quantile matches numpy.quantile on a known sample', () => {
    // numpy.quantile([1, 2, 3, 4, 10], [0.5, 0.95, 0.25]) = [3.0, 8.8, 2.0]
    const s = [10, 1, 3, 2, 4];
    assert.equal(quantile(s, 0.5), 3);
    assert.ok(Math.abs(quantile(s, 0.95) - 8.8) < 1e-12);
    assert.equal(quantile(s, 0.25), 2);
  });
  test('p-value uses the +1 correction', () => {
    assert.equal(empiricalPValue(5, [1, 2, 3]), 0.25);
    assert.equal(empiricalPValue(0, [1, 2, 3]), 1);
    assert.equal(empiricalPValue(2, [1, 2, 3]), 0.75);
  });
});
