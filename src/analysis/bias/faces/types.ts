import { z } from 'zod';

/** An axis-aligned face box in decoded-image pixels (top-left corner, width, height). */
export const FaceBox = z.object({
  x: z.number().finite(),
  y: z.number().finite(),
  w: z.number().finite().nonnegative(),
  h: z.number().finite().nonnegative(),
});
export type FaceBox = z.infer<typeof FaceBox>;

/**
 * Per-face geometry. `boxAspect` (w/h) is always set: of the landmark box when 68 landmarks held, of the
 * detector box otherwise. The landmark ratios are null for anime faces (boxes only) and wherever the
 * landmarks they need are absent (`jawWidthRatio` needs the 68-point layout).
 */
export const FaceGeometry = z.object({
  boxAspect: z.number().finite(),
  interOcularRatio: z.number().finite().nullable(),
  eyeMouthRatio: z.number().finite().nullable(),
  jawWidthRatio: z.number().finite().nullable(),
  rollDeg: z.number().finite().nullable(),
});
export type FaceGeometry = z.infer<typeof FaceGeometry>;

export const FaceKind = z.enum(['photo', 'anime']);
export type FaceKind = z.infer<typeof FaceKind>;

export const Face = z.object({
  box: FaceBox,
  score: z.number().finite(),
  /** Detector that found the face (`yunet`, `ultraface-rfb-320`, `lbp-animeface`, …). */
  detector: z.string(),
  kind: FaceKind,
  /** Landmarks in decoded-image pixels (68 iBUG points, or YuNet's 5), null for anime faces. */
  landmarks: z.array(z.tuple([z.number().finite(), z.number().finite()])).nullable(),
  geometry: FaceGeometry,
});
export type Face = z.infer<typeof Face>;

/** What the `faces` image extractor stores per image. */
export const FaceResult = z.object({
  faces: z.array(Face),
  /** Detectors that ran on this image (the anime detector only when it was available). */
  detectors: z.array(z.string()),
});
export type FaceResult = z.infer<typeof FaceResult>;

/** A raw detection before landmarks and geometry: box, score and optional detector keypoints. */
export interface Detection {
  box: FaceBox;
  score: number;
  /** Detector keypoints in image pixels (YuNet: 5, MediaPipe: 6), or null. */
  keypoints: [number, number][] | null;
}
