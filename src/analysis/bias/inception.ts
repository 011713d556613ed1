/**
 * Optional Inception-v3 features for FID / KID, when a user supplies an Inception ONNX
 * (`LORALENS_INCEPTION_MODEL`). loralens ships no Inception weights (the usual pytorch-fid / clean-fid
 * weights are a separate download with their own licence); CLIP-embedding distances are always there.
 *
 * Model contract (documented in the README):
 * - one float32 input, NCHW `[N, 3, 299, 299]`, RGB scaled to 0..1 (byte / 255) — the convention of
 *   pytorch-fid's `InceptionV3(normalize_input=True)`, whose graph maps 0..1 to −1..1 itself;
 * - its first output is the 2048-d pool3 feature, `[N, 2048]` or `[N, 2048, 1, 1]`.
 * Resize: clean-fid's "clean" resize — Pillow BICUBIC with antialiasing straight to 299 × 299 (no
 * crop, aspect not kept), in the same Pillow port CLIP uses (`pil-resample.ts`), so the features do
 * not carry the aliasing that a framework's bilinear resize adds (Parmar et al., CVPR 2022).
 * The session runs in its own worker thread (`openWorkerSession`), like the CLIP towers.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { openWorkerSession, type TowerSession } from '../clip/tower-session.ts';
import { AppError, ErrorCode } from '../errors.ts';
import type { ImageFeatureExtractor } from '../images/features.ts';
import { pilBicubicResizeWindow, premultiplyAlpha, type RawImage } from '../images/pil-resample.ts';

export const INCEPTION_SIZE = 299;
export const INCEPTION_FEATURES = 'inception-v3 pool3';

/** 3 × 299 × 299 float32, CHW, byte / 255 after the clean bicubic resize. */
export function inceptionTensor(img: RawImage): Float32Array {
  let source = img;
  if (img.channels === 4) {
    source = { ...img, data: Uint8Array.from(img.data) };
    premultiplyAlpha(source);
  }
  const resized = pilBicubicResizeWindow(source, {
    outWidth: INCEPTION_SIZE,
    outHeight: INCEPTION_SIZE,
    left: 0,
    top: 0,
    width: INCEPTION_SIZE,
    height: INCEPTION_SIZE,
  });
  const plane = INCEPTION_SIZE * INCEPTION_SIZE;
  const out = new Float32Array(3 * plane);
  const d = resized.data;
  const ch = resized.channels;
  for (let c = 0; c < 3; c++) {
    const base = c * plane;
    for (let i = 0, p = c; i < plane; i++, p += ch) out[base + i] = d[p]! / 255;
  }
  return out;
}

/**
 * The `inception` extractor for the model file at `path`. Its version is the file's sha256 (hashed on first use), so
 * cached features never outlive the model they came from. The session opens on the first image.
 */
export function createInceptionExtractor(path: string): ImageFeatureExtractor<number[]> {
  try {
    if (!statSync(path).isFile()) throw new Error('not a regular file');
  } catch (error) {
    throw new AppError(ErrorCode.MODEL_MISSING, `The Inception model ${path} cannot be read.`, {
      cause: error,
    });
  }
  // Hashed on first use (the first cache lookup of an audit), not when the analyzers are built.
  let version: string | undefined;
  let session: Promise<TowerSession> | undefined;
  const open = (): Promise<TowerSession> => {
    session ??= openWorkerSession(path, { intraOpNumThreads: 1, interOpNumThreads: 1 }).then((s) => {
      if (s.inputNames.length !== 1 || s.outputNames.length < 1) {
        void s.release();
        throw new AppError(
          ErrorCode.MODEL_INVALID,
          `The Inception model ${path} must have one input and a pool3 output (it has inputs ${s.inputNames.join(', ')}).`,
        );
      }
      return s;
    });
    return session;
  };
  return {
    name: 'inception',
    get version() {
      version ??= `inception-1;sha256=${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
      return version;
    },
    schema: z.array(z.number()).min(1),
    async extract(image) {
      const s = await open();
      const input = s.inputNames[0]!;
      const output = s.outputNames[0]!;
      const tensor = inceptionTensor(image);
      const { outputs } = await s.run(
        { [input]: { type: 'float32', data: tensor, dims: [1, 3, INCEPTION_SIZE, INCEPTION_SIZE] } },
        [output],
      );
      const out = outputs[output];
      if (out?.type !== 'float32') {
        throw new AppError(ErrorCode.MODEL_INVALID, `The Inception model ${path} gave no float32 ${output}.`);
      }
      return Array.from(out.data as Float32Array);
    },
    async close() {
      const s = session;
      session = undefined;
      if (s) await (await s.catch(() => undefined))?.release();
    },
  };
}
