import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { calibrate, windowSimilarity } from '../../src/analysis/clip/calibration.ts';
import { l2Normalize } from '../../src/analysis/clip/scorer.ts';
import { type Random, seededRandom } from '../../src/analysis/stats/random.ts';

const DIM = 64;
function randomUnit(rng: Random): Float32Array {
  const v = new Float32Array(DIM);
  for (let i = 0; i < DIM; i++) v[i] = rng.normal();
  return l2Normalize(v);
}
/** A unit vector with cosine exactly `c` to the unit vector `base`. */
function near(base: Float32Array, c: number, rng: Random): Float32Array {
  const raw = randomUnit(rng);
  let dot = 0;
  for (let i = 0; i < DIM; i++) dot += raw[i]! * base[i]!;
  const noise = l2Normalize(raw.map((x, i) => x - dot * base[i]!));
  const v = new Float32Array(DIM);
  for (let i = 0; i < DIM; i++) v[i] = c * base[i]! + Math.sqrt(1 - c * c) * noise[i]!;
  return l2Normalize(v);
}

const options = { alpha: 0.05, nullK: 99, minNull: 19 };

describe('calibrated mismatch decision', () => {
  test('a true pair well above the null is not flagged and has a small p-value', () => {
    const rng = seededRandom(1);
    const image = randomUnit(rng);
    const own = [near(image, 0.6, rng)];
    const others = Array.from({ length: 200 }, () => [near(image, 0.1 + 0.05 * rng.normal(), rng)]);
    const d = calibrate(image, own, others, options, seededRandom(2));
    assert.equal(d.lowMatch, false);
    assert.equal(d.pValue, 0.01);
    assert.ok(d.nullQuantile! < d.score);
  });

  test('a prompt no closer than shuffled ones is flagged, even with a raw cosine above 0.3', () => {
    const rng = seededRandom(3);
    const image = randomUnit(rng);
    // Everything sits around 0.32 (ViT-B/32-like), the own prompt included: no evidence of a match.
    const own = [near(image, 0.32, rng)];
    const others = Array.from({ length: 200 }, () => [near(image, 0.32 + 0.03 * rng.normal(), rng)]);
    const d = calibrate(image, own, others, options, seededRandom(4));
    assert.ok(d.score > 0.3);
    assert.equal(d.lowMatch, true);
    assert.ok(d.pValue! > 0.05);
  });

  test('too few distinct other prompts gives no decision rather than a guess', () => {
    const rng = seededRandom(5);
    const image = randomUnit(rng);
    const d = calibrate(image, [near(image, 0.5, rng)], [[randomUnit(rng)]], options, seededRandom(6));
    assert.equal(d.lowMatch, null);
    assert.equal(d.pValue, null);
  });

  test('under the null (own prompt exchangeable with the others) about alpha of images are passed, not flagged', () => {
    // When own and shuffled prompts come from the same distribution, P(score > q_0.95) ≈ 5%.
    const rng = seededRandom(7);
    let notFlagged = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      const image = randomUnit(rng);
      const pool = Array.from({ length: 100 }, () => [near(image, 0.3 + 0.03 * rng.normal(), rng)]);
      const d = calibrate(image, pool[0]!, pool.slice(1), options, rng);
      if (d.lowMatch === false) notFlagged += 1;
    }
    const rate = notFlagged / trials;
    assert.ok(rate > 0.015 && rate < 0.1, `false "match" rate ${rate}`);
  });

  test('the window maximum decides and the mean is reported', () => {
    const rng = seededRandom(8);
    const image = randomUnit(rng);
    const w1 = near(image, 0.1, rng);
    const w2 = near(image, 0.5, rng);
    const s = windowSimilarity(image, [w1, w2]);
    assert.ok(Math.abs(s.max - 0.5) < 1e-5);
    assert.ok(Math.abs(s.mean - 0.3) < 1e-5);
  });

  test('the same seed gives the same decision', () => {
    const rng = seededRandom(9);
    const image = randomUnit(rng);
    const own = [near(image, 0.35, rng)];
    const others = Array.from({ length: 300 }, () => [near(image, 0.3 + 0.03 * rng.normal(), rng)]);
    const a = calibrate(image, own, others, { ...options, nullK: 20 }, seededRandom(10));
    const b = calibrate(image, own, others, { ...options, nullK: 20 }, seededRandom(10));
    assert.deepEqual(a, b);
  });
});
