import type { FaceBox, FaceGeometry } from './types.ts';

type Point = readonly [number, number];

const mean = (points: readonly Point[]): Point => {
  let x = 0;
  let y = 0;
  for (const p of points) {
    x += p[0];
    y += p[1];
  }
  return [x / points.length, y / points.length];
};
const dist = (a: Point, b: Point): number => Math.hypot(a[0] - b[0], a[1] - b[1]);
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Bounding box of a set of points. */
export function landmarkBox(points: readonly Point[]): FaceBox {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const [x, y] of points) {
    x1 = Math.min(x1, x);
    y1 = Math.min(y1, y);
    x2 = Math.max(x2, x);
    y2 = Math.max(y2, y);
  }
  return { x: x1, y: y1, w: x2 - x1, h: y2 - y1 };
}

/** Eye centres (subject's right eye = image left for a frontal face), mouth centre, face box and jaw ratio of a layout. */
interface Anatomy {
  rightEye: Point;
  leftEye: Point;
  mouth: Point;
  face: FaceBox;
  jaw: number | null;
}

function anatomy(box: FaceBox, lm: readonly Point[]): Anatomy | null {
  const at = (i: number): Point => lm[i]!;
  const pick = (idx: number[]): Point[] => idx.map(at);
  switch (lm.length) {
    case 68: {
      // iBUG 300-W: jaw 0–16, right eye 36–41, left eye 42–47, mouth corners 48 and 54.
      const temples = dist(at(0), at(16));
      return {
        rightEye: mean(pick(range(36, 41))),
        leftEye: mean(pick(range(42, 47))),
        mouth: mean([at(48), at(54)]),
        face: landmarkBox(lm),
        jaw: temples > 0 ? dist(at(4), at(12)) / temples : null,
      };
    }
    case 468:
      // FaceMesh: eye corners 33/133 (right) and 263/362 (left), mouth corners 61/291.
      return {
        rightEye: mean([at(33), at(133)]),
        leftEye: mean([at(263), at(362)]),
        mouth: mean([at(61), at(291)]),
        face: landmarkBox(lm),
        jaw: null,
      };
    case 5:
      // YuNet: right eye, left eye, nose, right and left mouth corner; the face is the detector box.
      return { rightEye: at(0), leftEye: at(1), mouth: mean([at(3), at(4)]), face: box, jaw: null };
    default:
      return null;
  }
}

/**
 * Geometry of one face. With landmarks (68 iBUG points, 468 FaceMesh points or YuNet's 5):
 * - `boxAspect` = w/h of the landmark box (68/468 points) or of the detector box (5 points, or none);
 * - `interOcularRatio` = distance between the eye centres / face width;
 * - `eyeMouthRatio` = distance from the eyes' midpoint to the mouth centre / face height;
 * - `jawWidthRatio` = |p4 − p12| / |p0 − p16| (lower-jaw width over temple width; 68 points only);
 * - `rollDeg` = angle of the image-left eye → image-right eye vector, degrees, positive when the
 *   image-right eye is lower (clockwise in image coordinates).
 * Without landmarks (anime faces) only `boxAspect` is set; the rest is null.
 */
export function faceGeometry(box: FaceBox, landmarks: readonly Point[] | null): FaceGeometry {
  const a = landmarks === null ? null : anatomy(box, landmarks);
  const face = a?.face ?? box;
  const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
  const boxAspect = face.h > 0 ? face.w / face.h : 0;
  if (a === null) {
    return { boxAspect, interOcularRatio: null, eyeMouthRatio: null, jawWidthRatio: null, rollDeg: null };
  }
  const eyeMid = mean([a.rightEye, a.leftEye]);
  const [l, r] = a.rightEye[0] <= a.leftEye[0] ? [a.rightEye, a.leftEye] : [a.leftEye, a.rightEye];
  return {
    boxAspect,
    interOcularRatio: face.w > 0 ? finite(dist(a.rightEye, a.leftEye) / face.w) : null,
    eyeMouthRatio: face.h > 0 ? finite(dist(eyeMid, a.mouth) / face.h) : null,
    jawWidthRatio: a.jaw === null ? null : finite(a.jaw),
    rollDeg: finite((Math.atan2(r[1] - l[1], r[0] - l[0]) * 180) / Math.PI),
  };
}
