import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  allDistances,
  cmmd,
  featureMatrix,
  fid,
  fidIsUnderdetermined,
  fidShrunk,
  kidFull,
  kidSubsets,
} from '../../src/analysis/bias/distance.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import { fromRows, matrix, sqrtPsd, symmetricEigen } from '../../src/analysis/stats/linalg.ts';
import { seededRandom } from '../../src/analysis/stats/random.ts';

// Reference values: numpy 2.4 / scipy 1.17 via tests/fixtures/distance/make_reference.py (pytorch-fid,
// torchmetrics KID and google-research cmmd formulas, re-typed there with their sources).
interface RefCase {
  name: string;
  a: number[][];
  b: number[][];
  kid_indices: [number[], number[]][];
  expected: Record<string, number>;
}
const reference = JSON.parse(
  readFileSync(new URL('../fixtures/distance/reference.json', import.meta.url), 'utf8'),
) as { cases: RefCase[] };

function close(actual: number, expected: number, rel = 1e-3, abs = 1e-9): void {
  const tol = Math.max(abs, rel * Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} vs ${expected} (tolerance ${tol})`);
}

describe('distances agree with numpy/scipy references (≤ 1e-3 relative)', () => {
  for (const c of reference.cases) {
    it(c.name, () => {
      const a = featureMatrix(c.a, 'A');
      const b = featureMatrix(c.b, 'B');
      close(fid(a, b), c.expected.fid!);
      const shrunk = fidShrunk(a, b);
      close(shrunk.value, c.expected.fid_shrunk!);
      close(shrunk.shrinkageA, c.expected.shrinkage_a!);
      close(shrunk.shrinkageB, c.expected.shrinkage_b!);
      close(kidFull(a, b), c.expected.kid_full!);
      const kid = kidSubsets(a, b, { indices: c.kid_indices });
      close(kid.mean, c.expected.kid_mean!);
      close(kid.std, c.expected.kid_std!, 1e-3, 1e-9);
      close(cmmd(a, b), c.expected.cmmd!);
    });
  }
});

describe('linear algebra', () => {
  it('symmetricEigen reconstructs a random symmetric matrix', () => {
    const rng = seededRandom(7);
    const n = 12;
    const m = matrix(n, n);
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        const v = rng.normal();
        m.data[i * n + j] = v;
        m.data[j * n + i] = v;
      }
    }
    const { values, vectors } = symmetricEigen(m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += vectors.data[i * n + k]! * values[k]! * vectors.data[j * n + k]!;
        close(s, m.data[i * n + j]!, 1e-9, 1e-9);
      }
    }
    for (let k = 1; k < n; k++) assert.ok(values[k - 1]! <= values[k]!, 'ascending');
  });

  it('sqrtPsd squares back to the matrix', () => {
    const x = fromRows([
      [4, 1, 0],
      [1, 3, 1],
      [0, 1, 2],
    ]);
    const r = sqrtPsd(x);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += r.data[i * 3 + k]! * r.data[k * 3 + j]!;
        close(s, x.data[i * 3 + j]!, 1e-12, 1e-12);
      }
    }
  });
});

describe('distance properties', () => {
  const rng = seededRandom(11);
  const rows = (n: number, d: number, shift = 0): number[][] =>
    Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal() + shift));

  it('a set against itself: FID ≈ 0, CMMD = 0, KID full ≈ 0 ± sampling', () => {
    const a = featureMatrix(rows(60, 6), 'A');
    close(fid(a, a), 0, 0, 1e-6);
    close(cmmd(a, a), 0, 0, 1e-9);
  });

  it('moving one set away increases every distance', () => {
    const base = rows(80, 5);
    const near = featureMatrix(rows(80, 5, 0.1), 'B');
    const far = featureMatrix(rows(80, 5, 1.5), 'C');
    const a = featureMatrix(base, 'A');
    const dNear = allDistances(a, near, { subsets: 10, subsetSize: 40, seed: 1 });
    const dFar = allDistances(a, far, { subsets: 10, subsetSize: 40, seed: 1 });
    assert.ok(dFar.fid > dNear.fid);
    assert.ok(dFar.kid_full > dNear.kid_full);
    assert.ok(dFar.kid_mean > dNear.kid_mean);
    assert.ok(dFar.cmmd > dNear.cmmd);
    assert.deepEqual([dNear.n_a, dNear.n_b, dNear.dim], [80, 80, 5]);
  });

  it('KID subsets are reproducible by seed and clamp the subset size to the smaller set', () => {
    const a = featureMatrix(rows(30, 4), 'A');
    const b = featureMatrix(rows(20, 4, 0.5), 'B');
    const one = kidSubsets(a, b, { subsets: 8, subsetSize: 1000, seed: 3 });
    const two = kidSubsets(a, b, { subsets: 8, subsetSize: 1000, seed: 3 });
    assert.deepEqual(one, two);
    assert.equal(one.subsetSize, 20);
    const other = kidSubsets(a, b, { subsets: 8, subsetSize: 10, seed: 4 });
    assert.notEqual(other.mean, one.mean);
  });

  it('flags N at or below the dimension', () => {
    assert.equal(fidIsUnderdetermined(40, 600, 512), true);
    assert.equal(fidIsUnderdetermined(600, 600, 512), false);
  });
});

describe('input validation', () => {
  const bad: [string, unknown, RegExp][] = [
    ['not an array', { a: 1 }, /not a JSON array/],
    ['one row', [[1, 2]], /1 row\(s\); at least 2/],
    ['ragged', [[1, 2], [3]], /row 2 has 1 values, but row 1 has 2/],
    [
      'NaN',
      [
        [1, 2],
        [3, Number.NaN],
      ],
      /row 2, value 2 is not a finite number/,
    ],
    [
      'string',
      [
        [1, 2],
        [3, '4'],
      ],
      /row 2, value 2 is not a finite number/,
    ],
    ['empty rows', [[], []], /row 1 is not a non-empty array/],
  ];
  for (const [name, value, message] of bad) {
    it(`refuses ${name} with INPUT_INVALID`, () => {
      assert.throws(
        () => featureMatrix(value, 'A.json'),
        (e: unknown) => hasCode(e, 'INPUT_INVALID') && message.test((e as Error).message),
      );
    });
  }
  it('refuses sets of different dimensions', () => {
    const a = featureMatrix(
      [
        [1, 2],
        [3, 4],
      ],
      'A',
    );
    const b = featureMatrix(
      [
        [1, 2, 3],
        [3, 4, 5],
      ],
      'B',
    );
    assert.throws(() => fid(a, b), /different dimensions \(2 and 3\)/);
  });
});
