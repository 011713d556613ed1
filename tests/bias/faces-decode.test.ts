import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  blazeAnchors,
  decodeBlazeFace,
  decodeUltraface,
  decodeYunet,
  letterbox,
  MEDIAPIPE_FULL_LAYERS,
  MEDIAPIPE_SHORT_LAYERS,
  yunetGeometry,
} from '../../src/analysis/bias/faces/decode.ts';
import { iou, nms } from '../../src/analysis/bias/faces/nms.ts';
import { imageToTensor } from '../../src/analysis/bias/faces/resample.ts';

const close = (actual: number, expected: number, eps = 1e-6, what = ''): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `${what} ${actual} ≠ ${expected}`);

describe('iou and nms', () => {
  it('computes IoU by hand: two 10×10 boxes overlapping 5×10 share 50 of 150', () => {
    close(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 5, y: 0, w: 10, h: 10 }), 50 / 150);
    assert.equal(iou({ x: 0, y: 0, w: 10, h: 10 }, { x: 20, y: 20, w: 5, h: 5 }), 0);
    assert.equal(iou({ x: 0, y: 0, w: 0, h: 0 }, { x: 0, y: 0, w: 0, h: 0 }), 0);
  });

  it('keeps the highest score of an overlapping group and every box that overlaps less than the threshold', () => {
    const a = { box: { x: 0, y: 0, w: 10, h: 10 }, score: 0.7 };
    const b = { box: { x: 1, y: 0, w: 10, h: 10 }, score: 0.9 }; // IoU with a = 90/110
    const c = { box: { x: 5, y: 0, w: 10, h: 10 }, score: 0.8 }; // IoU with b = 60/140 = 0.43
    assert.deepEqual(nms([a, b, c], 0.3), [b]);
    assert.deepEqual(nms([a, b, c], 0.5), [b, c]);
    assert.deepEqual(nms([a, b, c], 0.5, 1), [b]);
  });

  it('breaks score ties by input order', () => {
    const a = { box: { x: 0, y: 0, w: 10, h: 10 }, score: 0.5 };
    const b = { box: { x: 0, y: 0, w: 10, h: 10 }, score: 0.5 };
    assert.equal(nms([a, b], 0.3)[0], a);
    assert.equal(nms([b, a], 0.3)[0], b);
  });
});

describe('UltraFace decoding', () => {
  it('thresholds P(face) (column 1), scales corner boxes to the image and suppresses overlaps', () => {
    const scores = new Float32Array([0.2, 0.8, 0.1, 0.9, 0.25, 0.75, 0.5, 0.5]);
    const boxes = new Float32Array([
      0.1, 0.1, 0.5, 0.5, 0.6, 0.6, 0.9, 0.9, 0.12, 0.1, 0.5, 0.5, 0.0, 0.0, 1.0, 1.0,
    ]);
    const found = decodeUltraface(scores, boxes, 100, 200);
    assert.equal(found.length, 2);
    close(found[0]!.score, 0.9, 1e-6);
    close(found[0]!.box.x, 60, 1e-4);
    close(found[0]!.box.h, 60, 1e-4);
    // anchor 0 (0.8) beats anchor 2 (0.75) over the same face; anchor 3 (0.5) is below 0.7.
    close(found[1]!.score, 0.8, 1e-6);
    close(found[1]!.box.x, 10, 1e-4);
    close(found[1]!.box.y, 20, 1e-4);
    close(found[1]!.box.w, 40, 1e-4);
    close(found[1]!.box.h, 80, 1e-4);
  });
});

describe('YuNet decoding', () => {
  it('pads the input to multiples of 32 after scaling the longer side to 640', () => {
    assert.deepEqual(yunetGeometry(1280, 720), { scale: 0.5, inW: 640, inH: 360, padW: 640, padH: 384 });
    assert.deepEqual(yunetGeometry(320, 320, 320), { scale: 1, inW: 320, inH: 320, padW: 320, padH: 320 });
  });

  it('decodes anchor offsets, exp sizes, keypoints and √(cls·obj) in input pixels ÷ scale', () => {
    // padW 64: stride 32 has 2 columns × 2 rows; anchor 3 is col 1, row 1.
    const n32 = 4;
    const level32 = {
      stride: 32,
      cls: new Float32Array(n32),
      obj: new Float32Array(n32),
      bbox: new Float32Array(n32 * 4),
      kps: new Float32Array(n32 * 10),
    };
    level32.cls[3] = 0.81;
    level32.obj[3] = 1;
    level32.bbox.set([0.5, 0.5, 0, Math.log(2)], 12);
    level32.kps.set([0, 0, 1, 0, 0.5, 0.5, 0, 1, 1, 1], 30);
    // A weaker stride-16 duplicate of the same face (col 3, row 3 of 4×4) is suppressed by NMS.
    const n16 = 16;
    const level16 = {
      stride: 16,
      cls: new Float32Array(n16),
      obj: new Float32Array(n16),
      bbox: new Float32Array(n16 * 4),
      kps: new Float32Array(n16 * 10),
    };
    level16.cls[15] = 0.49;
    level16.obj[15] = 1;
    level16.bbox.set([0, 0, Math.log(2), Math.log(4)], 60);
    const found = decodeYunet([level32, level16], 64, 0.5, 0.6, 0.3);
    assert.equal(found.length, 1);
    const f = found[0]!;
    close(f.score, 0.9, 1e-6);
    // cx = (1 + 0.5)·32 = 48, w = 32, h = 64 → (32, 16, 32, 64) in input pixels, ×2 in image pixels.
    close(f.box.x, 64, 1e-4);
    close(f.box.y, 32, 1e-4);
    close(f.box.w, 64, 1e-4);
    close(f.box.h, 128, 1e-4);
    assert.deepEqual(
      f.keypoints!.map(([x, y]) => [Math.round(x), Math.round(y)]),
      [
        [64, 64],
        [128, 64],
        [96, 96],
        [64, 128],
        [128, 128],
      ],
    );
    // Below the threshold: nothing. At 0.6, the stride-16 box (score 0.7) survives alone once the stride-32 one is gone.
    level32.cls[3] = 0;
    const weak = decodeYunet([level32, level16], 64, 1, 0.6, 0.3);
    assert.equal(weak.length, 1);
    close(weak[0]!.score, 0.7, 1e-6);
    close(weak[0]!.box.w, 32, 1e-4);
    close(weak[0]!.box.h, 64, 1e-4);
    close(weak[0]!.box.x, 48 - 16, 1e-4);
  });
});

describe('MediaPipe BlazeFace anchors and decoding', () => {
  it('has 896 short-range anchors (16²·2 + 8²·6) and 2304 full-range ones, cell centres repeated per cell', () => {
    const short = blazeAnchors(MEDIAPIPE_SHORT_LAYERS);
    assert.equal(short.length / 2, 896);
    assert.deepEqual([short[0], short[1], short[2], short[3]], [0.5 / 16, 0.5 / 16, 0.5 / 16, 0.5 / 16]);
    assert.deepEqual([short[4], short[5]], [1.5 / 16, 0.5 / 16]);
    // First anchor of the 8×8 layer comes after 512 anchors; its six copies share (1/16, 1/16).
    assert.deepEqual([short[1024], short[1025], short[1034], short[1035]], [1 / 16, 1 / 16, 1 / 16, 1 / 16]);
    assert.deepEqual([short[1792 - 2], short[1792 - 1]], [7.5 / 8, 7.5 / 8]);
    const full = blazeAnchors(MEDIAPIPE_FULL_LAYERS);
    assert.equal(full.length / 2, 2304);
    assert.deepEqual([full[2], full[3]], [Math.fround(1.5 / 48), Math.fround(0.5 / 48)]);
  });

  it('letterboxes to a centred square and maps boxes and keypoints back to image pixels', () => {
    const lb = letterbox(200, 100);
    assert.deepEqual(lb, { x: 0, y: -50, side: 200 });
    const anchors = blazeAnchors(MEDIAPIPE_SHORT_LAYERS);
    const reg = new Float32Array(896 * 16);
    const logits = new Float32Array(896).fill(-5);
    // Anchor 512 sits at (1/16, 1/16) of the square; offsets in 128-px input units.
    logits[512] = 2;
    reg.set([32, 16, 64, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 512 * 16);
    const found = decodeBlazeFace(reg, logits, anchors, 128, lb, 0.5);
    assert.equal(found.length, 1);
    const f = found[0]!;
    close(f.score, 1 / (1 + Math.exp(-2)));
    // centre (1/16 + 1/4, 1/16 + 1/8) = (0.3125, 0.1875); size (0.5, 0.25) of a 200-px square at y −50.
    close(f.box.x, (0.3125 - 0.25) * 200, 1e-4);
    close(f.box.y, -50 + (0.1875 - 0.125) * 200, 1e-4);
    close(f.box.w, 100, 1e-4);
    close(f.box.h, 50, 1e-4);
    assert.equal(f.keypoints!.length, 6);
    close(f.keypoints![0]![0], 200 / 16, 1e-4);
    close(f.keypoints![0]![1], -50 + 200 / 16, 1e-4);
  });
});

describe('imageToTensor', () => {
  const img = {
    // 2×2 RGB: red, green / blue, white
    data: new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]),
    width: 2,
    height: 2,
    channels: 3,
  };

  it('copies pixels into NCHW planes at scale 1, swaps planes for BGR and applies scale/offset', () => {
    const rgb = imageToTensor(img, {
      rect: { x: 0, y: 0, w: 2, h: 2 },
      outW: 2,
      outH: 2,
      order: 'rgb',
      scale: 1,
      offset: 0,
    });
    assert.deepEqual([...rgb], [255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]);
    const bgr = imageToTensor(img, {
      rect: { x: 0, y: 0, w: 2, h: 2 },
      outW: 2,
      outH: 2,
      order: 'bgr',
      scale: 1 / 128,
      offset: -127 / 128,
    });
    assert.deepEqual(
      [...bgr.subarray(0, 4)].map((v) => Math.round(v * 128 + 127)),
      [0, 0, 255, 255],
    );
  });

  it('averages when shrinking and fills padding and outside pixels', () => {
    const mean = imageToTensor(img, {
      rect: { x: 0, y: 0, w: 2, h: 2 },
      outW: 1,
      outH: 1,
      order: 'rgb',
      scale: 1,
      offset: 0,
    });
    assert.deepEqual([...mean], [127.5, 127.5, 127.5]);
    const padded = imageToTensor(img, {
      rect: { x: 0, y: 0, w: 2, h: 2 },
      outW: 1,
      outH: 1,
      tensorW: 2,
      tensorH: 1,
      order: 'rgb',
      scale: 1,
      offset: 0,
      fill: 7,
    });
    assert.deepEqual([...padded], [127.5, 7, 127.5, 7, 127.5, 7]);
    const outside = imageToTensor(img, {
      rect: { x: 10, y: 10, w: 2, h: 2 },
      outW: 1,
      outH: 1,
      order: 'rgb',
      scale: 1,
      offset: 0,
    });
    assert.deepEqual([...outside], [0, 0, 0]);
  });
});
