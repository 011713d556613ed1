import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import {
  COLOUR_VERSION,
  ColourFeatures,
  colourExtractor,
  colourFeatures,
  compareColour,
  pooledHue,
} from '../../src/analysis/bias/colour.ts';
import { ColourEvidence } from '../../src/analysis/bias/evidence.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import type { DecodedImage } from '../../src/analysis/images/decode.ts';
import type { RawImage } from '../../src/analysis/images/pil-resample.ts';
import { bootstrapMeanDiffCi } from '../../src/analysis/stats/bootstrap.ts';
import { needsShared, sharedPath } from '../support/requirements.ts';

function close(actual: number, expected: number, rel = 1e-9, abs = 1e-12, what = ''): void {
  const tol = Math.max(abs, rel * Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} vs ${expected} (tolerance ${tol})`);
}

/** An RGB image of the given pixels, row-major. */
function image(pixels: Array<[number, number, number]>, width = pixels.length): RawImage {
  const data = new Uint8Array(pixels.length * 3);
  for (const [i, p] of pixels.entries()) data.set(p, i * 3);
  return { data, width, height: pixels.length / width, channels: 3 };
}
const fill = (p: [number, number, number], n: number) => Array.from({ length: n }, () => p);
const bin = (f: ColourFeatures) => f.hue.findIndex((v) => v > 0);

describe('colour features of synthetic images (hand-derived values)', () => {
  test('pure red: all hue in bin 0, S = V = 1, colourfulness 0.3·√(255² + 127.5²), warm only', () => {
    const f = colourFeatures(image(fill([255, 0, 0], 16), 4));
    assert.equal(f.hue[0], 1);
    assert.equal(
      f.hue.reduce((s, v) => s + v, 0),
      1,
    );
    assert.deepEqual([f.hueWeight, f.satMean, f.satStd, f.valMean, f.valStd], [1, 1, 0, 1, 0]);
    close(f.colourfulness, 0.3 * Math.hypot(255, 127.5));
    assert.equal(f.warmCoolRatio, null);
    assert.deepEqual([f.warmShare, f.coolShare], [1, 0]);
  });

  test('grey: no hue votes, S = 0, colourfulness 0, no warm/cool ratio', () => {
    const f = colourFeatures(image(fill([128, 128, 128], 9), 3));
    assert.ok(f.hue.every((v) => v === 0));
    assert.deepEqual([f.hueWeight, f.satMean, f.satStd, f.valStd, f.colourfulness], [0, 0, 0, 0, 0]);
    close(f.valMean, 128 / 255);
    assert.equal(f.warmCoolRatio, null);
  });

  test('half red, half blue: bins 0 and 24 share the hue, ratio 1, Hasler–Süsstrunk by hand', () => {
    const f = colourFeatures(image([...fill([255, 0, 0], 8), ...fill([0, 0, 255], 8)], 4));
    assert.equal(f.hue[0], 0.5);
    assert.equal(f.hue[24], 0.5);
    assert.equal(f.warmCoolRatio, 1);
    // rg: 255 and 0 → mean 127.5, sd 127.5; yb: 127.5 and −255 → mean −63.75, sd 191.25.
    close(f.colourfulness, Math.hypot(127.5, 191.25) + 0.3 * Math.hypot(127.5, 63.75));
  });

  test('hue bins follow colorsys angles, including the 330° warm boundary', () => {
    const cases: Array<[[number, number, number], number]> = [
      [[255, 128, 0], 3], // 30.1°
      [[255, 255, 0], 6], // 60°: r is the max first, as colorsys
      [[0, 255, 0], 12], // 120°
      [[0, 255, 255], 18], // 180°
      [[0, 0, 255], 24], // 240°
      [[255, 0, 255], 30], // 300°
      [[255, 0, 128], 32], // 329.9°: neither warm nor cool
      [[255, 0, 127], 33], // 330.1°: warm
    ];
    for (const [rgb, want] of cases) {
      const f = colourFeatures(image([rgb]));
      assert.equal(bin(f), want, `rgb ${rgb}`);
    }
    assert.equal(colourFeatures(image([[255, 0, 128]])).warmShare, 0);
    assert.equal(colourFeatures(image([[255, 0, 127]])).warmShare, 1);
    assert.equal(colourFeatures(image([[0, 128, 255]])).coolShare, 1); // 209.9°
  });

  test('a hue sweep (255, g, 0) puts hue 60·g/255° into bins 0..6', () => {
    const pixels = Array.from({ length: 256 }, (_, g) => [255, g, 0] as [number, number, number]);
    const f = colourFeatures(image(pixels, 16));
    // bin k holds g with 6g/255 in [k, k+1), i.e. 42.5k ≤ g < 42.5(k+1): 0..42, 43..84, 85..127, 128..169,
    // 170..212, 213..254, and 255 (60° exactly) in bin 6.
    const counts = [43, 42, 43, 42, 43, 42, 1];
    for (const [k, c] of counts.entries()) close(f.hue[k]!, c / 256, 1e-12, 1e-15, `bin ${k}`);
  });

  test('a grey ramp 0..255 has V mean ½ and V sd √((256² − 1)/12)/255', () => {
    const f = colourFeatures(
      image(Array.from({ length: 256 }, (_, v) => [v, v, v] as [number, number, number])),
    );
    close(f.valMean, 0.5);
    close(f.valStd, Math.sqrt((256 * 256 - 1) / 12) / 255);
    assert.equal(f.hueWeight, 0);
  });

  test('the chromatic gate: dark (V < 0.1) and pale (S < 0.1) pixels count in S means but do not vote', () => {
    const dark = colourFeatures(image([[20, 0, 0]]));
    assert.equal(dark.satMean, 1);
    assert.equal(dark.hueWeight, 0);
    const pale = colourFeatures(image([[255, 240, 240]]));
    close(pale.satMean, 15 / 255);
    assert.equal(pale.hueWeight, 0);
    // Just above both gates: V = 26/255 ≥ 0.1 and S = 0.1 exactly.
    assert.equal(colourFeatures(image([[26, 26, 24]])).hueWeight, 0); // S = 2/26 < 0.1
    assert.ok(colourFeatures(image([[30, 27, 27]])).hueWeight > 0); // S = 3/30 = 0.1
  });

  test('RGBA input ignores alpha', () => {
    const rgb = image([
      [10, 200, 30],
      [250, 100, 0],
      [0, 0, 0],
      [90, 90, 200],
    ]);
    const rgba = new Uint8Array(16);
    for (let i = 0; i < 4; i++) {
      rgba.set(rgb.data.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = i * 60;
    }
    assert.deepEqual(
      colourFeatures({ data: rgba, width: 2, height: 2, channels: 4 }),
      colourFeatures({ ...rgb, width: 2, height: 2 }),
    );
  });

  test('empty images, other channel counts and short buffers are INPUT_INVALID', () => {
    const bad = (img: RawImage) =>
      assert.throws(
        () => colourFeatures(img),
        (e: unknown) => hasCode(e, 'INPUT_INVALID'),
      );
    bad({ data: new Uint8Array(0), width: 0, height: 0, channels: 3 });
    bad({ data: new Uint8Array(4), width: 2, height: 2, channels: 1 });
    bad({ data: new Uint8Array(11), width: 2, height: 2, channels: 3 });
  });

  test('the extractor is named colour, carries COLOUR_VERSION, and its output passes its schema', async () => {
    assert.equal(colourExtractor.name, 'colour');
    assert.equal(colourExtractor.version, COLOUR_VERSION);
    const img = image([
      [255, 0, 0],
      [0, 0, 255],
    ]);
    const decoded: DecodedImage = {
      ...img,
      ok: true,
      format: 'png',
      sourceWidth: 2,
      sourceHeight: 1,
      animated: false,
    };
    const ref = {
      key: 'ref:x',
      modelId: null,
      versionId: null,
      imageId: null,
      url: 'file:///x.png',
      prompt: null,
      width: null,
      height: null,
    };
    const out = await colourExtractor.extract(decoded, ref);
    assert.deepEqual(colourExtractor.schema.parse(out), colourFeatures(img));
    assert.equal(ColourFeatures.safeParse({ ...out, hue: out.hue.slice(1) }).success, false);
  });
});

// Reference: numpy, vectorised, via tests/fixtures/colour/make_reference.py (Pillow decode, alpha dropped).
interface ColourCase {
  where: 'fixtures' | 'shared';
  file: string;
  width: number;
  height: number;
  checksum: number;
  features: ColourFeatures;
}
const reference = JSON.parse(
  readFileSync(new URL('../fixtures/colour/reference.json', import.meta.url), 'utf8'),
) as { cases: ColourCase[] };

async function decodeRgb(path: string): Promise<RawImage> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

describe('colour features of real images agree with the numpy reference (≤ 1e-9 relative)', () => {
  for (const c of reference.cases) {
    const options = c.where === 'shared' ? needsShared() : {};
    test(`${c.file} (${c.width}×${c.height}, ${c.where})`, options, async () => {
      const path =
        c.where === 'shared'
          ? sharedPath(`fixtures/images/${c.file}`)
          : fileURLToPath(new URL(`../fixtures/colour/${c.file}`, import.meta.url));
      const img = await decodeRgb(path);
      assert.deepEqual([img.width, img.height, img.channels], [c.width, c.height, 3]);
      let checksum = 0;
      for (let i = 0; i < img.data.length; i++) checksum += img.data[i]!;
      assert.equal(checksum, c.checksum, 'sharp and Pillow decoded different pixels');
      const got = colourFeatures(img);
      const want = c.features;
      for (let i = 0; i < 36; i++) close(got.hue[i]!, want.hue[i]!, 1e-9, 1e-12, `hue[${i}]`);
      for (const key of [
        'hueWeight',
        'satMean',
        'satStd',
        'valMean',
        'valStd',
        'colourfulness',
        'warmShare',
        'coolShare',
      ] as const) {
        close(got[key], want[key], 1e-9, 1e-12, key);
      }
      if (want.warmCoolRatio === null) assert.equal(got.warmCoolRatio, null);
      else close(got.warmCoolRatio!, want.warmCoolRatio, 1e-12, 0, 'warmCoolRatio');
    });
  }
});

describe('compareColour', () => {
  const red = colourFeatures(image(fill([220, 30, 30], 4)));
  const pink = colourFeatures(image(fill([240, 120, 140], 4)));
  const orange = colourFeatures(image(fill([230, 120, 20], 4)));
  const blue = colourFeatures(image(fill([30, 60, 200], 4)));
  const teal = colourFeatures(image(fill([20, 140, 160], 4)));
  const navy = colourFeatures(image(fill([10, 20, 90], 4)));
  const grey = colourFeatures(image(fill([90, 90, 90], 4)));
  const model = [red, pink, orange, red];
  const refSet = [blue, teal, navy];

  test('warm model vs cool reference: disjoint hues give JS = 1, S/V differences match the bootstrap', () => {
    const ev = compareColour(model, refSet, { seed: 42, resamples: 1000 });
    assert.equal(ev.status, 'ok');
    if (ev.status !== 'ok') return;
    assert.deepEqual(ColourEvidence.parse(ev), ev);
    assert.equal(ev.n, 4);
    assert.equal(ev.nRef, 3);
    assert.equal(ev.hueJs, 1);
    assert.deepEqual(ev.hue, pooledHue(model));
    const sat = bootstrapMeanDiffCi(
      model.map((f) => f.satMean),
      refSet.map((f) => f.satMean),
      { seed: 42, resamples: 1000 },
    );
    assert.deepEqual(ev.satMeanDiff, sat);
    close(ev.satMean - ev.refSatMean, sat.estimate);
    close(ev.valMean, (220 + 240 + 230 + 220) / 255 / 4);
    assert.equal(ev.warmCoolRatio, null); // no cool pixel in the model's images
    assert.deepEqual(
      compareColour(model, refSet, { seed: 42, resamples: 1000 }),
      ev,
      'same seed, same evidence',
    );
  });

  test('a set against itself: JS 0 and zero differences', () => {
    const ev = compareColour(model, model, { seed: 1 });
    assert.equal(ev.status, 'ok');
    if (ev.status !== 'ok') return;
    assert.equal(ev.hueJs, 0);
    assert.equal(ev.satMeanDiff.estimate, 0);
    assert.equal(ev.valMeanDiff.estimate, 0);
    assert.equal(ev.satMeanDiff.resamples, 2000);
  });

  test('pooledHue weights each image by its hueWeight', () => {
    const halfBlue = colourFeatures(image([...fill([0, 0, 255], 2), ...fill([128, 128, 128], 2)]));
    const allRed = colourFeatures(image(fill([255, 0, 0], 4)));
    const pooled = pooledHue([allRed, halfBlue]);
    close(pooled[0]!, 2 / 3);
    close(pooled[24]!, 1 / 3);
    assert.ok(pooledHue([grey]).every((v) => v === 0));
  });

  test('too few images or an all-grey side is insufficient, with a reason', () => {
    const few = compareColour(model.slice(0, 2), refSet, { seed: 1 });
    assert.equal(few.status, 'insufficient');
    assert.match('reason' in few ? few.reason : '', /2 model and 3 reference images .*need 3/);
    assert.equal(compareColour(model, refSet, { seed: 1, minImages: 4 }).status, 'insufficient');
    const greys = compareColour(model, [grey, grey, grey], { seed: 1 });
    assert.equal(greys.status, 'insufficient');
    assert.match('reason' in greys ? greys.reason : '', /reference images/);
    assert.throws(
      () => compareColour(model, refSet, { seed: 1, resamples: 10 }),
      (e: unknown) => hasCode(e, 'INPUT_INVALID'),
    );
  });
});
