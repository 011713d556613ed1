import type { Cell } from '../audit/metrics-csv.ts';
import type { ImageFeatureExtractor, ImageFeatureRecord } from '../images/features.ts';

/**
 * One block of the bias analysis (colour, faces, composition): the per-image extractors it needs in
 * the image pass, the comparison of a model's images with the reference images, and the per-image
 * cells it adds to metrics.csv image rows. Records handed to `compare` are `status: 'ok'` only.
 */
/** The bias parts a worker thread can rebuild by name (analysis-parts.ts; their comparisons take no options). */
export type StandardBiasPart = 'colour' | 'faces' | 'composition';

export interface BiasPart<E> {
  readonly extractors: readonly ImageFeatureExtractor[];
  /**
   * Set by the standard parts of analysis-parts.ts: a worker thread rebuilds the same comparison
   * by this name. A part without it (a test's, a caller's own) always compares on the calling thread.
   */
  readonly standard?: StandardBiasPart;
  compare(
    model: readonly ImageFeatureRecord[],
    reference: readonly ImageFeatureRecord[],
    options: { seed: number },
  ): E;
  /** Cells for this image's metrics.csv image row (columns of {@link BIAS_IMAGE_COLUMNS}). */
  imageCells(record: ImageFeatureRecord): Record<string, Cell>;
}

/** Per-image columns the bias analysis adds to metrics.csv image rows. */
export const BIAS_IMAGE_COLUMNS = [
  'sat_mean',
  'val_mean',
  'colourfulness',
  'hue_peak_bin',
  'faces',
  'face_aspect',
  'shot',
] as const;
