import { DISTANCE_RESAMPLES } from '../bias/analysis-distance.ts';
import { nameReference } from '../bias/analysis-reference.ts';
import {
  SIGNIFICANCE_ALPHA,
  significanceClause,
  significanceSentence,
  significanceTable,
} from '../bias/analysis-significance.ts';
import { BIAS_IMAGE_COLUMNS, type BiasPart, type StandardBiasPart } from '../bias/analysis-types.ts';
import {
  BIAS_COLUMNS,
  type BiasComputeInput,
  type Colour,
  type Composition,
  computeBiasModels,
  emptyMetrics,
  type Faces,
  notMeasured,
} from '../bias/compute.ts';
import { computeBiasModelsInWorker } from '../bias/compute-host.ts';
import type { BiasModelEvidence, BiasSummary, ReferenceEvidence } from '../bias/evidence.ts';
import {
  type BiasResultCache,
  biasInputKey,
  decodeBiasResults,
  encodeBiasResults,
} from '../bias/result-cache.ts';
import type { ImageFeatureExtractor, ImageFeatureRecord } from '../images/features.ts';
import {
  type Analyzer,
  type AnalyzerOutput,
  emptyOutput,
  type ModelAnalysis,
  yieldToEventLoop,
} from './analyzer.ts';

export { BIAS_COLUMNS } from '../bias/compute.ts';

import type { Cell, CsvRow } from './metrics-csv.ts';

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
  /**
   * Where the per-model computation runs: `auto` (default) in a worker thread when the audit is large
   * enough to block the event loop (models × images ≥ {@link BIAS_WORKER_MIN_WORK}), else on the
   * calling thread (yielding between models); `worker` or `main` force it. A worker needs every part
   * to be a standard one (analysis-parts.ts); otherwise it is the calling thread. Same numbers either way.
   */
  computeIn?: 'auto' | 'worker' | 'main';
  /** Called when the per-model computation starts, with where it runs (telemetry and tests). */
  onCompute?: (where: 'worker' | 'main') => void;
}

/**
 * Models × images from which `auto` computes in a worker thread. Measured on 2 cores: at top-200
 * (200 × 3 591) the computation takes ≈ 2 min with a 16 s distance step and ≈ 0.5 s per model; at
 * 10 × 500 each model's comparisons take ≈ 50–70 ms, about the event-loop budget; below that a
 * worker's start-up (≈ 0.3 s, more from the TypeScript sources) costs more than it saves.
 */
export const BIAS_WORKER_MIN_WORK = 5_000;

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
        const input: BiasComputeInput = {
          modelIds,
          byModel,
          failedByModel,
          fixedRef,
          reference,
          seed: options.seed,
          resamples,
          inceptionName: deps.inception?.name,
        };
        const standard = parts.map((p) => p.standard).filter((x): x is StandardBiasPart => x !== undefined);
        const inWorker =
          standard.length === parts.length &&
          (deps.computeIn === 'worker' ||
            ((deps.computeIn ?? 'auto') === 'auto' &&
              records.length * allImages.length >= BIAS_WORKER_MIN_WORK));
        deps.onCompute?.(inWorker ? 'worker' : 'main');
        models = inWorker
          ? await computeBiasModelsInWorker(input, standard)
          : await computeBiasModels(
              input,
              { colour: deps.colour, faces: deps.faces, composition: deps.composition },
              yieldToEventLoop,
            );
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
