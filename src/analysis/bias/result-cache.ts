import { createHash } from 'node:crypto';
import { z } from 'zod';
import { Cell } from '../audit/metrics-csv.ts';
import { Feeder, feedCanonical, parseExact, stringifyExact } from '../canonical.ts';
import type { ImageFeatureRecord } from '../images/features.ts';
import { BiasModelEvidence } from './evidence.ts';

/**
 * Bump whenever the bias analysis can give other per-model numbers for the same inputs (a formula,
 * a default, a part's comparison): it is part of every cache key, so old entries stop matching.
 */
export const BIAS_ANALYZER_VERSION = 'bias-analysis-1';

/**
 * Per-model bias results stored between audits, by a sha256 over everything they depend on
 * ({@link biasInputKey}); a Keyv adapter lives in src/storage/bias-result-cache.ts. The value is
 * opaque text ({@link encodeBiasResults}); a value that does not decode reads as a miss.
 */
export interface BiasResultCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

/** What the per-model bias results are computed from (the significance summary is not cached). */
export interface BiasInputs {
  /** Audited model ids, in audit order (population references and the output follow it). */
  modelIds: readonly number[];
  reference: unknown;
  seed: number;
  distanceResamples: number;
  /** Name → version of every extractor whose values the analysis reads, and which parts ran. */
  extractors: Readonly<Record<string, string>>;
  parts: readonly string[];
  /** The image pass: audited models' images and the user reference's images. */
  images: Iterable<ImageFeatureRecord>;
  referenceImages: Iterable<ImageFeatureRecord>;
  /**
   * A feature value as a warm run reads it back from the feature cache (its extractor's schema
   * output), so a fresh extraction with fields the schema drops hashes like its cached copy.
   */
  normalise?: (feature: string, value: unknown) => unknown;
}

/** An image record as the bias analysis reads it (whether it came from the cache does not matter). */
function imageInput(rec: ImageFeatureRecord, normalise: BiasInputs['normalise']): unknown {
  if (rec.status !== 'ok') return { ref: rec.ref, status: rec.status, reason: rec.reason };
  // Every value of a cached record already is its schema's output (the pass validated it when read).
  const features =
    normalise && !rec.cached
      ? Object.fromEntries(Object.entries(rec.features).map(([k, v]) => [k, normalise(k, v)]))
      : rec.features;
  return {
    ref: rec.ref,
    status: rec.status,
    width: rec.width,
    height: rec.height,
    features,
    failed: rec.failed,
  };
}

const byKey = (a: ImageFeatureRecord, b: ImageFeatureRecord): number =>
  a.ref.key < b.ref.key ? -1 : a.ref.key > b.ref.key ? 1 : 0;

/**
 * sha256 (hex) over everything the per-model bias results depend on: the analyzer version, the
 * audited ids, the reference option, the seed, the resample count, the extractor versions and each
 * image record's ref, status and feature values (sorted by image key; the `cached` flag is left out,
 * so a warm run hashes like the cold one).
 */
export function biasInputKey(inputs: BiasInputs): string {
  const hash = createHash('sha256');
  const out = new Feeder(hash);
  feedCanonical(out, {
    version: BIAS_ANALYZER_VERSION,
    modelIds: inputs.modelIds,
    reference: inputs.reference,
    seed: inputs.seed,
    distanceResamples: inputs.distanceResamples,
    extractors: inputs.extractors,
    parts: inputs.parts,
  });
  for (const [label, set] of [
    ['images', inputs.images],
    ['reference', inputs.referenceImages],
  ] as const) {
    const sorted = [...set].sort(byKey);
    out.add(`${label}:${sorted.length}:`);
    for (const rec of sorted) feedCanonical(out, imageInput(rec, inputs.normalise));
  }
  out.flush();
  return hash.digest('hex');
}

/** One model's cached bias analysis (its verdict-line note is rebuilt from the summary each run). */
export const CachedBiasModel = z.object({
  id: z.number().int(),
  analysis: z.object({
    flagged: z.boolean().nullable(),
    unmeasured: z.string().optional(),
    informational: z.literal(true),
    findings: z.array(z.never()),
    metrics: z.record(z.string(), Cell),
    evidence: BiasModelEvidence,
  }),
});
export type CachedBiasModel = z.infer<typeof CachedBiasModel>;

/** Text of the per-model results ({@link stringifyExact}: NaN, ±Infinity and −0 come back as themselves). */
export function encodeBiasResults(models: readonly CachedBiasModel[]): string {
  return stringifyExact(models);
}

/**
 * The per-model results of {@link encodeBiasResults}, checked against the schema (undefined when the
 * text does not decode or validate, or holds other models than `modelIds`). The values returned are
 * the decoded ones, not the schema's output, so key order and every field are exactly as stored.
 */
export function decodeBiasResults(text: string, modelIds: readonly number[]): CachedBiasModel[] | undefined {
  const raw = parseExact(text);
  if (raw === undefined) return undefined;
  const parsed = z.array(CachedBiasModel).safeParse(raw);
  if (!parsed.success) return undefined;
  const models = raw as CachedBiasModel[];
  if (models.length !== modelIds.length || models.some((m, i) => m.id !== modelIds[i])) return undefined;
  return models;
}
