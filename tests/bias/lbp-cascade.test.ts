import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import {
  cascadeScales,
  cvRound,
  detectMultiScale,
  equalizeHist,
  type GrayImage,
  groupRectangles,
  integralImage,
  type LbpCascade,
  parseLbpCascade,
  type Rect,
  resizeLinearExact,
  rgbToGray,
} from '../../src/analysis/bias/faces/lbp-cascade.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import { needsShared, sharedPath } from '../support/requirements.ts';

// Reference: OpenCV 4.6.0 (Debian python3-opencv), tests/fixtures/lbp/make_reference.py, run once.
interface RefCase {
  image: string;
  kind: string;
  params: { scaleFactor: number; minNeighbors: number; minSize: [number, number] };
  boxes: [number, number, number, number][];
  raw?: boolean;
}
interface Reference {
  cases: RefCase[];
  resizes: { width: number; height: number; data: number[] | null; sum: number; weighted: number }[];
  equalize: { image: string; grayHist: number[]; equalizedHist: number[] };
}
const reference = JSON.parse(
  readFileSync(new URL('../fixtures/lbp/reference.json', import.meta.url), 'utf8'),
) as Reference;

/** The synthetic image of make_reference.py (integer formula, identical on both sides). */
function synthetic(width = 320, height = 240): GrayImage {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data[y * width + x] = (((x * 7) ^ (y * 5)) + (x >> 3) * (y >> 3)) & 255;
  }
  return { data, width, height };
}

const grayCache = new Map<string, Promise<GrayImage>>();
function loadGray(name: string): Promise<GrayImage> {
  let gray = grayCache.get(name);
  if (gray === undefined) {
    gray = decodeGray(name);
    grayCache.set(name, gray);
  }
  return gray;
}

async function decodeGray(name: string): Promise<GrayImage> {
  const { data, info } = await sharp(sharedPath(`fixtures/images/${name}`))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return rgbToGray({
    data: new Uint8Array(data),
    width: info.width,
    height: info.height,
    channels: info.channels,
  });
}

function histogram(img: GrayImage): number[] {
  const h = new Array<number>(256).fill(0);
  for (const v of img.data) h[v]! += 1;
  return h;
}

function iou(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  const inter = w > 0 && h > 0 ? w * h : 0;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

const toArray = (r: Rect): [number, number, number, number] => [r.x, r.y, r.width, r.height];
const sortBoxes = (b: [number, number, number, number][]) =>
  [...b].sort((p, q) => p[0] - q[0] || p[1] - q[1] || p[2] - q[2] || p[3] - q[3]);

let cascadeCache: LbpCascade | undefined;
function animeCascade(): LbpCascade {
  cascadeCache ??= parseLbpCascade(
    readFileSync(sharedPath('models/anime-face/lbpcascade_animeface.xml'), 'utf8'),
  );
  return cascadeCache;
}

describe('bit-exact OpenCV pieces', () => {
  it('cvRound rounds half to even like lrint', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001].map(cvRound), [0, 2, 2, -0, -2, 2, 3]);
  });

  it('INTER_LINEAR_EXACT resize equals cv2.resize on the synthetic image (max difference 0)', () => {
    const src = synthetic();
    for (const r of reference.resizes) {
      const out = resizeLinearExact(src, r.width, r.height);
      let sum = 0;
      let weighted = 0;
      out.data.forEach((v, i) => {
        sum += v;
        weighted += v * ((i % 7) + 1);
      });
      assert.equal(sum, r.sum, `${r.width}×${r.height} sum`);
      assert.equal(weighted, r.weighted, `${r.width}×${r.height} weighted sum`);
      if (r.data !== null) {
        const maxDiff = r.data.reduce((m, v, i) => Math.max(m, Math.abs(v - out.data[i]!)), 0);
        assert.equal(maxDiff, 0, `${r.width}×${r.height} pixels`);
      }
    }
  });

  it('integral image: every block sum equals the direct sum', () => {
    const img = synthetic(17, 11);
    const sum = integralImage(img);
    const w1 = img.width + 1;
    for (const [x, y, w, h] of [
      [0, 0, 17, 11],
      [3, 2, 5, 4],
      [16, 10, 1, 1],
    ] as const) {
      let direct = 0;
      for (let yy = y; yy < y + h; yy++)
        for (let xx = x; xx < x + w; xx++) direct += img.data[yy * img.width + xx]!;
      const viaIntegral =
        sum[(y + h) * w1 + x + w]! - sum[y * w1 + x + w]! - sum[(y + h) * w1 + x]! + sum[y * w1 + x]!;
      assert.equal(viaIntegral, direct);
    }
  });

  it('groupRectangles: averages a cluster, drops small clusters and a weak rect inside a strong one', () => {
    const cluster = [
      { x: 10, y: 10, width: 50, height: 50 },
      { x: 12, y: 11, width: 50, height: 50 },
      { x: 11, y: 12, width: 52, height: 52 },
      { x: 13, y: 10, width: 51, height: 51 },
    ];
    const lonely = [{ x: 300, y: 300, width: 40, height: 40 }];
    const inner = [
      { x: 20, y: 20, width: 20, height: 20 },
      { x: 21, y: 21, width: 20, height: 20 },
    ];
    const out = groupRectangles([...cluster, ...lonely, ...inner], 1);
    // (10+12+11+13)/4 = 11.5 → 12 (half to even), (10+11+12+10)/4 = 10.75 → 11, 203/4 → 51, 203/4 → 51.
    assert.deepEqual(out, [{ x: 12, y: 11, width: 51, height: 51 }]);
    assert.deepEqual(groupRectangles(lonely, 0), lonely);
  });
});

describe('cascade XML parsing', () => {
  it('rejects a Haar cascade, a broken file and an out-of-range feature with MODEL_INVALID', () => {
    const haar = `<?xml version="1.0"?><opencv_storage><cascade><stageType>BOOST</stageType><featureType>HAAR</featureType>
      <height>24</height><width>24</width></cascade></opencv_storage>`;
    const broken = '<opencv_storage><cascade><featureType>LBP</featureType></opencv_storage>';
    const badFeature = `<opencv_storage><cascade><stageType>BOOST</stageType><featureType>LBP</featureType>
      <height>24</height><width>24</width><featureParams><maxCatCount>256</maxCatCount></featureParams>
      <stages><_><stageThreshold>-1</stageThreshold><weakClassifiers><_><internalNodes>0 -1 5 -1 -1 -1 -1 -1 -1 -1 -1</internalNodes>
      <leafValues>-1 1</leafValues></_></weakClassifiers></_></stages>
      <features><_><rect>0 0 1 1</rect></_></features></cascade></opencv_storage>`;
    for (const xml of [haar, broken, badFeature]) {
      assert.throws(
        () => parseLbpCascade(xml),
        (e: unknown) => hasCode(e, 'MODEL_INVALID'),
      );
    }
  });

  it('reads a tiny hand-written cascade and evaluates its one stump', () => {
    // One feature (1×1 blocks at the window origin); the stump accepts LBP code 255 only (bit 255 set →
    // left leaf +1 ≥ threshold 0), which a window whose top-left 3×3 pixels share one value produces.
    const xml = `<opencv_storage><cascade><stageType>BOOST</stageType><featureType>LBP</featureType>
      <height>3</height><width>3</width><featureParams><maxCatCount>256</maxCatCount></featureParams>
      <stages><_><stageThreshold>0</stageThreshold><weakClassifiers><_>
      <internalNodes>0 -1 0 0 0 0 0 0 0 0 -2147483648</internalNodes><leafValues>1 -1</leafValues></_></weakClassifiers></_></stages>
      <features><_><rect>0 0 1 1</rect></_></features></cascade></opencv_storage>`;
    const cascade = parseLbpCascade(xml);
    assert.equal(cascade.stages.length, 1);
    const flat: GrayImage = { data: new Uint8Array(16).fill(7), width: 4, height: 4 };
    // scaleFactor 2: only scale 1 fits a 4×4 image; step 2 leaves the one window at (0, 0).
    const options = { minNeighbors: 0, scaleFactor: 2 };
    assert.deepEqual(detectMultiScale(cascade, flat, options), [{ x: 0, y: 0, width: 3, height: 3 }]);
    const centreBright = { ...flat, data: flat.data.slice() };
    centreBright.data[1 * 4 + 1] = 200;
    assert.deepEqual(detectMultiScale(cascade, centreBright, options), []);
  });
});

describe('anime cascade matches OpenCV detectMultiScale', needsShared(), () => {
  it('the grey conversion and equalizeHist give OpenCV’s histograms', async () => {
    const gray = await loadGray(reference.equalize.image);
    assert.deepEqual(histogram(gray), reference.equalize.grayHist);
    assert.deepEqual(histogram(equalizeHist(gray)), reference.equalize.equalizedHist);
  });

  it('scans the scales OpenCV scans: 1.1ⁿ from the first window ≥ minSize to the last that fits', () => {
    const scales = cascadeScales(
      { width: 24, height: 24 },
      { width: 512, height: 300 },
      { minSize: { width: 48, height: 48 } },
    );
    // 24·1.1⁷ = 46.8 (< 48, skipped), 24·1.1⁸ = 51.4; 24·1.1²⁴ = 236.4, 24·1.1²⁵ = 260.0, 24·1.1²⁶ = 286.0, 1.1²⁷ → 314.6 > 300.
    assert.equal(scales.length, 19);
    assert.equal(cvRound(24 * scales[0]!), 51);
    assert.equal(cvRound(24 * scales.at(-1)!), 286);
  });

  for (const c of reference.cases) {
    const label = `${c.image} scaleFactor ${c.params.scaleFactor} minNeighbors ${c.params.minNeighbors} minSize ${c.params.minSize[0]}${c.raw ? ' (raw windows)' : ''}: ${c.boxes.length} boxes`;
    it(label, async () => {
      const gray = c.image === 'synthetic' ? synthetic() : equalizeHist(await loadGray(c.image));
      const found = detectMultiScale(animeCascade(), gray, {
        scaleFactor: c.params.scaleFactor,
        minNeighbors: c.params.minNeighbors,
        minSize: { width: c.params.minSize[0], height: c.params.minSize[1] },
      });
      assert.equal(found.length, c.boxes.length, `count: ${JSON.stringify(found.map(toArray))}`);
      if (c.raw) {
        // Every accepted window, before grouping: the evaluator agrees window by window.
        assert.deepEqual(sortBoxes(found.map(toArray)), sortBoxes(c.boxes));
        return;
      }
      for (const [x, y, width, height] of c.boxes) {
        const best = Math.max(...found.map((f) => iou(f, { x, y, width, height })));
        assert.ok(
          best >= 0.9,
          `box ${[x, y, width, height]}: best IoU ${best.toFixed(3)} in ${JSON.stringify(found.map(toArray))}`,
        );
      }
    });
  }
});
