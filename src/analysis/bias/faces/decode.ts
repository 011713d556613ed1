/**
 * Pure output decoders of the face detectors (no onnxruntime here, so they are unit-testable with
 * hand-made tensors). Layouts and formulas: ../shared/models/PROVENANCE.md and the upstream demos.
 */
import { nms } from './nms.ts';
import type { Detection } from './types.ts';

const clampLogit = (v: number): number => Math.max(-100, Math.min(100, v));
export const sigmoid = (v: number): number => 1 / (1 + Math.exp(-clampLogit(v)));

/**
 * UltraFace: priors are decoded inside the graph. `scores` [n,2] (column 1 = P(face)), `boxes` [n,4]
 * corner form normalised to the input frame (the whole image, stretched), so × image width/height.
 */
export function decodeUltraface(
  scores: Float32Array,
  boxes: Float32Array,
  imageW: number,
  imageH: number,
  threshold = 0.7,
  nmsIou = 0.3,
): Detection[] {
  const n = scores.length / 2;
  const found: Detection[] = [];
  for (let i = 0; i < n; i++) {
    const s = scores[i * 2 + 1]!;
    if (s < threshold) continue;
    const x1 = Math.max(0, boxes[i * 4]!) * imageW;
    const y1 = Math.max(0, boxes[i * 4 + 1]!) * imageH;
    const x2 = Math.min(1, boxes[i * 4 + 2]!) * imageW;
    const y2 = Math.min(1, boxes[i * 4 + 3]!) * imageH;
    if (x2 <= x1 || y2 <= y1) continue;
    found.push({ box: { x: x1, y: y1, w: x2 - x1, h: y2 - y1 }, score: s, keypoints: null });
  }
  return nms(found, nmsIou);
}

export const YUNET_STRIDES = [8, 16, 32] as const;

/** YuNet input geometry: scale so the longer side is `maxSide`, then pad bottom/right to multiples of 32. */
export function yunetGeometry(
  imageW: number,
  imageH: number,
  maxSide = 640,
): { scale: number; inW: number; inH: number; padW: number; padH: number } {
  const scale = maxSide / Math.max(imageW, imageH);
  const inW = Math.max(1, Math.round(imageW * scale));
  const inH = Math.max(1, Math.round(imageH * scale));
  return { scale, inW, inH, padW: Math.ceil(inW / 32) * 32, padH: Math.ceil(inH / 32) * 32 };
}

/** One stride's YuNet outputs: `cls` [N], `obj` [N], `bbox` [N,4], `kps` [N,10], N = (padH/s)·(padW/s). */
export interface YunetLevel {
  stride: number;
  cls: Float32Array;
  obj: Float32Array;
  bbox: Float32Array;
  kps: Float32Array;
}

/**
 * YuNet decoding (OpenCV FaceDetectorYN, 4.8+): anchor i at col = i mod (padW/s), row = ⌊i / (padW/s)⌋;
 * centre (col + b0)·s, (row + b1)·s; size exp(b2)·s × exp(b3)·s; keypoint j ((col + k2j)·s, (row + k2j+1)·s);
 * score √(cls·obj) with cls clamped to [0,1]. Coordinates are divided by `scale` back to image pixels.
 */
export function decodeYunet(
  levels: readonly YunetLevel[],
  padW: number,
  scale: number,
  threshold = 0.6,
  nmsIou = 0.3,
): Detection[] {
  const found: Detection[] = [];
  for (const { stride: s, cls, obj, bbox, kps } of levels) {
    const cols = padW / s;
    for (let i = 0; i < cls.length; i++) {
      const c = Math.min(1, Math.max(0, cls[i]!));
      const o = Math.min(1, Math.max(0, obj[i]!));
      const score = Math.sqrt(c * o);
      if (score < threshold) continue;
      const col = i % cols;
      const row = Math.floor(i / cols);
      const cx = (col + bbox[i * 4]!) * s;
      const cy = (row + bbox[i * 4 + 1]!) * s;
      const w = Math.exp(bbox[i * 4 + 2]!) * s;
      const h = Math.exp(bbox[i * 4 + 3]!) * s;
      const keypoints: [number, number][] = [];
      for (let j = 0; j < 5; j++) {
        keypoints.push([
          ((col + kps[i * 10 + 2 * j]!) * s) / scale,
          ((row + kps[i * 10 + 2 * j + 1]!) * s) / scale,
        ]);
      }
      found.push({
        box: { x: (cx - w / 2) / scale, y: (cy - h / 2) / scale, w: w / scale, h: h / scale },
        score,
        keypoints,
      });
    }
  }
  return nms(found, nmsIou, 5000);
}

/** A BlazeFace anchor layer: a `grid`×`grid` map with `perCell` anchors in each cell. */
export interface AnchorLayer {
  grid: number;
  perCell: number;
}
export const MEDIAPIPE_SHORT_LAYERS: readonly AnchorLayer[] = [
  { grid: 16, perCell: 2 },
  { grid: 8, perCell: 6 },
];
export const MEDIAPIPE_FULL_LAYERS: readonly AnchorLayer[] = [{ grid: 48, perCell: 1 }];

/** BlazeFace anchor centres (normalised, row-major cells, `perCell` copies each): 896 short-range, 2304 full-range. */
export function blazeAnchors(layers: readonly AnchorLayer[]): Float32Array {
  const total = layers.reduce((n, l) => n + l.grid * l.grid * l.perCell, 0);
  const out = new Float32Array(total * 2);
  let k = 0;
  for (const { grid, perCell } of layers) {
    for (let y = 0; y < grid; y++) {
      for (let x = 0; x < grid; x++) {
        for (let a = 0; a < perCell; a++) {
          out[k++] = (x + 0.5) / grid;
          out[k++] = (y + 0.5) / grid;
        }
      }
    }
  }
  return out;
}

/** Where the letterboxed square input sits in the image (centred square of side max(w,h)). */
export function letterbox(imageW: number, imageH: number): { x: number; y: number; side: number } {
  const side = Math.max(imageW, imageH);
  return { x: (imageW - side) / 2, y: (imageH - side) / 2, side };
}

/**
 * BlazeFace decoding: score = sigmoid(logit); box centre = anchor + r[0..1]/inputSize, size r[2..3]/inputSize,
 * 6 keypoints anchor + r[4+2k..]/inputSize (all normalised to the square input), mapped back through the letterbox.
 */
export function decodeBlazeFace(
  regressors: Float32Array,
  logits: Float32Array,
  anchors: Float32Array,
  inputSize: number,
  box: { x: number; y: number; side: number },
  threshold = 0.5,
  nmsIou = 0.3,
): Detection[] {
  const n = logits.length;
  const found: Detection[] = [];
  const px = (v: number): number => box.x + v * box.side;
  const py = (v: number): number => box.y + v * box.side;
  for (let i = 0; i < n; i++) {
    const score = sigmoid(logits[i]!);
    if (score < threshold) continue;
    const ax = anchors[i * 2]!;
    const ay = anchors[i * 2 + 1]!;
    const r = i * 16;
    const cx = ax + regressors[r]! / inputSize;
    const cy = ay + regressors[r + 1]! / inputSize;
    const w = regressors[r + 2]! / inputSize;
    const h = regressors[r + 3]! / inputSize;
    if (!(w > 0 && h > 0)) continue;
    const keypoints: [number, number][] = [];
    for (let k = 0; k < 6; k++) {
      keypoints.push([
        px(ax + regressors[r + 4 + 2 * k]! / inputSize),
        py(ay + regressors[r + 5 + 2 * k]! / inputSize),
      ]);
    }
    found.push({
      box: { x: px(cx - w / 2), y: py(cy - h / 2), w: w * box.side, h: h * box.side },
      score,
      keypoints,
    });
  }
  return nms(found, nmsIou);
}
