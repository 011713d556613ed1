/**
 * The `faces` image feature extractor: YuNet finds faces (real photos, and many SD anime faces too),
 * Peppa 68-point landmarks give each one its geometry, and the anime LBP cascade, when given, adds the
 * faces YuNet missed as kind 'anime' (boxes only). Why these models: docs/faces.md (measured).
 */
import { fileURLToPath } from 'node:url';
import type { ImageFeatureExtractor } from '../../images/features.ts';
import type { RawImage } from '../../images/pil-resample.ts';
import { type Logger, silentLogger } from '../../ports.ts';
import { createPeppaLandmarks, createYunetDetector, type FaceDetector, type LandmarkModel } from './detectors.ts';
import { faceGeometry } from './geometry.ts';
import { iou } from './nms.ts';
import { type Detection, type Face, type FaceBox, FaceResult } from './types.ts';

export { FaceResult } from './types.ts';

/** The product's face models ship in the package's assets/models (no download). */
export const DEFAULT_FACE_MODEL_DIR = fileURLToPath(new URL('../../../../assets/models/', import.meta.url));

/** YuNet score threshold (√(cls·obj)); 0.8 removed every false positive on the measured sets at equal recall. */
export const YUNET_THRESHOLD = 0.8;
/** An anime box overlapping a photo face at least this much (IoU) is the same face. */
export const ANIME_OVERLAP_IOU = 0.3;

/** Bump when the output for the same image can change (models, thresholds, geometry). */
export const FACES_VERSION = `faces-1;yunet-n@${YUNET_THRESHOLD};peppa-68`;

/** The anime-face detector (LBP cascade) as src/analysis/bias/faces/anime.ts provides it. */
export interface AnimeFaceDetector {
  detect(image: RawImage): FaceBox[];
}

export interface FaceExtractorOptions {
  /** Folder with the face models (default: the package's assets/models). */
  modelDir?: string;
  logger?: Logger;
  /** Anime-face detector whose boxes are added where no photo face overlaps; none → photo faces only. */
  animeDetector?: AnimeFaceDetector | null;
  /** onnxruntime intra-op threads per session (default 1: images run in parallel upstream). */
  threads?: number;
}

const allFinite = (points: readonly [number, number][]): boolean =>
  points.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y));

/** A photo-detector face with its landmarks (null when the landmark model gave non-finite values). */
export function photoFace(d: Detection, detector: string, landmarks: [number, number][] | null): Face {
  const lm = landmarks !== null && allFinite(landmarks) ? landmarks : d.keypoints;
  return { box: d.box, score: d.score, detector, kind: 'photo', landmarks: lm, geometry: faceGeometry(d.box, lm) };
}

/**
 * Add the anime boxes that overlap no photo face (IoU < 0.3) as kind 'anime' faces: no landmarks, so only
 * the box aspect is measured (their geometry ratios are null). Anime boxes carry no score: 1.
 */
export function combineFaces(photo: readonly Face[], animeBoxes: readonly FaceBox[], detector = 'lbp-animeface'): Face[] {
  const extra = animeBoxes
    .filter((b) => photo.every((f) => iou(f.box, b) < ANIME_OVERLAP_IOU))
    .map(
      (box): Face => ({ box, score: 1, detector, kind: 'anime', landmarks: null, geometry: faceGeometry(box, null) }),
    );
  return [...photo, ...extra];
}

/** Detect and measure the faces of one image with already-open models. */
export async function detectFaces(
  image: RawImage,
  detector: FaceDetector,
  landmarks: LandmarkModel,
  anime: AnimeFaceDetector | null,
): Promise<FaceResult> {
  const faces: Face[] = [];
  for (const d of await detector.detect(image)) {
    faces.push(photoFace(d, detector.name, await landmarks.landmarks(image, d.box)));
  }
  const detectors = [detector.name, landmarks.name];
  if (anime === null) return { faces, detectors };
  return { faces: combineFaces(faces, anime.detect(image)), detectors: [...detectors, 'lbp-animeface'] };
}

/**
 * Open the face models once and return the `faces` extractor (ImageFeatureExtractor); `close()` releases
 * the sessions. Throws MODEL_MISSING / MODEL_INVALID when a model file is absent or damaged.
 */
export async function createFaceExtractor(
  options: FaceExtractorOptions = {},
): Promise<ImageFeatureExtractor<FaceResult>> {
  const dir = options.modelDir ?? DEFAULT_FACE_MODEL_DIR;
  const logger = options.logger ?? silentLogger;
  const threads = options.threads ?? 1;
  const detector = await createYunetDetector(dir, { threshold: YUNET_THRESHOLD, threads });
  let landmarks: LandmarkModel;
  try {
    landmarks = await createPeppaLandmarks(dir, { threads });
  } catch (error) {
    await detector.close();
    throw error;
  }
  const anime = options.animeDetector ?? null;
  logger.debug({ dir, anime: anime !== null, version: FACES_VERSION }, 'face models loaded');
  return {
    name: 'faces',
    version: anime === null ? FACES_VERSION : `${FACES_VERSION};lbp-animeface`,
    schema: FaceResult,
    extract: (image) => detectFaces(image, detector, landmarks, anime),
    async close() {
      await Promise.all([detector.close(), landmarks.close()]);
    },
  };
}
