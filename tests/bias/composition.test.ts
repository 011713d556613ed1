import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CompositionFeatures,
  compareComposition,
  compositionFeatures,
  compositionOfRecord,
  SHOT_THRESHOLDS,
  saliencyBox,
  saliencyExtractor,
  shotType,
  thirdsDistance,
} from '../../src/analysis/bias/composition.ts';
import { CompositionEvidence } from '../../src/analysis/bias/evidence.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import type { RawImage } from '../../src/analysis/images/pil-resample.ts';

function close(actual: number, expected: number, tol: number): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} vs ${expected} (±${tol})`);
}

/** A flat background with one filled rectangle. */
function canvas(
  width: number,
  height: number,
  background: [number, number, number],
  rect?: { x: number; y: number; w: number; h: number; rgb: [number, number, number] },
  channels = 3,
): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside =
        rect !== undefined && x >= rect.x && x < rect.x + rect.w && y >= rect.y && y < rect.y + rect.h;
      const rgb = inside ? rect.rgb : background;
      const o = (y * width + x) * channels;
      data.set(rgb.slice(0, Math.min(3, channels)), o);
      if (channels === 4) data[o + 3] = 255;
    }
  }
  return { data, width, height, channels };
}

describe('saliency', () => {
  it('finds one bright object on a flat background (box within one grid cell)', () => {
    const img = canvas(320, 240, [60, 70, 80], { x: 200, y: 40, w: 64, h: 80, rgb: [250, 240, 60] });
    const box = saliencyBox(img);
    assert.ok(box !== null);
    const cell = 1 / 64;
    close(box.x, 200 / 320, 1.5 * cell);
    close(box.y, 40 / 240, 1.5 * cell * (320 / 240));
    close(box.w, 64 / 320, 2 * cell);
    close(box.h, 80 / 240, 2 * cell * (320 / 240));
    assert.ok(box.contrast > 5, `contrast ${box.contrast}`);
  });

  it('finds a small dark object on a bright background, RGBA input', () => {
    const img = canvas(200, 300, [235, 235, 230], { x: 20, y: 200, w: 30, h: 40, rgb: [20, 30, 120] }, 4);
    const box = saliencyBox(img);
    assert.ok(box !== null);
    close(box.x + box.w / 2, 35 / 200, 0.03);
    close(box.y + box.h / 2, 220 / 300, 0.03);
  });

  it('ignores sky and ground bands that span the image, finds a subject cut by the bottom edge', () => {
    const img = canvas(300, 300, [90, 150, 230], { x: 120, y: 150, w: 60, h: 150, rgb: [200, 30, 40] });
    for (let y = 180; y < 300; y++) {
      for (let x = 0; x < 300; x++) {
        if (x >= 120 && x < 180) continue;
        img.data.set([60, 140, 50], (y * 300 + x) * 3);
      }
    }
    const box = saliencyBox(img);
    assert.ok(box !== null);
    close(box.x + box.w / 2, 0.5, 0.02);
    close(box.y, 0.5, 0.02);
    close(box.y + box.h, 1, 1e-9);
  });

  it('a flat image has no subject; the extractor returns null through its schema', async () => {
    const flat = canvas(100, 80, [128, 128, 128]);
    assert.equal(saliencyBox(flat), null);
    const value = await saliencyExtractor.extract(
      { ...flat, ok: true, format: 'raw', sourceWidth: 100, sourceHeight: 80, animated: false },
      {
        key: 't:1',
        modelId: 1,
        versionId: 1,
        imageId: 1,
        url: 'https://example.invalid/1.png',
        prompt: null,
        width: 100,
        height: 80,
      },
    );
    assert.equal(saliencyExtractor.schema.parse(value), null);
    assert.equal(saliencyExtractor.name, 'saliency');
  });
});

describe('per-image composition', () => {
  const size = { width: 1000, height: 1000 };
  const face = (h: number, x = 400, y = 100, kind: 'photo' | 'anime' = 'photo') => ({
    box: { x, y, w: h * 0.8, h },
    kind,
  });

  it('shot types switch exactly at the documented thresholds', () => {
    assert.equal(shotType(SHOT_THRESHOLDS.closeup), 'closeup');
    assert.equal(shotType(SHOT_THRESHOLDS.closeup - 1e-9), 'half');
    assert.equal(shotType(SHOT_THRESHOLDS.half), 'half');
    assert.equal(shotType(SHOT_THRESHOLDS.half - 1e-9), 'full');
    assert.equal(shotType(null), 'none');
    assert.equal(compositionFeatures(size, [face(300)], null).shot, 'closeup');
    assert.equal(compositionFeatures(size, [face(299)], null).shot, 'half');
    assert.equal(compositionFeatures(size, [face(120)], null).shot, 'half');
    assert.equal(compositionFeatures(size, [face(119)], null).shot, 'full');
  });

  it('thirds distance: 0 on an intersection, 1 in a corner, 0.5 at the centre', () => {
    close(thirdsDistance(1 / 3, 2 / 3), 0, 1e-12);
    close(thirdsDistance(2 / 3, 1 / 3), 0, 1e-12);
    close(thirdsDistance(0, 0), 1, 1e-12);
    close(thirdsDistance(1, 1), 1, 1e-12);
    close(thirdsDistance(0.5, 0.5), 0.5, 1e-12);
    // (0.5, 1/3) is 1/6 from (1/3, 1/3): (1/6) / (√2/3) = 1 / (2√2).
    close(thirdsDistance(0.5, 1 / 3), 1 / (2 * Math.SQRT2), 1e-12);
  });

  it('the subject is the largest face: centre, area, kind', () => {
    const f = compositionFeatures(
      { width: 800, height: 400 },
      [face(40, 10, 10), { box: { x: 400, y: 100, w: 160, h: 200 }, kind: 'anime' }],
      null,
    );
    assert.equal(f.source, 'face');
    assert.equal(f.faceKind, 'anime');
    assert.deepEqual(f.centre, { x: 0.6, y: 0.5 });
    close(f.areaFraction!, 0.2 * 0.5, 1e-12);
    close(f.faceHeightFraction!, 0.5, 1e-12);
    assert.equal(f.shot, 'closeup');
  });

  it('a face partly outside the image is clipped to it', () => {
    const f = compositionFeatures(size, [{ box: { x: -100, y: 900, w: 200, h: 200 }, kind: 'photo' }], null);
    assert.deepEqual(f.subject, { x: 0, y: 0.9, w: 0.1, h: 0.09999999999999998 });
  });

  it('without a face the saliency box is the subject but the shot is "none"; with neither, nothing', () => {
    const s = compositionFeatures(size, [], { x: 0.5, y: 0.25, w: 0.25, h: 0.5, contrast: 3 });
    assert.equal(s.source, 'saliency');
    assert.deepEqual(s.centre, { x: 0.625, y: 0.5 });
    assert.equal(s.shot, 'none');
    assert.equal(s.faceHeightFraction, null);
    const none = compositionFeatures(size, [], null);
    assert.equal(none.source, 'none');
    assert.equal(none.centre, null);
    assert.equal(none.thirdsDistance, null);
    assert.equal(none.shot, 'none');
  });

  it('a zero image size is INPUT_INVALID', () => {
    assert.throws(
      () => compositionFeatures({ width: 0, height: 10 }, [], null),
      (e: unknown) => hasCode(e, 'INPUT_INVALID'),
    );
  });
});

describe('composition of an image-pass record', () => {
  const ref = {
    key: 'm:1',
    modelId: 1,
    versionId: 1,
    imageId: 1,
    url: 'https://example.invalid/1.png',
    prompt: null,
    width: 800,
    height: 400,
  };
  const ok = (features: Record<string, unknown>, failed: Record<string, string> = {}) => ({
    ref,
    status: 'ok' as const,
    width: 800,
    height: 400,
    features,
    failed,
    cached: false,
  });

  it('reads the faces and saliency features', () => {
    const faces = {
      faces: [{ box: { x: 400, y: 100, w: 160, h: 200 }, kind: 'photo', score: 0.9 }],
      detectors: ['yunet'],
    };
    const f = compositionOfRecord(ok({ faces, saliency: null }));
    assert.equal(f?.source, 'face');
    assert.deepEqual(f?.centre, { x: 0.6, y: 0.5 });
    const s = compositionOfRecord(
      ok({ faces: { faces: [], detectors: [] }, saliency: { x: 0, y: 0, w: 0.5, h: 0.5, contrast: 2 } }),
    );
    assert.equal(s?.source, 'saliency');
    assert.equal(s?.shot, 'none');
  });

  it('is undefined when the faces extractor failed or the image was skipped (shot unknown, not "none")', () => {
    assert.equal(compositionOfRecord(ok({ saliency: null }, { faces: 'model missing' })), undefined);
    assert.equal(
      compositionOfRecord({ ref, status: 'skipped', reason: 'decode-error', detail: 'x' }),
      undefined,
    );
  });
});

describe('compareComposition', () => {
  const at = (cx: number, cy: number, faceH: number | null): CompositionFeatures =>
    compositionFeatures(
      { width: 1000, height: 1000 },
      faceH === null
        ? []
        : [
            {
              box: { x: cx * 1000 - 50, y: cy * 1000 - (faceH * 1000) / 2, w: 100, h: faceH * 1000 },
              kind: 'photo',
            },
          ],
      faceH === null ? { x: cx - 0.05, y: cy - 0.05, w: 0.1, h: 0.1, contrast: 2 } : null,
    );

  it('below minImages on either side the block is "insufficient" with a sentence, never numbers', () => {
    const few = [at(0.5, 0.5, 0.4), at(0.5, 0.5, 0.4)];
    const many = Array.from({ length: 10 }, () => at(0.5, 0.5, 0.2));
    const r = compareComposition(few, many, { seed: 1 });
    assert.equal(r.status, 'insufficient');
    assert.match((r as { reason: string }).reason, /2 model and 10 reference images \(need 3 each\)/);
    assert.equal(compareComposition(many, few, { seed: 1, minImages: 2 }).status, 'ok');
    const noSubject = Array.from({ length: 5 }, () =>
      compositionFeatures({ width: 10, height: 10 }, [], null),
    );
    const r2 = compareComposition(noSubject, many, { seed: 1 });
    assert.equal(r2.status, 'insufficient');
    assert.match((r2 as { reason: string }).reason, /insufficient subjects: 0 of 5 model/);
  });

  it('a model whose subjects sit right and close-up vs a centred full-body reference', () => {
    const model = Array.from({ length: 30 }, (_, i) => at(0.7 + (i % 5) * 0.01, 0.4, 0.35 + (i % 3) * 0.05));
    const reference = Array.from({ length: 42 }, (_, i) =>
      at(0.5 + ((i % 7) - 3) * 0.01, 0.4, i % 2 === 0 ? 0.08 : null),
    );
    const r = compareComposition(model, reference, { seed: 11, resamples: 1000 });
    assert.ok(CompositionEvidence.safeParse(r).success);
    assert.equal(r.status, 'ok');
    if (r.status !== 'ok') return;
    assert.deepEqual(r.shots, { closeup: 30, half: 0, full: 0, none: 0 });
    assert.deepEqual(r.refShots, { closeup: 0, half: 0, full: 21, none: 21 });
    assert.equal(r.shotTest.method, 'chi-square');
    assert.ok(r.shotTest.p < 1e-10);
    close(r.placement.dx.estimate, 0.72 - 0.5, 1e-9);
    assert.ok(r.placement.dx.low > 0.2 && r.placement.dx.high < 0.24, JSON.stringify(r.placement.dx));
    close(r.placement.dy.estimate, 0, 1e-9);
    assert.equal(r.placement.dx.resamples, 1000);
    assert.equal(r.n, 30);
    assert.equal(r.nRef, 42);
    // Same seed, same evidence.
    assert.deepEqual(compareComposition(model, reference, { seed: 11, resamples: 1000 }), r);
  });

  it('small counts switch the shot test to an exact or Monte-Carlo one', () => {
    const model = [at(0.5, 0.5, 0.4), at(0.5, 0.5, 0.4), at(0.5, 0.5, 0.2), at(0.5, 0.5, 0.05)];
    const reference = [at(0.5, 0.5, 0.2), at(0.5, 0.5, 0.2), at(0.5, 0.5, 0.05), at(0.5, 0.5, null)];
    const r = compareComposition(model, reference, { seed: 3, resamples: 1000 });
    assert.equal(r.status, 'ok');
    if (r.status === 'ok') assert.equal(r.shotTest.method, 'monte-carlo');
  });
});
