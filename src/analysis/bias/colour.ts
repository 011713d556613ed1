import { z } from 'zod';
import { AppError, ErrorCode } from '../errors.ts';
import type { ImageFeatureExtractor } from '../images/features.ts';
import type { RawImage } from '../images/pil-resample.ts';
import { bootstrapMeanDiffCi, DEFAULT_RESAMPLES } from '../stats/bootstrap.ts';
import { jensenShannon } from '../stats/tests.ts';
import type { ColourEvidence } from './evidence.ts';

/**
 * Per-image colour statistics from raw 8-bit RGB(A) pixels, and the per-model comparison with a
 * reference set (issue 12, "Colour").
 *
 * HSV is the hexcone model of Python's colorsys (Smith 1978): V = max/255, S = (max − min)/max,
 * hue from the channel that holds the max. Hue bin i covers [10i°, 10i + 10°); the bin is computed
 * in integers (floor(6·x/d) within the 60° sector), so it is exact and matches the numpy reference.
 *
 * Chromatic gate: a pixel votes in the hue histogram (with weight S) and in the warm / cool counts
 * only when S ≥ 0.1 and V ≥ 0.1 (10·(max − min) ≥ max and 10·max ≥ 255, both in integers): greys
 * have no hue, and the hue of near-black pixels is quantisation noise.
 *
 * Warm and cool hue ranges (HSV degrees): warm = [330°, 360°) ∪ [0°, 90°) (magenta-red, red, orange,
 * yellow), cool = [150°, 270°) (cyan-green, cyan, blue); greens [90°, 150°) and violets [270°, 330°)
 * are transitional and counted as neither. This follows the warm-cool axis of colour-emotion studies,
 * warmest near orange and coolest near cyan-blue (L.-C. Ou, M. R. Luo, A. Woodcock, A. Wright, "A study
 * of colour emotion and colour preference. Part I", Color Res. Appl. 29(3), 2004, 232–240), with two
 * equal 120° arcs around those poles.
 *
 * Colourfulness: M = σ_rgyb + 0.3·μ_rgyb on 0–255 RGB, rg = R − G, yb = (R + G)/2 − B, population
 * standard deviations (D. Hasler, S. Süsstrunk, "Measuring colourfulness in natural images", Proc.
 * SPIE 5007, 2003, eq. 3).
 *
 * Alpha (4 channels) is ignored: the image pass hands extractors 3-channel RGB.
 */
export const COLOUR_VERSION = 'colour-1';
export const HUE_BINS = 36;

export const ColourFeatures = z.object({
  /** Saturation-weighted hue histogram of chromatic pixels, sums to 1; all zeros when no pixel is chromatic. */
  hue: z.array(z.number().min(0)).length(HUE_BINS),
  /** Sum of hue weights (S of chromatic pixels) / number of pixels, in [0, 1]. */
  hueWeight: z.number().min(0).max(1),
  satMean: z.number(),
  satStd: z.number(),
  valMean: z.number(),
  valStd: z.number(),
  colourfulness: z.number(),
  /** Chromatic pixels with a warm hue / those with a cool hue; null when no chromatic pixel is cool (or none is chromatic). */
  warmCoolRatio: z.number().nullable(),
  /** Share of all pixels that are chromatic and warm (so ratios can be pooled over images). */
  warmShare: z.number().min(0).max(1),
  /** Share of all pixels that are chromatic and cool. */
  coolShare: z.number().min(0).max(1),
});
export type ColourFeatures = z.infer<typeof ColourFeatures>;

// Bin classes: 1 = warm, 2 = cool, 0 = neither.
const BIN_CLASS = new Uint8Array(HUE_BINS);
for (let i = 0; i < HUE_BINS; i++) BIN_CLASS[i] = i >= 33 || i < 9 ? 1 : i >= 15 && i < 27 ? 2 : 0;

function std(sum: number, sumSq: number, n: number): number {
  const m = sum / n;
  return Math.sqrt(Math.max(0, sumSq / n - m * m));
}

/**
 * Colour statistics of one image in a single pass over its raw pixels (no per-pixel allocation).
 * Throws INPUT_INVALID when the image has no pixels, 1, 2 or more than 4 channels, or a buffer shorter
 * than width × height × channels.
 */
export function colourFeatures(image: RawImage): ColourFeatures {
  const { data, width, height, channels } = image;
  const pixels = width * height;
  if (!Number.isSafeInteger(pixels) || pixels < 1 || width < 1 || height < 1) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'colour statistics need a non-empty image', {
      details: { width, height },
    });
  }
  if (channels !== 3 && channels !== 4) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'colour statistics need RGB or RGBA pixels', {
      details: { channels },
    });
  }
  if (data.length < pixels * channels) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'image buffer is shorter than width × height × channels', {
      details: { bytes: data.length, width, height, channels },
    });
  }
  const hist = new Float64Array(HUE_BINS);
  // Integer sums below stay exact in float64 (< 2^53 for any image under ~10^9 pixels).
  let sumMax = 0;
  let sumMaxSq = 0;
  let sumS = 0;
  let sumSSq = 0;
  let sumRg = 0;
  let sumRgSq = 0;
  let sumYb2 = 0; // 2·yb = R + G − 2B, an integer
  let sumYb2Sq = 0;
  let weight = 0;
  let warm = 0;
  let cool = 0;
  const end = pixels * channels;
  for (let o = 0; o < end; o += channels) {
    const r = data[o]!;
    const g = data[o + 1]!;
    const b = data[o + 2]!;
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const d = max - min;
    sumMax += max;
    sumMaxSq += max * max;
    const rg = r - g;
    sumRg += rg;
    sumRgSq += rg * rg;
    const yb2 = r + g - 2 * b;
    sumYb2 += yb2;
    sumYb2Sq += yb2 * yb2;
    if (d === 0) continue; // grey (or black): S = 0, no hue
    const s = d / max;
    sumS += s;
    sumSSq += s * s;
    if (10 * d < max || 10 * max < 255) continue;
    let bin: number;
    if (r === max) {
      bin = Math.floor((6 * (g - b)) / d);
      if (bin < 0) bin += HUE_BINS;
    } else if (g === max) {
      bin = 12 + Math.floor((6 * (b - r)) / d);
    } else {
      bin = 24 + Math.floor((6 * (r - g)) / d);
    }
    hist[bin]! += s;
    weight += s;
    const cls = BIN_CLASS[bin];
    if (cls === 1) warm++;
    else if (cls === 2) cool++;
  }
  const hue = new Array<number>(HUE_BINS);
  for (let i = 0; i < HUE_BINS; i++) hue[i] = weight > 0 ? hist[i]! / weight : 0;
  const muRg = sumRg / pixels;
  const muYb = sumYb2 / 2 / pixels;
  const sdRg = std(sumRg, sumRgSq, pixels);
  const sdYb = std(sumYb2, sumYb2Sq, pixels) / 2;
  return {
    hue,
    hueWeight: weight / pixels,
    satMean: sumS / pixels,
    satStd: std(sumS, sumSSq, pixels),
    valMean: sumMax / 255 / pixels,
    valStd: std(sumMax, sumMaxSq, pixels) / 255,
    colourfulness: Math.sqrt(sdRg * sdRg + sdYb * sdYb) + 0.3 * Math.sqrt(muRg * muRg + muYb * muYb),
    warmCoolRatio: cool > 0 ? warm / cool : null,
    warmShare: warm / pixels,
    coolShare: cool / pixels,
  };
}

/** The colour extractor of the image pass (name 'colour'). */
export const colourExtractor: ImageFeatureExtractor<ColourFeatures> = {
  name: 'colour',
  version: COLOUR_VERSION,
  schema: ColourFeatures,
  extract: (image) => colourFeatures(image),
};

/**
 * Pooled hue histogram of a set of images: each image's histogram weighted by its `hueWeight` (so
 * every image counts by its share of chromatic saturation, whatever its size), normalised to sum 1;
 * all zeros when no image has a chromatic pixel.
 */
export function pooledHue(features: readonly ColourFeatures[]): number[] {
  const out = new Array<number>(HUE_BINS).fill(0);
  let total = 0;
  for (const f of features) {
    for (let i = 0; i < HUE_BINS; i++) out[i]! += f.hueWeight * f.hue[i]!;
    total += f.hueWeight;
  }
  if (total > 0) for (let i = 0; i < HUE_BINS; i++) out[i]! /= total;
  return out;
}

export interface CompareColourOptions {
  seed: number;
  /** Bootstrap replicates (≥ 1000; default 2000). */
  resamples?: number;
  /** Fewest images on either side for a comparison (default 3). */
  minImages?: number;
}

function meanOf(features: readonly ColourFeatures[], pick: (f: ColourFeatures) => number): number {
  let s = 0;
  for (const f of features) s += pick(f);
  return s / features.length;
}

/**
 * A model's images against reference images: Jensen–Shannon divergence (bits) of the pooled hue
 * histograms, S and V means per image with seeded percentile bootstrap intervals of the differences
 * (images resampled; the same seed gives the same draws for S and V), mean colourfulness and the pooled
 * warm/cool ratio of the model's images (Σ warm shares / Σ cool shares; null when none is cool).
 * 'insufficient' when either side has fewer than `minImages` images or no chromatic pixel at all.
 * Throws INPUT_INVALID for bad bootstrap options.
 */
export function compareColour(
  model: readonly ColourFeatures[],
  reference: readonly ColourFeatures[],
  options: CompareColourOptions,
): z.infer<typeof ColourEvidence> {
  const minImages = options.minImages ?? 3;
  const n = model.length;
  const nRef = reference.length;
  if (n < minImages || nRef < minImages) {
    return {
      status: 'insufficient',
      reason: `insufficient images: ${n} model and ${nRef} reference images with colour statistics (need ${minImages} each)`,
    };
  }
  const hue = pooledHue(model);
  const refHue = pooledHue(reference);
  const noHue = (h: number[]) => h.every((v) => v === 0);
  if (noHue(hue) || noHue(refHue)) {
    return {
      status: 'insufficient',
      reason: `no chromatic pixels in the ${noHue(hue) ? 'model' : 'reference'} images: hue cannot be compared (all grey)`,
    };
  }
  const boot = { seed: options.seed, resamples: options.resamples ?? DEFAULT_RESAMPLES };
  const sat = model.map((f) => f.satMean);
  const refSat = reference.map((f) => f.satMean);
  const val = model.map((f) => f.valMean);
  const refVal = reference.map((f) => f.valMean);
  const coolShare = meanOf(model, (f) => f.coolShare);
  return {
    status: 'ok',
    n,
    nRef,
    hue,
    refHue,
    hueJs: jensenShannon(hue, refHue),
    satMean: meanOf(model, (f) => f.satMean),
    refSatMean: meanOf(reference, (f) => f.satMean),
    satMeanDiff: bootstrapMeanDiffCi(sat, refSat, boot),
    valMean: meanOf(model, (f) => f.valMean),
    refValMean: meanOf(reference, (f) => f.valMean),
    valMeanDiff: bootstrapMeanDiffCi(val, refVal, boot),
    colourfulness: meanOf(model, (f) => f.colourfulness),
    refColourfulness: meanOf(reference, (f) => f.colourfulness),
    warmCoolRatio: coolShare > 0 ? meanOf(model, (f) => f.warmShare) / coolShare : null,
  };
}
