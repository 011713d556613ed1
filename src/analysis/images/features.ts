import type { z } from 'zod';
import type { DecodedImage } from './decode.ts';
import type { ImageSkipReason } from './types.ts';

/**
 * The one image pass of an audit: every sample image is downloaded and decoded once, and that one
 * decode feeds every per-image feature extractor (CLIP preprocessing, colour, faces, composition).
 * Extractor results are cached per image URL and extractor version, so a warm re-audit decodes
 * nothing. Analyzers declare the extractors they need; the service runs the pass and hands each
 * analyzer the results (`AnalysisContext`).
 */

/** Where one image comes from and what Civitai says about it. */
export interface SampleImageRef {
  /** Stable key of this image within an audit: `${modelId}:${imageId}` for Civitai images, `ref:<file name>` for reference files. */
  key: string;
  /** Civitai model id; null for a reference image from a local folder. */
  modelId: number | null;
  versionId: number | null;
  imageId: number | null;
  /** Remote URL (fetched through the allow-listed fetcher) or `file://` URL of a reference image. */
  url: string;
  prompt: string | null;
  /** Size from Civitai's metadata when known (chooses the CDN rendition). */
  width: number | null;
  height: number | null;
}

/**
 * One per-image analysis. `extract` gets the decoded RGB image (EXIF-oriented, 3 channels, sharp's raw
 * buffer) once; it must not keep a reference to `image.data` after it resolves.
 */
export interface ImageFeatureExtractor<T = unknown> {
  /** Unique name; the key under which results appear in `ImageFeatureRecord.features`. */
  readonly name: string;
  /** Bump whenever the output for the same image can change; part of the cache key. */
  readonly version: string;
  /** Validates a cached value (a stale or corrupt cache entry is recomputed, never trusted). */
  readonly schema: z.ZodType<T>;
  extract(image: DecodedImage, ref: SampleImageRef, signal?: AbortSignal): Promise<T> | T;
  /** Release native resources (ONNX sessions). */
  close?(): Promise<void>;
}

/** What the pass produced for one image. */
export type ImageFeatureRecord =
  | {
      ref: SampleImageRef;
      status: 'ok';
      /** Decoded size (after EXIF orientation). */
      width: number;
      height: number;
      /** Extractor name → its value; an extractor that threw is absent and listed in `failed`. */
      features: Record<string, unknown>;
      failed: Record<string, string>;
      /** true when every feature came from the cache (nothing was downloaded or decoded). */
      cached: boolean;
    }
  | { ref: SampleImageRef; status: 'skipped'; reason: ImageSkipReason; detail: string };

/** Results of the image pass over the audited models' images (and the reference's, when one is set). */
export interface ImagePassResult {
  /** By `SampleImageRef.key`, audited models' images. */
  images: ReadonlyMap<string, ImageFeatureRecord>;
  /** Reference images when the run has a user reference (`--reference DIR` / `--reference-model`). */
  reference: ReadonlyMap<string, ImageFeatureRecord>;
  stats: { images: number; decoded: number; cacheHits: number; skipped: number };
}

/** Cache of extractor results: key = (image URL as requested, extractor name, extractor version). */
export interface ImageFeatureCache {
  get(url: string, extractor: string, version: string): Promise<unknown | undefined>;
  /** Many results in one store round trip (one query on sqlite and Redis), in the order asked. */
  getMany(
    entries: ReadonlyArray<{ url: string; extractor: string; version: string }>,
  ): Promise<Array<unknown | undefined>>;
  set(url: string, extractor: string, version: string, value: unknown): Promise<void>;
}

/** Read the typed value of one extractor from a record (undefined when skipped, failed or absent). */
export function featureOf<T>(
  record: ImageFeatureRecord | undefined,
  extractor: Pick<ImageFeatureExtractor<T>, 'name'>,
): T | undefined {
  if (record === undefined || record.status !== 'ok') return undefined;
  return record.features[extractor.name] as T | undefined;
}
