import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../errors.ts';
import type { RawImage } from '../../images/pil-resample.ts';
import {
  type DetectOptions,
  detectMultiScale,
  equalizeHist,
  type GrayImage,
  type LbpCascade,
  parseLbpCascade,
  resizeLinearExact,
  rgbToGray,
} from './lbp-cascade.ts';

/**
 * Anime / illustration face detector: nagadomi's `lbpcascade_animeface` (MIT) run by our LBP cascade
 * evaluator, exactly as the cascade's README uses it with OpenCV: grey, `equalizeHist`,
 * `detectMultiScale(scaleFactor 1.1, minNeighbors 5, minSize 24×24)`.
 */

/** File name of the cascade in the model folder (as in ../shared/models/anime-face and assets/models). */
export const ANIME_CASCADE_FILE = 'lbpcascade_animeface.xml';
/** sha256 of nagadomi/lbpcascade_animeface:lbpcascade_animeface.xml@4433ab1ae1166ea75acfe99eb0f18709dac329a0. */
export const ANIME_CASCADE_SHA256 = '9376d30ac38db6bda2a68b88b3b76bbd7e6aa33af47f7f5c76bc88ca75f1ce30';

/** The upstream README's parameters. */
export const ANIME_DETECT_OPTIONS: Readonly<
  Required<Pick<DetectOptions, 'scaleFactor' | 'minNeighbors' | 'minSize'>>
> = {
  scaleFactor: 1.1,
  minNeighbors: 5,
  minSize: { width: 24, height: 24 },
};

/** A face box in pixels of the image given to `detect` (top-left corner, width, height). */
export interface AnimeFaceBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface AnimeFaceDetector {
  detect(image: RawImage): AnimeFaceBox[];
}

export interface AnimeDetectorOptions {
  /**
   * Longer side above which the grey image is first shrunk (bit-exact bilinear) and the boxes scaled
   * back: the scan costs grow with the pixel count, and a face under 24 px at this size is too small
   * to measure anyway. Default 1024 (SD outputs up to 1024 px run unchanged, as with OpenCV); 0 = never.
   */
  maxSide?: number;
}

/** Grey + equalizeHist + detectMultiScale with the upstream parameters, on an RGB(A) or grey image. */
export function detectAnimeFaces(
  cascade: LbpCascade,
  image: RawImage,
  options: AnimeDetectorOptions = {},
): AnimeFaceBox[] {
  const maxSide = options.maxSide ?? 1024;
  if (!Number.isSafeInteger(maxSide) || maxSide < 0) {
    throw new AppError(ErrorCode.INPUT_INVALID, `maxSide must be a non-negative integer, got ${maxSide}`);
  }
  let gray: GrayImage = rgbToGray(image);
  let factor = 1;
  const longer = Math.max(gray.width, gray.height);
  if (maxSide > 0 && longer > maxSide) {
    factor = longer / maxSide;
    gray = resizeLinearExact(
      gray,
      Math.max(1, Math.round(gray.width / factor)),
      Math.max(1, Math.round(gray.height / factor)),
    );
  }
  const sx = image.width / gray.width;
  const sy = image.height / gray.height;
  return detectMultiScale(cascade, equalizeHist(gray), ANIME_DETECT_OPTIONS).map((r) =>
    factor === 1
      ? { x: r.x, y: r.y, w: r.width, h: r.height }
      : { x: r.x * sx, y: r.y * sy, w: r.width * sx, h: r.height * sy },
  );
}

/**
 * Load the anime cascade from `modelDir` (`lbpcascade_animeface.xml`, shipped in assets/models).
 * Throws MODEL_MISSING when the file is absent and MODEL_INVALID when it is not a readable LBP cascade.
 */
export async function createAnimeFaceDetector(
  modelDir: string,
  options: AnimeDetectorOptions = {},
): Promise<AnimeFaceDetector> {
  const path = join(modelDir, ANIME_CASCADE_FILE);
  let xml: string;
  try {
    xml = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AppError(ErrorCode.MODEL_MISSING, `Anime-face cascade not readable at ${path}`, {
      cause,
      details: { path },
      userMessage: `The anime-face model ${ANIME_CASCADE_FILE} is missing from ${modelDir}.`,
    });
  }
  let cascade: LbpCascade;
  try {
    cascade = parseLbpCascade(xml);
  } catch (cause) {
    throw new AppError(ErrorCode.MODEL_INVALID, `Anime-face cascade at ${path} is not a valid LBP cascade`, {
      cause,
      details: { path },
    });
  }
  return { detect: (image) => detectAnimeFaces(cascade, image, options) };
}
