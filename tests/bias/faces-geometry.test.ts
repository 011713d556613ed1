import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { faceGeometry, landmarkBox } from '../../src/analysis/bias/faces/geometry.ts';

type P = [number, number];
const close = (actual: number | null, expected: number, eps = 1e-9): void => {
  assert.ok(actual !== null && Math.abs(actual - expected) <= eps, `${actual} ≠ ${expected}`);
};

/**
 * A synthetic upright 68-point face (iBUG indices): temples p0 (0,40) and p16 (100,40), jaw p4 (20,90) and
 * p12 (80,90), chin p8 (50,100); eyes 36–41 centred (30,40) and 42–47 centred (70,40); brows at y 30;
 * mouth corners p48 (35,80), p54 (65,80); everything else at (50,60). Landmark box: x 0..100, y 30..100.
 */
function face68(): P[] {
  const p: P[] = Array.from({ length: 68 }, (): P => [50, 60]);
  p[0] = [0, 40];
  p[16] = [100, 40];
  p[4] = [20, 90];
  p[12] = [80, 90];
  p[8] = [50, 100];
  const eye = (cx: number, cy: number): P[] => [
    [cx - 5, cy],
    [cx - 2, cy - 2],
    [cx + 2, cy - 2],
    [cx + 5, cy],
    [cx + 2, cy + 2],
    [cx - 2, cy + 2],
  ];
  eye(30, 40).forEach((q, i) => {
    p[36 + i] = q;
  });
  eye(70, 40).forEach((q, i) => {
    p[42 + i] = q;
  });
  for (let i = 17; i <= 21; i++) p[i] = [30, 30];
  for (let i = 22; i <= 26; i++) p[i] = [70, 30];
  p[48] = [35, 80];
  p[54] = [65, 80];
  return p;
}

const rotate = (points: P[], deg: number, cx = 50, cy = 50): P[] => {
  const r = (deg * Math.PI) / 180;
  return points.map(
    ([x, y]): P => [
      cx + (x - cx) * Math.cos(r) - (y - cy) * Math.sin(r),
      cy + (x - cx) * Math.sin(r) + (y - cy) * Math.cos(r),
    ],
  );
};

const detectorBox = { x: -5, y: 20, w: 110, h: 90 };

describe('face geometry', () => {
  it('68 points: landmark-box aspect, inter-ocular / width, eye–mouth / height, jaw ratio, zero roll', () => {
    const g = faceGeometry(detectorBox, face68());
    assert.deepEqual(landmarkBox(face68()), { x: 0, y: 30, w: 100, h: 70 });
    close(g.boxAspect, 100 / 70);
    close(g.interOcularRatio, 40 / 100); // eye centres (30,40)–(70,40)
    close(g.eyeMouthRatio, 40 / 70); // (50,40) → (50,80)
    close(g.jawWidthRatio, 60 / 100); // |p4 p12| / |p0 p16|
    close(g.rollDeg, 0);
  });

  it('68 points rotated by 30° give a 30° roll and the same jaw ratio (distances do not change)', () => {
    const g = faceGeometry(detectorBox, rotate(face68(), 30));
    close(g.rollDeg, 30, 1e-9);
    close(g.jawWidthRatio, 0.6, 1e-9);
    const back = faceGeometry(detectorBox, rotate(face68(), -12));
    close(back.rollDeg, -12, 1e-9);
  });

  it('5 YuNet points use the detector box: atan2(10, 40) roll, eye–mouth over box height, no jaw', () => {
    const box = { x: 0, y: 0, w: 100, h: 120 };
    const kps: P[] = [
      [30, 40],
      [70, 50],
      [50, 65],
      [35, 90],
      [65, 90],
    ];
    const g = faceGeometry(box, kps);
    close(g.boxAspect, 100 / 120);
    close(g.interOcularRatio, Math.sqrt(40 ** 2 + 10 ** 2) / 100);
    close(g.eyeMouthRatio, 45 / 120); // eyes' midpoint (50,45), mouth (50,90)
    assert.equal(g.jawWidthRatio, null);
    close(g.rollDeg, (Math.atan2(10, 40) * 180) / Math.PI);
    // Roll is measured image-left eye → image-right eye, whatever order the model gives them in.
    const swapped = faceGeometry(box, [kps[1]!, kps[0]!, kps[2]!, kps[4]!, kps[3]!]);
    close(swapped.rollDeg, g.rollDeg!);
  });

  it('468 FaceMesh points: eye corners 33/133 and 263/362, mouth 61/291, no jaw ratio', () => {
    const p: P[] = Array.from({ length: 468 }, (): P => [50, 50]);
    p[33] = [20, 40];
    p[133] = [40, 40];
    p[263] = [80, 40];
    p[362] = [60, 40];
    p[61] = [35, 80];
    p[291] = [65, 80];
    p[10] = [50, 0];
    p[152] = [50, 100];
    p[234] = [0, 50];
    p[454] = [100, 50];
    const g = faceGeometry(detectorBox, p);
    close(g.boxAspect, 1);
    close(g.interOcularRatio, 0.4);
    close(g.eyeMouthRatio, 0.4);
    assert.equal(g.jawWidthRatio, null);
    close(g.rollDeg, 0);
  });

  it('anime faces (no landmarks) get only the box aspect; every landmark ratio is null', () => {
    assert.deepEqual(faceGeometry({ x: 3, y: 4, w: 60, h: 80 }, null), {
      boxAspect: 0.75,
      interOcularRatio: null,
      eyeMouthRatio: null,
      jawWidthRatio: null,
      rollDeg: null,
    });
  });
});
