import type { z } from 'zod';
import { bootstrapMeanCi, bootstrapRatioPctCi, DEFAULT_RESAMPLES, hedgesG } from '../../stats/bootstrap.ts';
import type { FaceFeatureEvidence, FacesEvidence } from '../evidence.ts';
import type { Face, FaceResult } from './types.ts';

export type FacesEvidenceValue = z.infer<typeof FacesEvidence>;
type FeatureEvidence = z.infer<typeof FaceFeatureEvidence>;

export interface CompareFacesOptions {
  seed: number;
  /** Bootstrap replicates (≥ 1000; default 2000). */
  resamples?: number;
  /** Fewer faces than this (in the model's images, or in the reference's) → "insufficient faces". */
  minFaces?: number;
}

/** Raw values kept for the report's distribution charts, per side. */
export const MAX_RAW_ASPECTS = 200;

/**
 * The compared features, by their key in `FacesEvidence.features`. Roll is compared as its absolute
 * value (tilt either way): a signed mean sits near 0, where a deviation in percent means nothing.
 */
export const FACE_FEATURES: ReadonlyArray<readonly [string, (f: Face) => number | null]> = [
  ['boxAspect', (f) => f.geometry.boxAspect],
  ['interOcularRatio', (f) => f.geometry.interOcularRatio],
  ['eyeMouthRatio', (f) => f.geometry.eyeMouthRatio],
  ['jawWidthRatio', (f) => f.geometry.jawWidthRatio],
  ['rollAbsDeg', (f) => (f.geometry.rollDeg === null ? null : Math.abs(f.geometry.rollDeg))],
];

const facesOf = (set: readonly FaceResult[]): Face[] => set.flatMap((r) => r.faces);
const rate = (set: readonly FaceResult[]): number =>
  set.length === 0 ? 0 : set.filter((r) => r.faces.length > 0).length / set.length;
const values = (faces: readonly Face[], get: (f: Face) => number | null): number[] =>
  faces.flatMap((f) => {
    const v = get(f);
    return v !== null && Number.isFinite(v) ? [v] : [];
  });
const isConstant = (x: readonly number[]): boolean => x.every((v) => v === x[0]);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Compare a model's faces with the reference's: detection rate (images with ≥ 1 face / images), per
 * feature the mean with its seeded percentile bootstrap interval, the deviation from the reference mean
 * in % (bootstrap interval of the ratio) and Hedges' g. A feature is reported only when both sides have
 * at least `minFaces` values of it; with fewer faces than that on either side the whole block is
 * `{ status: 'insufficient' }` with the counts in its reason. Throws INPUT_INVALID for bad bootstrap options.
 */
export function compareFaces(
  model: readonly FaceResult[],
  reference: readonly FaceResult[],
  options: CompareFacesOptions,
): FacesEvidenceValue {
  const minFaces = options.minFaces ?? 5;
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const faces = facesOf(model);
  const refFaces = facesOf(reference);
  if (faces.length < minFaces) {
    return {
      status: 'insufficient',
      reason: `insufficient faces: ${plural(faces.length, 'face')} in ${plural(model.length, 'image')} (need ${minFaces})`,
    };
  }
  if (refFaces.length < minFaces) {
    return {
      status: 'insufficient',
      reason: `insufficient faces in the reference: ${plural(refFaces.length, 'face')} in ${plural(reference.length, 'image')} (need ${minFaces})`,
    };
  }
  const features: Record<string, FeatureEvidence> = {};
  const skipped: string[] = [];
  FACE_FEATURES.forEach(([key, get], k) => {
    const a = values(faces, get);
    const b = values(refFaces, get);
    if (a.length < minFaces || b.length < minFaces) {
      skipped.push(`${key} (${a.length} vs ${b.length} values)`);
      return;
    }
    const refMean = b.reduce((s, v) => s + v, 0) / b.length;
    // Constant on both sides: rounding in the variance would turn "no spread" into a huge finite g.
    const g = isConstant(a) && isConstant(b) ? (a[0] === b[0] ? 0 : Number.NaN) : hedgesG(a, b);
    if (refMean === 0 || !Number.isFinite(g)) {
      skipped.push(`${key} (reference mean 0 or no spread)`);
      return;
    }
    const seed = (options.seed + k) >>> 0;
    const dev = bootstrapRatioPctCi(a, b, { seed, resamples });
    if (!Number.isFinite(dev.low) || !Number.isFinite(dev.high)) {
      skipped.push(`${key} (unstable ratio)`);
      return;
    }
    features[key] = {
      mean: bootstrapMeanCi(a, { seed, resamples }),
      refMean,
      devPct: dev,
      effectSize: g,
      nFaces: a.length,
    };
  });
  const kinds = {
    photo: faces.filter((f) => f.kind === 'photo').length,
    anime: faces.filter((f) => f.kind === 'anime').length,
  };
  const notes: string[] = [];
  if (kinds.anime > 0) {
    notes.push(
      `${plural(kinds.anime, 'anime face')} (boxes only): landmark features use the ${plural(kinds.photo, 'photo face')}`,
    );
  }
  if (skipped.length > 0)
    notes.push(`not compared, fewer than ${minFaces} values or degenerate: ${skipped.join(', ')}`);
  return {
    status: 'ok',
    nImages: model.length,
    nFaces: faces.length,
    detectionRate: rate(model),
    refDetectionRate: rate(reference),
    kinds,
    detectors: [...new Set([...model, ...reference].flatMap((r) => r.detectors))].sort(),
    aspects: values(faces, (f) => f.geometry.boxAspect).slice(0, MAX_RAW_ASPECTS),
    refAspects: values(refFaces, (f) => f.geometry.boxAspect).slice(0, MAX_RAW_ASPECTS),
    features,
    ...(notes.length > 0 ? { note: `${notes.join('; ')}.` } : {}),
  };
}
