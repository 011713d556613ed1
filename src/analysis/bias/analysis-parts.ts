import type { z } from 'zod';
import type { Cell } from '../audit/metrics-csv.ts';
import type { DecodedImage } from '../images/decode.ts';
import {
  featureOf,
  type ImageFeatureExtractor,
  type ImageFeatureRecord,
  type SampleImageRef,
} from '../images/features.ts';
import type { Logger } from '../ports.ts';
import type { BiasPart } from './analysis-types.ts';
import { type ColourFeatures, colourExtractor, compareColour } from './colour.ts';
import { compareComposition, compositionOfRecord, saliencyExtractor } from './composition.ts';
import type { ColourEvidence, CompositionEvidence, FacesEvidence } from './evidence.ts';
import { compareFaces } from './faces/compare.ts';
import { createFaceExtractor, DEFAULT_FACE_MODEL_DIR, FACES_VERSION, FaceResult } from './faces/index.ts';
import { openFaceWorker } from './faces/worker-host.ts';

/** The records of a set that carry an extractor's value, with those values. */
function withFeature<T>(
  records: readonly ImageFeatureRecord[],
  extractor: Pick<ImageFeatureExtractor<T>, 'name'>,
): T[] {
  return records.map((r) => featureOf<T>(r, extractor)).filter((v): v is T => v !== undefined);
}

/** Why a block has no numbers when no image carries its feature (every extraction failed). */
function noFeature(records: readonly ImageFeatureRecord[], name: string): string {
  const failure = records.map((r) => (r.status === 'ok' ? r.failed[name] : undefined)).find(Boolean);
  return failure ? `${name} extraction failed: ${failure}` : `no image has ${name} values`;
}

/** Colour statistics (h1's colour extractor and compareColour). */
export function colourPart(): BiasPart<z.infer<typeof ColourEvidence>> {
  return {
    standard: 'colour',
    extractors: [colourExtractor],
    compare(model, reference, { seed }) {
      const a = withFeature<ColourFeatures>(model, colourExtractor);
      if (a.length === 0 && model.length > 0)
        return { status: 'not-measured', reason: noFeature(model, 'colour') };
      return compareColour(a, withFeature<ColourFeatures>(reference, colourExtractor), { seed });
    },
    imageCells(record) {
      const f = featureOf<ColourFeatures>(record, colourExtractor);
      if (!f) return {};
      let peak: number | null = null;
      f.hue.forEach((v, i) => {
        if (v > 0 && (peak === null || v > f.hue[peak]!)) peak = i;
      });
      return { sat_mean: f.satMean, val_mean: f.valMean, colourfulness: f.colourfulness, hue_peak_bin: peak };
    },
  };
}

export interface FacesPartOptions {
  /** Folder with the face models (default: the package's assets/models, where they ship). */
  modelDir?: string;
  /** Add the anime-face LBP cascade's faces (default true; opened with the other models). */
  anime?: boolean;
  logger?: Logger;
  /**
   * Where detection runs (default 'worker': its own worker thread, because the anime cascade is
   * synchronous JavaScript and takes 0.3–8 s per image, which must not stall the event loop).
   */
  thread?: 'worker' | 'main';
}

/**
 * The `faces` extractor, created synchronously: the ONNX sessions open on the first image (one
 * shared promise), so building the analyzer list costs nothing and an audit without images never
 * loads a model. A failed load fails every image's `faces` feature with its reason.
 */
export function lazyFaceExtractor(options: FacesPartOptions = {}): ImageFeatureExtractor<FaceResult> {
  const anime = options.anime ?? true;
  const dir = options.modelDir ?? DEFAULT_FACE_MODEL_DIR;
  const inWorker = (options.thread ?? 'worker') === 'worker';
  type Detect = (image: DecodedImage, ref: SampleImageRef) => Promise<FaceResult>;
  let opened: Promise<{ detect: Detect; close: () => Promise<void> }> | undefined;
  const open = () => {
    opened ??= inWorker
      ? openFaceWorker({ modelDir: dir, anime }).then((w) => ({
          detect: (image: DecodedImage, ref: SampleImageRef) => w.detect(image, ref),
          close: () => w.close(),
        }))
      : // createFaceExtractor opens the anime cascade from the same folder by default.
        createFaceExtractor({
          modelDir: dir,
          ...(options.logger ? { logger: options.logger } : {}),
          ...(anime ? {} : { animeDetector: null }),
        }).then((e) => ({
          detect: async (image: DecodedImage, ref: SampleImageRef) => e.extract(image, ref),
          close: async () => e.close?.(),
        }));
    return opened;
  };
  return {
    name: 'faces',
    // The same version string createFaceExtractor gives its extractor (the cache key).
    version: anime ? `${FACES_VERSION};lbp-animeface` : FACES_VERSION,
    schema: FaceResult,
    extract: async (image, ref) => (await open()).detect(image, ref),
    async close() {
      const o = opened;
      opened = undefined;
      if (o) await (await o.catch(() => undefined))?.close();
    },
  };
}

/** Face detection and geometry (h2's extractor and compareFaces). */
export function facesPart(options: FacesPartOptions = {}): BiasPart<z.infer<typeof FacesEvidence>> {
  const extractor = lazyFaceExtractor(options);
  return {
    standard: 'faces',
    extractors: [extractor],
    compare(model, reference, { seed }) {
      const a = withFeature<FaceResult>(model, extractor);
      if (a.length === 0 && model.length > 0)
        return { status: 'not-measured', reason: noFeature(model, 'faces') };
      return compareFaces(a, withFeature<FaceResult>(reference, extractor), { seed });
    },
    imageCells(record): Record<string, Cell> {
      const f = featureOf<FaceResult>(record, extractor);
      if (!f) return {};
      const largest = [...f.faces].sort((x, y) => y.box.w * y.box.h - x.box.w * x.box.h)[0];
      return { faces: f.faces.length, face_aspect: largest ? largest.geometry.boxAspect : null };
    },
  };
}

/**
 * Composition and shot type (h3's saliency extractor, compositionOfRecord and compareComposition).
 * Reads each image's `faces` value, so it needs the faces part in the same analyzer: an image whose
 * face detection failed has no composition (its shot is unknown, not "no person").
 */
export function compositionPart(): BiasPart<z.infer<typeof CompositionEvidence>> {
  // Each image's features are parsed once: with a population reference every model's comparison
  // reads all other images, which parsed them again per model (quadratic in the audit size).
  const parsed = new WeakMap<ImageFeatureRecord, ReturnType<typeof compositionOfRecord>>();
  const one = (r: ImageFeatureRecord) => {
    if (parsed.has(r)) return parsed.get(r);
    const c = compositionOfRecord(r);
    parsed.set(r, c);
    return c;
  };
  const of = (records: readonly ImageFeatureRecord[]) =>
    records.map((r) => one(r)).filter((c) => c !== undefined);
  return {
    standard: 'composition',
    extractors: [saliencyExtractor],
    compare(model, reference, { seed }) {
      const a = of(model);
      if (a.length === 0 && model.length > 0)
        return { status: 'not-measured', reason: noFeature(model, 'faces') };
      return compareComposition(a, of(reference), { seed });
    },
    imageCells(record) {
      const c = one(record);
      return c ? { shot: c.shot } : {};
    },
  };
}
