import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FacesEvidence } from '../../src/analysis/bias/evidence.ts';
import { compareFaces } from '../../src/analysis/bias/faces/compare.ts';
import { combineFaces } from '../../src/analysis/bias/faces/index.ts';
import { type Face, FaceResult } from '../../src/analysis/bias/faces/types.ts';

function face(boxAspect: number, extra: Partial<Face['geometry']> = {}, kind: Face['kind'] = 'photo'): Face {
  return {
    box: { x: 0, y: 0, w: 100 * boxAspect, h: 100 },
    score: 0.9,
    detector: kind === 'photo' ? 'yunet' : 'lbp-animeface',
    kind,
    landmarks: null,
    geometry: {
      boxAspect,
      interOcularRatio: null,
      eyeMouthRatio: null,
      jawWidthRatio: null,
      rollDeg: null,
      ...extra,
    },
  };
}
const image = (...faces: Face[]): FaceResult => ({ faces, detectors: ['yunet', 'peppa-68'] });

describe('compareFaces', () => {
  it('says "insufficient faces" with the counts, never a figure, below minFaces', () => {
    const model = [image(face(1)), image(), image(face(1.1))];
    const ref = Array.from({ length: 10 }, () => image(face(1)));
    assert.deepEqual(compareFaces(model, ref, { seed: 1 }), {
      status: 'insufficient',
      reason: 'insufficient faces: 2 faces in 3 images (need 5)',
    });
    assert.deepEqual(compareFaces(ref, model, { seed: 1 }), {
      status: 'insufficient',
      reason: 'insufficient faces in the reference: 2 faces in 3 images (need 5)',
    });
    assert.equal(compareFaces([image(face(1))], ref, { seed: 1, minFaces: 1 }).status, 'ok');
  });

  it('reports detection rates, the mean with its interval, deviation in % and Hedges g (hand-derived)', () => {
    const a = [1, 1, 1, 1.2, 1.2, 1.2];
    const b = [1, 1, 1, 1, 1, 1, 0.9, 1.1];
    const model = [...a.map((v) => image(face(v))), image(), image()];
    const ref = [
      ...b.map((v) => image(face(v))),
      image(),
      image(),
      image(),
      image(),
      image(),
      image(),
      image(),
      image(),
    ];
    const ev = compareFaces(model, ref, { seed: 42, resamples: 1000 });
    assert.equal(ev.status, 'ok');
    if (ev.status !== 'ok') return;
    FacesEvidence.parse(ev);
    assert.equal(ev.nImages, 8);
    assert.equal(ev.nFaces, 6);
    assert.equal(ev.detectionRate, 6 / 8);
    assert.equal(ev.refDetectionRate, 8 / 16);
    assert.deepEqual(ev.kinds, { photo: 6, anime: 0 });
    assert.deepEqual(ev.aspects, a);
    const f = ev.features.boxAspect!;
    assert.ok(Math.abs(f.mean.estimate - 1.1) < 1e-12);
    assert.ok(Math.abs(f.refMean - 1) < 1e-12);
    assert.ok(Math.abs(f.devPct.estimate - 10) < 1e-9);
    // Pooled SD √((0.06 + 0.02)/12), d = 0.1 / SD, J = 1 − 3/(4·12 − 1).
    const g = (0.1 / Math.sqrt(0.08 / 12)) * (1 - 3 / 47);
    assert.ok(Math.abs(f.effectSize - g) < 1e-9, `${f.effectSize} vs ${g}`);
    assert.equal(f.nFaces, 6);
    assert.equal(f.mean.resamples, 1000);
    assert.ok(f.mean.low <= 1.1 && f.mean.high >= 1.1 && f.mean.low >= 1 && f.mean.high <= 1.2);
    assert.ok(f.devPct.low < 10 && f.devPct.high > 10);
    // Features without values on either side are not compared, and the note says so.
    assert.equal(ev.features.interOcularRatio, undefined);
    assert.match(ev.note ?? '', /not compared.*interOcularRatio \(0 vs 0 values\)/);
  });

  it('is reproducible for a seed and changes with it', () => {
    const model = Array.from({ length: 12 }, (_, i) => image(face(1 + (i % 5) / 10)));
    const ref = Array.from({ length: 12 }, (_, i) => image(face(1 + (i % 3) / 10)));
    const one = compareFaces(model, ref, { seed: 7 });
    assert.deepEqual(compareFaces(model, ref, { seed: 7 }), one);
    assert.notDeepEqual(compareFaces(model, ref, { seed: 8 }), one);
  });

  it('uses only photo faces for landmark features and compares |roll|; anime faces count for the box aspect', () => {
    const withLm = (v: number, roll: number): Face =>
      face(1, { interOcularRatio: v, eyeMouthRatio: 0.5, jawWidthRatio: 0.8, rollDeg: roll });
    const model = [
      ...[0.4, 0.42, 0.44, 0.46, 0.48].map((v, i) => image(withLm(v, i % 2 === 0 ? -10 : 10))),
      image(face(0.8, {}, 'anime'), face(0.9, {}, 'anime')),
    ];
    const ref = [0.4, 0.4, 0.41, 0.39, 0.4, 0.4].map((v, i) => image(withLm(v, [5, -5, 4, 6, 5, -5][i]!)));
    const ev = compareFaces(model, ref, { seed: 3 });
    assert.equal(ev.status, 'ok');
    if (ev.status !== 'ok') return;
    assert.deepEqual(ev.kinds, { photo: 5, anime: 2 });
    assert.equal(ev.features.boxAspect!.nFaces, 7);
    assert.equal(ev.features.interOcularRatio!.nFaces, 5);
    assert.ok(Math.abs(ev.features.rollAbsDeg!.mean.estimate - 10) < 1e-12);
    assert.ok(Math.abs(ev.features.rollAbsDeg!.devPct.estimate - 100) < 1e-9);
    assert.match(ev.note ?? '', /2 anime faces \(boxes only\): landmark features use the 5 photo faces/);
    // eyeMouthRatio is 0.5 on every face of both sides: no difference (g = 0, 0 %), not an infinite effect.
    assert.equal(ev.features.eyeMouthRatio!.effectSize, 0);
    assert.equal(ev.features.eyeMouthRatio!.devPct.estimate, 0);
    // jawWidthRatio is constant on both sides but differs: an infinite Hedges g is not reported as a number.
    const shifted = ref.map((r) =>
      image({ ...r.faces[0]!, geometry: { ...r.faces[0]!.geometry, jawWidthRatio: 0.7 } }),
    );
    const degenerate = compareFaces(model, shifted, { seed: 3 });
    assert.equal(degenerate.status === 'ok' && degenerate.features.jawWidthRatio, undefined);
    assert.match(
      degenerate.status === 'ok' ? (degenerate.note ?? '') : '',
      /jawWidthRatio \(reference mean 0 or no spread\)/,
    );
  });
});

describe('combineFaces', () => {
  it('adds anime boxes that overlap no photo face (IoU < 0.3) as kind anime with box-only geometry', () => {
    const photo: Face = { ...face(1), box: { x: 0, y: 0, w: 100, h: 100 } };
    const combined = combineFaces(
      [photo],
      [
        { x: 10, y: 10, w: 100, h: 100 }, // IoU 8100/11900 ≈ 0.68: the same face
        { x: 70, y: 0, w: 100, h: 100 }, // IoU 3000/17000 ≈ 0.18: another face
        { x: 300, y: 300, w: 40, h: 50 },
      ],
    );
    assert.equal(combined.length, 3);
    assert.equal(combined[0], photo);
    assert.deepEqual(
      combined
        .slice(1)
        .map((f) => [f.kind, f.detector, f.landmarks, f.geometry.boxAspect, f.geometry.rollDeg]),
      [
        ['anime', 'lbp-animeface', null, 1, null],
        ['anime', 'lbp-animeface', null, 0.8, null],
      ],
    );
    FaceResult.parse({ faces: combined, detectors: ['yunet', 'lbp-animeface'] });
  });
});
