import type { z } from 'zod';
import type { Cell } from '../audit/metrics-csv.ts';
import type { BiasReference } from '../audit/types.ts';
import type { ImageFeatureRecord } from '../images/features.ts';
import { type Matrix, matrix } from '../stats/linalg.ts';
import { type DistanceResult, groupDistances } from './analysis-distance.ts';
import { nameReference } from './analysis-reference.ts';
import type { BiasPart } from './analysis-types.ts';
import type { BiasModelEvidence, ColourEvidence, CompositionEvidence, FacesEvidence } from './evidence.ts';
import { INCEPTION_FEATURES } from './inception.ts';
import type { CachedBiasModel } from './result-cache.ts';

// The per-model bias computation, apart from the analyzer so that it can run in a worker thread
// (compute-worker.ts) as well as on the calling thread: plain data in, per-model results out.

export type Colour = z.infer<typeof ColourEvidence>;
export type Faces = z.infer<typeof FacesEvidence>;
export type Composition = z.infer<typeof CompositionEvidence>;
export type NotMeasured = { status: 'not-measured' | 'insufficient'; reason: string };

/** metrics.csv model columns of the bias analysis, in order (empty when unmeasured). */
export const BIAS_COLUMNS = [
  'hue_js',
  'sat_mean_diff',
  'sat_mean_diff_ci_low',
  'sat_mean_diff_ci_high',
  'val_mean_diff',
  'val_mean_diff_ci_low',
  'val_mean_diff_ci_high',
  'face_detect_rate',
  'face_aspect_dev_pct',
  'face_aspect_dev_pct_ci_low',
  'face_aspect_dev_pct_ci_high',
  'shot_closeup',
  'shot_half',
  'shot_full',
  'shot_none',
  'fid_clip',
  'kid_clip_mean',
  'kid_clip_std',
  'cmmd',
  'fid_inception',
  'kid_inception_mean',
  'kid_inception_std',
  'bias_reference',
  'n_images',
] as const;

export const notMeasured = (reason: string): NotMeasured => ({ status: 'not-measured', reason });

export function emptyMetrics(): Record<string, Cell> {
  return Object.fromEntries(BIAS_COLUMNS.map((c) => [c, null]));
}

/** The L2-normalised CLIP embedding of an ok record, when the image pass computed one. */
export function clipOf(record: ImageFeatureRecord): number[] | undefined {
  return vectorOf(record, 'clip');
}

/** A numeric feature vector of one image (`clip` embedding, `inception` pool3), or undefined. */
export function vectorOf(record: ImageFeatureRecord, feature: string): number[] | undefined {
  if (record.status !== 'ok') return undefined;
  const v = record.features[feature];
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x))
    ? (v as number[])
    : undefined;
}

export function embeddings(records: readonly ImageFeatureRecord[], dim: number, feature = 'clip'): Matrix {
  const rows = records
    .map((r) => vectorOf(r, feature))
    .filter((v): v is number[] => v !== undefined && v.length === dim);
  const data = new Float64Array(rows.length * dim);
  rows.forEach((r, i) => {
    data.set(r, i * dim);
  });
  return matrix(rows.length, dim, data);
}

export function metricsOf(e: {
  colour: Colour;
  faces: Faces;
  composition: Composition;
  distance: DistanceResult;
  distanceInception?: DistanceResult | undefined;
}): Record<string, Cell> {
  const m = emptyMetrics();
  if (e.colour.status === 'ok') {
    Object.assign(m, {
      hue_js: e.colour.hueJs,
      sat_mean_diff: e.colour.satMeanDiff.estimate,
      sat_mean_diff_ci_low: e.colour.satMeanDiff.low,
      sat_mean_diff_ci_high: e.colour.satMeanDiff.high,
      val_mean_diff: e.colour.valMeanDiff.estimate,
      val_mean_diff_ci_low: e.colour.valMeanDiff.low,
      val_mean_diff_ci_high: e.colour.valMeanDiff.high,
    });
  }
  if (e.faces.status === 'ok') {
    m.face_detect_rate = e.faces.detectionRate;
    const aspect = e.faces.features.boxAspect;
    if (aspect) {
      m.face_aspect_dev_pct = aspect.devPct.estimate;
      m.face_aspect_dev_pct_ci_low = aspect.devPct.low;
      m.face_aspect_dev_pct_ci_high = aspect.devPct.high;
    }
  }
  if (e.composition.status === 'ok' && e.composition.n > 0) {
    const n = e.composition.n;
    for (const shot of ['closeup', 'half', 'full', 'none'] as const) {
      m[`shot_${shot}`] = (e.composition.shots[shot] ?? 0) / n;
    }
  }
  if (e.distance.status === 'ok') {
    m.fid_clip = e.distance.fid.estimate;
    m.kid_clip_mean = e.distance.kidMean;
    m.kid_clip_std = e.distance.kidStd;
    m.cmmd = e.distance.cmmd.estimate;
  }
  if (e.distanceInception?.status === 'ok') {
    m.fid_inception = e.distanceInception.fid.estimate;
    m.kid_inception_mean = e.distanceInception.kidMean;
    m.kid_inception_std = e.distanceInception.kidStd;
  }
  return m;
}

/** The comparisons of the bias analysis (each optional: a missing one is "not measured"). */
export interface BiasParts {
  colour?: BiasPart<Colour> | undefined;
  faces?: BiasPart<Faces> | undefined;
  composition?: BiasPart<Composition> | undefined;
}

/** Everything the per-model results depend on, as plain (structured-cloneable) data. */
export interface BiasComputeInput {
  /** Audited model ids, in audit order. */
  modelIds: readonly number[];
  /** Each audited model's decodable images (status ok), sorted by key, in audit order. */
  byModel: ReadonlyMap<number, readonly ImageFeatureRecord[]>;
  /** Per model: why its failed images failed (reason → count). */
  failedByModel: ReadonlyMap<number, ReadonlyMap<string, number>>;
  /** The user reference's decodable images, sorted; undefined for the population reference. */
  fixedRef: readonly ImageFeatureRecord[] | undefined;
  reference: BiasReference;
  seed: number;
  /** Bootstrap resamples of the distance intervals. */
  resamples: number;
  /** Feature name of Inception-v3 pool3 vectors, when the user supplied the model. */
  inceptionName?: string | undefined;
}

/**
 * Per-model bias results: CLIP (and Inception) distances for all models at once, then each model's
 * colour, face and composition comparisons against its reference. `between` runs after each model
 * (the calling thread yields to its event loop there).
 */
export async function computeBiasModels(
  input: BiasComputeInput,
  parts: BiasParts,
  between: () => Promise<void> = async () => {},
): Promise<CachedBiasModel[]> {
  const { byModel, failedByModel, fixedRef, reference, seed, resamples, inceptionName } = input;
  const records = input.modelIds.map((id) => ({ id }));
  const allImages = records.flatMap((r) => byModel.get(r.id) ?? []);
  // CLIP-embedding distances for all models at once (one audit-wide Gram matrix).
  const dim = allImages.map(clipOf).find((v) => v !== undefined)?.length ?? 0;
  let distances: DistanceResult[];
  if (dim === 0) {
    distances = records.map(() => notMeasured('no CLIP image embeddings (CLIP model files missing?)'));
  } else {
    const groups = records.map((r) => embeddings(byModel.get(r.id) ?? [], dim));
    distances = groupDistances(groups, fixedRef ? embeddings(fixedRef, dim) : 'population', {
      seed: seed,
      resamples,
    });
  }
  // Inception-v3 distances when the user supplied the model (FID / KID as the literature reports them).
  let inceptionDistances: DistanceResult[] | undefined;
  if (inceptionName !== undefined) {
    const name = inceptionName;
    const idim = allImages.map((r) => vectorOf(r, name)).find((v) => v !== undefined)?.length ?? 0;
    inceptionDistances =
      idim === 0
        ? records.map(() => notMeasured('no Inception features (the model failed on every image)'))
        : groupDistances(
            records.map((r) => embeddings(byModel.get(r.id) ?? [], idim, name)),
            fixedRef ? embeddings(fixedRef, idim, name) : 'population',
            {
              seed: seed,
              resamples,
              features: INCEPTION_FEATURES,
            },
          );
  }
  const models: CachedBiasModel[] = [];
  for (const [i, record] of records.entries()) {
    const own = byModel.get(record.id) ?? [];
    const refImages = fixedRef ?? allImages.filter((r) => r.ref.modelId !== record.id);
    const refName = nameReference(reference, refImages.length);
    const compare = <E>(part: BiasPart<E> | undefined, what: string): E | NotMeasured =>
      part ? part.compare(own, refImages, { seed: seed }) : notMeasured(`${what} analysis unavailable`);
    const failed = failedByModel.get(record.id);
    const failedCount = failed ? [...failed.values()].reduce((a, b) => a + b, 0) : 0;
    const evidence: BiasModelEvidence = {
      reference: refName.evidence,
      nImages: own.length,
      ...(failed && failedCount > 0
        ? {
            imagesFailed: {
              count: failedCount,
              sentence: `${failedCount} of ${failedCount + own.length} sample image(s) failed to download or decode (${[...failed].map(([k, v]) => `${k}: ${v}`).join(', ')}); the numbers use the other ${own.length}.`,
            },
          }
        : {}),
      colour: compare(parts.colour, 'colour'),
      faces: compare(parts.faces, 'face'),
      composition: compare(parts.composition, 'composition'),
      distance: distances[i] ?? notMeasured('no CLIP image embeddings'),
      ...(inceptionDistances
        ? { distanceInception: inceptionDistances[i] ?? notMeasured('no Inception features') }
        : {}),
    };
    const measured = own.length > 0;
    const metrics = measured ? metricsOf(evidence) : emptyMetrics();
    if (measured) {
      metrics.bias_reference = refName.column;
      metrics.n_images = own.length;
    }
    models.push({
      id: record.id,
      analysis: {
        flagged: measured ? false : null,
        ...(measured ? {} : { unmeasured: 'no decodable sample images' }),
        informational: true,
        findings: [],
        metrics,
        evidence,
      },
    });
    await between();
  }
  return models;
}
