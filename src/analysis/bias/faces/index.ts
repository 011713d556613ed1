/**
 * The `faces` image feature extractor: YuNet finds faces (real photos, and many SD anime faces too);
 * MediaPipe full-range adds the faces YuNet missed when FaceMesh confirms them (presence ≥ 0.5); Peppa
 * 68-point landmarks give each face its geometry; the anime LBP cascade adds the faces both missed, again
 * when FaceMesh confirms them, as kind 'anime' (boxes only). Why these models and thresholds:
 * docs/faces.md (measured).
 */
import { fileURLToPath } from 'node:url';
import type { ImageFeatureExtractor } from '../../images/features.ts';
import type { RawImage } from '../../images/pil-resample.ts';
import { type Logger, silentLogger } from '../../ports.ts';
import { createAnimeFaceDetector } from './anime.ts';
import {
  createFaceMeshLandmarks,
  createMediapipeDetector,
  createPeppaLandmarks,
  createYunetDetector,
  type FaceDetector,
  type LandmarkModel,
} from './detectors.ts';
import { faceGeometry } from './geometry.ts';
import { iou } from './nms.ts';
import { type Detection, type Face, type FaceBox, FaceResult } from './types.ts';

export { FaceResult } from './types.ts';

/** The product's face models ship in the package's assets/models (no download). */
export const DEFAULT_FACE_MODEL_DIR = fileURLToPath(new URL('../../../../assets/models/', import.meta.url));

/** YuNet score threshold (√(cls·obj)); 0.8 removed every false positive on the measured sets at equal recall. */
export const YUNET_THRESHOLD = 0.8;
/** MediaPipe full-range sigmoid threshold (MediaPipe's default min_detection_confidence). */
export const MEDIAPIPE_THRESHOLD = 0.5;
/** FaceMesh face-presence (sigmoid) a MediaPipe-only face needs: measured ≥ 0.999 on true faces, ≤ 0.001 on false ones. */
export const FACEMESH_PRESENCE = 0.5;
/** A box overlapping a face already found at least this much (IoU) is the same face. */
export const ANIME_OVERLAP_IOU = 0.3;

/** Bump when the output for the same image can change (models, thresholds, geometry). */
export const FACES_VERSION = `faces-1;yunet-n@${YUNET_THRESHOLD};mediapipe-full@${MEDIAPIPE_THRESHOLD}+facemesh@${FACEMESH_PRESENCE};peppa-68`;

/** The anime-face detector (LBP cascade) as src/analysis/bias/faces/anime.ts provides it. */
export interface AnimeFaceDetector {
  detect(image: RawImage): FaceBox[];
}

/** Options of createFaceExtractor. */
export interface FaceExtractorOptions {
  /** Folder with the face models (default: the package's assets/models). */
  modelDir?: string;
  logger?: Logger;
  /**
   * Anime-face detector whose boxes are added where no photo face overlaps. Default: the lbpcascade_animeface
   * detector from `modelDir`; null → photo faces only.
   */
  animeDetector?: AnimeFaceDetector | null;
  /** onnxruntime intra-op threads per session (default 1: images run in parallel upstream). */
  threads?: number;
}

const allFinite = (points: readonly [number, number][]): boolean =>
  points.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y));

/** A photo-detector face with its landmarks (null when the landmark model gave non-finite values). */
export function photoFace(d: Detection, detector: string, landmarks: [number, number][] | null): Face {
  const lm = landmarks !== null && allFinite(landmarks) ? landmarks : d.keypoints;
  return {
    box: d.box,
    score: d.score,
    detector,
    kind: 'photo',
    landmarks: lm,
    geometry: faceGeometry(d.box, lm),
  };
}

/**
 * Add the anime boxes that overlap no photo face (IoU < 0.3) as kind 'anime' faces: no landmarks, so only
 * the box aspect is measured (their geometry ratios are null). Anime boxes carry no score: 1.
 */
export function combineFaces(
  photo: readonly Face[],
  animeBoxes: readonly FaceBox[],
  detector = 'lbp-animeface',
): Face[] {
  const extra = animeBoxes
    .filter((b) => photo.every((f) => iou(f.box, b) < ANIME_OVERLAP_IOU))
    .map(
      (box): Face => ({
        box,
        score: 1,
        detector,
        kind: 'anime',
        landmarks: null,
        geometry: faceGeometry(box, null),
      }),
    );
  return [...photo, ...extra];
}

/** The open models of the photo pipeline. */
export interface PhotoFaceModels {
  yunet: FaceDetector;
  mediapipe: FaceDetector;
  mesh: { presence(image: RawImage, box: FaceBox): Promise<number> };
  landmarks: LandmarkModel;
}

/**
 * Photo-detector faces of one image: every YuNet face, plus each MediaPipe full-range face that overlaps
 * no YuNet face (IoU < 0.3) and that FaceMesh confirms (presence ≥ 0.5).
 */
export async function detectPhotoFaces(
  image: RawImage,
  models: Pick<PhotoFaceModels, 'yunet' | 'mediapipe' | 'mesh'>,
): Promise<Array<{ detection: Detection; detector: string }>> {
  const found = (await models.yunet.detect(image)).map((detection) => ({
    detection,
    detector: models.yunet.name,
  }));
  for (const d of await models.mediapipe.detect(image)) {
    if (found.some((f) => iou(f.detection.box, d.box) >= ANIME_OVERLAP_IOU)) continue;
    if ((await models.mesh.presence(image, d.box)) >= FACEMESH_PRESENCE) {
      found.push({ detection: d, detector: models.mediapipe.name });
    }
  }
  return found;
}

/** Detect and measure the faces of one image with already-open models. */
export async function detectFaces(
  image: RawImage,
  models: PhotoFaceModels,
  anime: AnimeFaceDetector | null,
): Promise<FaceResult> {
  const faces: Face[] = [];
  for (const { detection, detector } of await detectPhotoFaces(image, models)) {
    faces.push(photoFace(detection, detector, await models.landmarks.landmarks(image, detection.box)));
  }
  const detectors = [models.yunet.name, models.mediapipe.name, models.landmarks.name];
  if (anime === null) return { faces, detectors };
  // The cascade fires on round textures too (coins, clothing): FaceMesh must see a face in each new box.
  const confirmed: FaceBox[] = [];
  for (const box of anime.detect(image)) {
    if (faces.some((f) => iou(f.box, box) >= ANIME_OVERLAP_IOU)) continue;
    if ((await models.mesh.presence(image, box)) >= FACEMESH_PRESENCE) confirmed.push(box);
  }
  return { faces: combineFaces(faces, confirmed), detectors: [...detectors, 'lbp-animeface'] };
}

/** Open every model of the photo pipeline (closing what opened when one fails). */
export async function openPhotoFaceModels(
  dir: string,
  threads = 1,
): Promise<PhotoFaceModels & { close(): Promise<void> }> {
  const opened: Array<{ close(): Promise<void> }> = [];
  const open = async <T extends { close(): Promise<void> }>(p: Promise<T>): Promise<T> => {
    const m = await p;
    opened.push(m);
    return m;
  };
  try {
    const yunet = await open(createYunetDetector(dir, { threshold: YUNET_THRESHOLD, threads }));
    const mediapipe = await open(
      createMediapipeDetector(dir, 'full', { threshold: MEDIAPIPE_THRESHOLD, threads }),
    );
    const mesh = await open(createFaceMeshLandmarks(dir, { threads }));
    const landmarks = await open(createPeppaLandmarks(dir, { threads }));
    return {
      yunet,
      mediapipe,
      mesh,
      landmarks,
      close: async () => {
        await Promise.all(opened.map((m) => m.close()));
      },
    };
  } catch (error) {
    await Promise.all(opened.map((m) => m.close()));
    throw error;
  }
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
  const models = await openPhotoFaceModels(dir, options.threads ?? 1);
  let anime: AnimeFaceDetector | null;
  try {
    anime = options.animeDetector === undefined ? await createAnimeFaceDetector(dir) : options.animeDetector;
  } catch (error) {
    await models.close();
    throw error;
  }
  logger.debug({ dir, anime: anime !== null, version: FACES_VERSION }, 'face models loaded');
  return {
    name: 'faces',
    version: anime === null ? FACES_VERSION : `${FACES_VERSION};lbp-animeface`,
    schema: FaceResult,
    extract: (image) => detectFaces(image, models, anime),
    close: () => models.close(),
  };
}
