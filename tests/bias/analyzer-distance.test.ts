import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  distanceEvidence,
  groupDistances,
  refKernelSums,
  shrunkFid,
} from '../../src/analysis/bias/analysis-distance.ts';
import { CMMD_SCALE, cmmd, fid, fidShrunk, kidFull, kidSubsets } from '../../src/analysis/bias/distance.ts';
import { DistanceEvidence } from '../../src/analysis/bias/evidence.ts';
import { gram, type Matrix, matrix } from '../../src/analysis/stats/linalg.ts';
import { seededRandom } from '../../src/analysis/stats/random.ts';

function gaussian(n: number, d: number, seed: number, shift = 0): Matrix {
  const r = seededRandom(seed);
  const data = new Float64Array(n * d);
  for (let i = 0; i < data.length; i++) data[i] = r.normal() * 0.3 + (i % d === 0 ? shift : 0);
  return matrix(n, d, data);
}

const close = (a: number, b: number, rel = 1e-9): void => {
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${a} vs ${b}`);
};

test('the Gram-based FID, KID and CMMD equal distance.ts on the same sets (n below and above d)', () => {
  for (const [n, m, d] of [
    [12, 20, 16],
    [30, 25, 8],
  ] as const) {
    const a = gaussian(n, d, 1, 0.5);
    const b = gaussian(m, d, 2);
    const ev = DistanceEvidence.parse(distanceEvidence(a, b, { seed: 7, resamples: 0 }));
    assert.equal(ev.status, 'ok');
    if (ev.status !== 'ok') return;
    close(ev.fid.estimate, fid(a, b), 1e-6); // √ of near-zero eigenvalues amplifies round-off
    close(ev.kid.estimate, kidFull(a, b));
    close(ev.cmmd.estimate, cmmd(a, b));
    // Same seeded subset draws as kidSubsets when no bootstrap draw came first.
    const sub = kidSubsets(a, b, { seed: 7, subsets: 100, subsetSize: Math.min(n, m) });
    close(ev.kidMean, sub.mean);
    close(ev.kidStd, sub.std);
    assert.equal(ev.n, n);
    assert.equal(ev.nRef, m);
    assert.equal(ev.fidNote !== undefined, Math.min(n, m) <= d);
  }
});

test('the subspace shrunk FID equals distance.ts fidShrunk when no cap applies', () => {
  const a = gaussian(12, 40, 3, 0.4);
  const b = gaussian(15, 40, 4);
  close(shrunkFid(a, b, seededRandom(1)).value, fidShrunk(a, b).value, 1e-7);
});

test('precomputed reference kernel sums give the same distances as computing them in place', () => {
  const a = gaussian(12, 16, 5, 1);
  const b = gaussian(20, 16, 6);
  const direct = distanceEvidence(a, b, { seed: 3, resamples: 20 });
  const pre = distanceEvidence(a, b, { seed: 3, resamples: 20, refSums: refKernelSums(b) });
  assert.deepEqual(pre, direct);
});

test('bootstrap intervals are seeded, contain the estimate region and separate shifted sets from 0', () => {
  const a = gaussian(20, 8, 8, 2);
  const b = gaussian(40, 8, 9);
  const one = distanceEvidence(a, b, { seed: 11, resamples: 100 });
  const two = distanceEvidence(a, b, { seed: 11, resamples: 100 });
  assert.deepEqual(one, two);
  assert.equal(one.status, 'ok');
  if (one.status !== 'ok') return;
  assert.equal(one.fid.resamples, 100);
  assert.ok(one.fid.low > 0 && one.fid.low <= one.fid.high);
  assert.ok(one.cmmd.low > 0);
  assert.ok(one.kid.low > 0);
  const other = distanceEvidence(a, b, { seed: 12, resamples: 100 });
  assert.notDeepEqual(other, one);
});

test('fewer than 10 images on a side is "insufficient samples", never a number', () => {
  const ev = distanceEvidence(gaussian(9, 8, 1), gaussian(40, 8, 2), { seed: 1 });
  assert.equal(ev.status, 'insufficient');
  assert.match(ev.status === 'insufficient' ? ev.reason : '', /^insufficient samples: 9 model image/);
  assert.equal(distanceEvidence(gaussian(20, 8, 1), gaussian(3, 8, 2), { seed: 1 }).status, 'insufficient');
});

test('leave-one-out group distances equal each model against the stacked other models', () => {
  const groups = [gaussian(12, 8, 21, 1), gaussian(15, 8, 22), gaussian(11, 8, 23), gaussian(4, 8, 24)];
  const got = groupDistances(groups, 'population', { seed: 5, resamples: 30 });
  groups.forEach((g, i) => {
    const others = groups.filter((_, j) => j !== i);
    const rows = others.reduce((s, o) => s + o.rows, 0);
    const ref = matrix(rows, 8, new Float64Array(rows * 8));
    let off = 0;
    for (const o of others) {
      ref.data.set(o.data, off * 8);
      off += o.rows;
    }
    const want = distanceEvidence(g, ref, { seed: 5, resamples: 30 });
    assert.equal(got[i]!.status, want.status);
    if (got[i]!.status !== 'ok' || want.status !== 'ok') return;
    const a = got[i] as Extract<typeof want, { status: 'ok' }>;
    for (const k of ['fid', 'kid', 'cmmd'] as const) {
      close(a[k].estimate, want[k].estimate, 1e-7);
      close(a[k].low, want[k].low, 1e-7);
      close(a[k].high, want[k].high, 1e-7);
    }
    close(a.kidMean, want.kidMean, 1e-9);
    close(a.fidShrunk.estimate, want.fidShrunk.estimate, 1e-7);
    assert.equal(a.nRef, rows);
  });
  assert.equal(got[3]!.status, 'insufficient');
});

test('a fixed reference gives the same numbers through groupDistances as one by one', () => {
  const groups = [gaussian(12, 8, 31, 1), gaussian(14, 8, 32)];
  const ref = gaussian(20, 8, 33);
  const got = groupDistances(groups, ref, { seed: 9, resamples: 20 });
  groups.forEach((g, i) => {
    const want = distanceEvidence(g, ref, { seed: 9, resamples: 20 });
    const one = got[i];
    if (one?.status !== 'ok' || want.status !== 'ok') assert.fail('both ok');
    close(one.cmmd.estimate, want.cmmd.estimate, 1e-9);
    close(one.fid.high, want.fid.high, 1e-7);
  });
});

test('leave-one-out reference statistics from population totals give the per-model numbers of the direct sums (≤ 1e-12)', () => {
  const d = 16;
  const groups = [12, 14, 11, 13, 12, 15].map((n, i) => gaussian(n, d, 40 + i, i % 2 ? 0.4 : 0));
  const got = groupDistances(groups, 'population', { seed: 3, resamples: 25 });
  let checked = 0;
  groups.forEach((g, i) => {
    const others = groups.filter((_, j) => j !== i);
    const rows = others.reduce((s, o) => s + o.rows, 0);
    const ref = matrix(rows, d, new Float64Array(rows * d));
    let off = 0;
    for (const o of others) {
      ref.data.set(o.data, off * d);
      off += o.rows;
    }
    // The former per-model computation: the same dot products, every reference sum taken directly.
    const gm = gram(g, g).data;
    const gc = gram(g, ref).data;
    const gr = gram(ref, ref).data;
    const want = distanceEvidence(g, ref, {
      seed: 3,
      resamples: 25,
      refSums: refKernelSums(ref),
      gram: { model: gm, cross: gc, ref: (j, l) => gr[j * rows + l]! },
    });
    const a = got[i]!;
    assert.equal(a.status, 'ok');
    assert.equal(want.status, 'ok');
    if (a.status !== 'ok' || want.status !== 'ok') return;
    // CMMD is reported × CMMD_SCALE: the bound applies to the kernel sums it is computed from.
    const near = (x: number, y: number, what: string, scale = 1) =>
      assert.ok(Math.abs(x - y) <= 1e-12 * scale, `model ${i} ${what}: ${x} vs ${y}`);
    for (const k of ['fid', 'kid', 'cmmd'] as const) {
      const scale = k === 'cmmd' ? CMMD_SCALE : 1;
      near(a[k].estimate, want[k].estimate, `${k} estimate`, scale);
      near(a[k].low, want[k].low, `${k} low`, scale);
      near(a[k].high, want[k].high, `${k} high`, scale);
    }
    near(a.kidMean, want.kidMean, 'kidMean');
    near(a.kidStd, want.kidStd, 'kidStd');
    near(a.fidShrunk.estimate, want.fidShrunk.estimate, 'fidShrunk');
    checked += 1;
  });
  assert.equal(checked, groups.length);
});
