import type { z } from 'zod';
import { DISTANCE_RESAMPLES, type DistanceResult, groupDistances } from '../bias/analysis-distance.ts';
import { nameReference } from '../bias/analysis-reference.ts';
import {
  SIGNIFICANCE_ALPHA,
  significanceClause,
  significanceSentence,
  significanceTable,
} from '../bias/analysis-significance.ts';
import { BIAS_IMAGE_COLUMNS, type BiasPart } from '../bias/analysis-types.ts';
import type {
  BiasModelEvidence,
  BiasSummary,
  ColourEvidence,
  CompositionEvidence,
  FacesEvidence,
  ReferenceEvidence,
} from '../bias/evidence.ts';
import { INCEPTION_FEATURES } from '../bias/inception.ts';
import {
  type BiasResultCache,
  biasInputKey,
  type CachedBiasModel,
  decodeBiasResults,
  encodeBiasResults,
} from '../bias/result-cache.ts';
import type { ImageFeatureExtractor, ImageFeatureRecord } from '../images/features.ts';
import { type Matrix, matrix } from '../stats/linalg.ts';
import {
  type Analyzer,
  type AnalyzerOutput,
  emptyOutput,
  type ModelAnalysis,
  yieldToEventLoop,
} from './analyzer.ts';
import type { Cell, CsvRow } from './metrics-csv.ts';

type Colour = z.infer<typeof ColourEvidence>;
type Faces = z.infer<typeof FacesEvidence>;
type Composition = z.infer<typeof CompositionEvidence>;
type NotMeasured = { status: 'not-measured' | 'insufficient'; reason: string };

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

/** Columns compared between flagged and unflagged models (one value per model). */
export const SIGNIFICANCE_METRICS = [
  'hue_js',
  'sat_mean_diff',
  'val_mean_diff',
  'face_detect_rate',
  'face_aspect_dev_pct',
  'shot_closeup',
  'shot_half',
  'shot_full',
  'shot_none',
  'fid_clip',
  'kid_clip_mean',
  'cmmd',
] as const;

export interface BiasAnalyzerDeps {
  colour?: BiasPart<Colour>;
  faces?: BiasPart<Faces>;
  composition?: BiasPart<Composition>;
  /** Bootstrap resamples of the distance intervals (default {@link DISTANCE_RESAMPLES}). */
  distanceResamples?: number;
  /**
   * Inception-v3 pool3 features (`createInceptionExtractor`, when the user supplies an Inception ONNX):
   * FID and KID on them too, next to the CLIP-embedding distances.
   */
  inception?: ImageFeatureExtractor<number[]>;
  /**
   * Per-model results of earlier audits, by a hash of every input they depend on: a warm audit with
   * the same images, features, reference and seed reads them back instead of recomputing (identical
   * numbers); any input change misses. The significance summary is rebuilt each run (it also depends
   * on the other analyses' verdicts, and costs little).
   */
  cache?: BiasResultCache;
}

const notMeasured = (reason: string): NotMeasured => ({ status: 'not-measured', reason });

function emptyMetrics(): Record<string, Cell> {
  return Object.fromEntries(BIAS_COLUMNS.map((c) => [c, null]));
}

/** The L2-normalised CLIP embedding of an ok record, when the image pass computed one. */
function clipOf(record: ImageFeatureRecord): number[] | undefined {
  return vectorOf(record, 'clip');
}

/** A numeric feature vector of one image (`clip` embedding, `inception` pool3), or undefined. */
function vectorOf(record: ImageFeatureRecord, feature: string): number[] | undefined {
  if (record.status !== 'ok') return undefined;
  const v = record.features[feature];
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x))
    ? (v as number[])
    : undefined;
}

function embeddings(records: readonly ImageFeatureRecord[], dim: number, feature = 'clip'): Matrix {
  const rows = records
    .map((r) => vectorOf(r, feature))
    .filter((v): v is number[] => v !== undefined && v.length === dim);
  const data = new Float64Array(rows.length * dim);
  rows.forEach((r, i) => {
    data.set(r, i * dim);
  });
  return matrix(rows.length, dim, data);
}

function metricsOf(e: {
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

const fmt = (v: Cell): string => (typeof v === 'number' ? v.toPrecision(3) : '');

/**
 * Bias metrics of every audited model against a reference (the other audited models by default,
 * leave-one-out; or the run's `--reference DIR` / `--reference-model` images): colour, faces,
 * composition and CLIP-embedding distances (FID, KID, CMMD), each with its N and reference, plus a
 * set-level flagged-vs-unflagged significance table. Informational: it never flags a model. Without
 * the image pass (or without images) every model is "not measured" with the reason.
 */
export function createBiasAnalyzer(deps: BiasAnalyzerDeps = {}): Analyzer {
  const parts = [deps.colour, deps.faces, deps.composition].filter((p) => p !== undefined);
  const extractors = new Map<string, ImageFeatureExtractor>();
  for (const p of parts) for (const x of p.extractors) extractors.set(x.name, x);
  if (deps.inception) extractors.set(deps.inception.name, deps.inception);
  return {
    name: 'bias',
    columns: BIAS_COLUMNS,
    imageExtractors: [...extractors.values()],
    async analyze(records, _hooks, options, context) {
      const out: AnalyzerOutput = emptyOutput();
      const flaggedBy = [...(context?.previous.keys() ?? [])].filter((name) => name !== 'bias');
      const pass = context?.images;
      const reference = options.reference;
      const unmeasuredAll = (why: string, refEvidence: ReferenceEvidence): void => {
        for (const r of records) {
          const evidence: BiasModelEvidence = {
            reference: refEvidence,
            nImages: 0,
            colour: notMeasured(why),
            faces: notMeasured(why),
            composition: notMeasured(why),
            distance: notMeasured(why),
          };
          out.perModel.set(r.id, {
            flagged: null,
            unmeasured: why,
            informational: true,
            findings: [],
            metrics: emptyMetrics(),
            evidence,
          });
        }
        const summary: BiasSummary = {
          reference: refEvidence,
          flaggedBy,
          alpha: SIGNIFICANCE_ALPHA,
          significance: [],
          sentence: `Bias metrics not measured: ${why}.`,
        };
        out.summary = summary;
        out.notes.push(`Bias metrics not measured: ${why}.`);
      };
      if (!pass) {
        unmeasuredAll('image pass unavailable', nameReference(reference, 0).evidence);
        return out;
      }
      // Each audited model's decoded images, in audit order.
      const byModel = new Map<number, ImageFeatureRecord[]>(records.map((r) => [r.id, []]));
      for (const rec of pass.images.values()) {
        if (rec.status !== 'ok' || rec.ref.modelId === null) continue;
        byModel.get(rec.ref.modelId)?.push(rec);
      }
      // The pass fills its map as downloads finish: sort, so the same images give the same numbers.
      const byKey = (a: ImageFeatureRecord, b: ImageFeatureRecord): number =>
        a.ref.key < b.ref.key ? -1 : a.ref.key > b.ref.key ? 1 : 0;
      for (const list of byModel.values()) list.sort(byKey);
      // Images that failed after the pass's retries: said per model, never silently fewer.
      const failedByModel = new Map<number, Map<string, number>>();
      for (const rec of pass.images.values()) {
        if (rec.status !== 'skipped' || rec.ref.modelId === null) continue;
        const reasons = failedByModel.get(rec.ref.modelId) ?? new Map<string, number>();
        reasons.set(rec.reason, (reasons.get(rec.reason) ?? 0) + 1);
        failedByModel.set(rec.ref.modelId, reasons);
      }
      const fixedRef =
        reference.kind === 'population'
          ? undefined
          : [...pass.reference.values()].filter((r) => r.status === 'ok').sort(byKey);
      const allImages = [...byModel.values()].flat();
      if (fixedRef !== undefined && fixedRef.length === 0) {
        unmeasuredAll(
          `reference ${nameReference(reference, 0).column} has no decodable images`,
          nameReference(reference, 0).evidence,
        );
        return out;
      }
      const computeModels = async (): Promise<CachedBiasModel[]> => {
        // CLIP-embedding distances for all models at once (one audit-wide Gram matrix).
        const dim = allImages.map(clipOf).find((v) => v !== undefined)?.length ?? 0;
        let distances: DistanceResult[];
        if (dim === 0) {
          distances = records.map(() => notMeasured('no CLIP image embeddings (CLIP model files missing?)'));
        } else {
          const groups = records.map((r) => embeddings(byModel.get(r.id) ?? [], dim));
          distances = groupDistances(groups, fixedRef ? embeddings(fixedRef, dim) : 'population', {
            seed: options.seed,
            resamples: resamples,
          });
        }
        // Inception-v3 distances when the user supplied the model (FID / KID as the literature reports them).
        let inceptionDistances: DistanceResult[] | undefined;
        if (deps.inception) {
          const name = deps.inception.name;
          const idim = allImages.map((r) => vectorOf(r, name)).find((v) => v !== undefined)?.length ?? 0;
          inceptionDistances =
            idim === 0
              ? records.map(() => notMeasured('no Inception features (the model failed on every image)'))
              : groupDistances(
                  records.map((r) => embeddings(byModel.get(r.id) ?? [], idim, name)),
                  fixedRef ? embeddings(fixedRef, idim, name) : 'population',
                  {
                    seed: options.seed,
                    resamples: resamples,
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
            part
              ? part.compare(own, refImages, { seed: options.seed })
              : notMeasured(`${what} analysis unavailable`);
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
            colour: compare(deps.colour, 'colour'),
            faces: compare(deps.faces, 'face'),
            composition: compare(deps.composition, 'composition'),
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
          await yieldToEventLoop();
        }
        return models;
      };
      const summaryRef = nameReference(reference, fixedRef ? fixedRef.length : allImages.length);
      const resamples = deps.distanceResamples ?? DISTANCE_RESAMPLES;
      const modelIds = records.map((r) => r.id);
      const cacheKey = deps.cache
        ? biasInputKey({
            modelIds,
            reference,
            seed: options.seed,
            distanceResamples: resamples,
            extractors: Object.fromEntries([...extractors.values()].map((x) => [x.name, x.version])),
            parts: [
              ...(deps.colour ? ['colour'] : []),
              ...(deps.faces ? ['faces'] : []),
              ...(deps.composition ? ['composition'] : []),
              ...(deps.inception ? ['inception'] : []),
            ],
            images: pass.images.values(),
            referenceImages: pass.reference.values(),
            normalise: (feature, value) => {
              const parsed = extractors.get(feature)?.schema.safeParse(value);
              return parsed?.success ? parsed.data : value;
            },
          })
        : undefined;
      const stored = cacheKey ? await deps.cache?.get(cacheKey) : undefined;
      let models = stored === undefined ? undefined : decodeBiasResults(stored, modelIds);
      if (!models) {
        models = await computeModels();
        if (cacheKey) await deps.cache?.set(cacheKey, encodeBiasResults(models));
      }
      const metricRows = new Map<number, Record<string, Cell>>();
      for (const { id, analysis } of models) {
        metricRows.set(id, analysis.metrics);
        // Decoded JSON holds no undefined values: the optional `unmeasured` is present or absent.
        out.perModel.set(id, analysis as ModelAnalysis);
      }
      // Flagged vs unflagged models (by the earlier, tag-error analyses).
      const flagged: Record<string, Cell>[] = [];
      const unflagged: Record<string, Cell>[] = [];
      for (const record of records) {
        const verdicts = [...(context?.previous.values() ?? [])]
          .map((o) => o.perModel.get(record.id))
          .filter((a) => a !== undefined && !a.informational);
        const row = metricRows.get(record.id) ?? {};
        if (verdicts.some((a) => a?.flagged === true)) flagged.push(row);
        else if (verdicts.some((a) => a?.flagged === false)) unflagged.push(row);
      }
      const significance = significanceTable(SIGNIFICANCE_METRICS, flagged, unflagged);
      const summary: BiasSummary = {
        reference: summaryRef.evidence,
        flaggedBy,
        alpha: SIGNIFICANCE_ALPHA,
        significance,
        sentence: significanceSentence(significance, flagged.length, unflagged.length),
      };
      out.summary = summary;
      out.notes.push(`Bias: ${summary.sentence}`);
      const clause = significanceClause(significance);
      for (const record of records) {
        const a = out.perModel.get(record.id);
        if (!a || a.flagged === null) continue;
        const m = a.metrics;
        const numbers = [
          m.hue_js === null ? '' : `hue JS ${fmt(m.hue_js ?? null)}`,
          m.cmmd === null ? '' : `CMMD ${fmt(m.cmmd ?? null)}`,
        ].filter(Boolean);
        a.note = `informational, vs ${m.bias_reference}${numbers.length ? `: ${numbers.join(', ')}` : ''}; ${clause}`;
      }
      // Per-image colour / face / shot values for the image rows (merged with CLIP's rows by image).
      for (const rec of allImages) {
        const row: CsvRow = {
          row_type: 'image',
          model_id: rec.ref.modelId,
          version_id: rec.ref.versionId,
          image_id: rec.ref.imageId,
          image_url: rec.ref.url,
        };
        for (const c of BIAS_IMAGE_COLUMNS) row[c] = null;
        for (const p of parts) Object.assign(row, p.imageCells(rec));
        out.rows.push(row);
      }
      return out;
    },
    async close() {
      for (const x of extractors.values()) await x.close?.();
    },
  };
}
