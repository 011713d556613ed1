import { z } from 'zod';
import type { ProgressListener } from '../ports.ts';

/** Model types loralens audits (Civitai's `ModelType` values; LyCORIS is `LoCon`). */
export const AuditModelType = z.enum(['LORA', 'LoCon', 'DoRA']);
export type AuditModelType = z.infer<typeof AuditModelType>;
export const DEFAULT_MODEL_TYPES: readonly AuditModelType[] = ['LORA', 'LoCon', 'DoRA'];

export const ModelSort = z.enum(['Most Downloaded', 'Highest Rated', 'Newest']);
export type ModelSort = z.infer<typeof ModelSort>;
export const MetricPeriod = z.enum(['AllTime', 'Year', 'Month', 'Week', 'Day']);
export type MetricPeriod = z.infer<typeof MetricPeriod>;

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD');

/** Options of a top-N crawl. */
export const TopSelection = z.object({
  kind: z.literal('top'),
  n: z.number().int().positive(),
  types: z
    .array(AuditModelType)
    .nonempty()
    .default([...DEFAULT_MODEL_TYPES]),
  sort: ModelSort.default('Most Downloaded'),
  period: MetricPeriod.default('AllTime'),
  /** Published-date window, inclusive, UTC. */
  from: isoDate.default('2023-01-01'),
  to: isoDate.default('2025-12-31'),
  nsfw: z.boolean().default(false),
  baseModels: z.array(z.string().min(1)).default([]),
});
export type TopSelection = z.infer<typeof TopSelection>;

/** What to audit: one model (id or civitai.com URL), a file hash, a local file, or the top N. */
export const AuditSelection = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('model'), ref: z.string().min(1) }),
  z.object({ kind: z.literal('hash'), hash: z.string().min(1) }),
  z.object({ kind: z.literal('file'), path: z.string().min(1) }),
  TopSelection,
]);
export type AuditSelection = z.infer<typeof AuditSelection>;
export type AuditSelectionInput = z.input<typeof AuditSelection>;

/** Which analysis produced a finding. */
export const Detector = z.enum(['text', 'training', 'clip']);
export type Detector = z.infer<typeof Detector>;

export const Severity = z.enum(['info', 'warning', 'error']);
export type Severity = z.infer<typeof Severity>;

/** One flagged item: a piece of evidence a user can dispute (reaction feedback keys on `itemKey`). */
export const Finding = z.object({
  /** Stable across re-audits of the same model: `${modelId}:${detector}:${rule}:${hash}`. */
  itemKey: z.string(),
  detector: Detector,
  rule: z.string(),
  severity: Severity,
  title: z.string(),
  evidence: z.string(),
  source: z.string().optional(),
  versionId: z.number().int().optional(),
});
export type Finding = z.infer<typeof Finding>;

/**
 * What the bias metrics compare each model against: every other audited model's images (leave-one-out,
 * the default), a local folder of images, or another Civitai model's sample images.
 */
export const BiasReference = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('population') }),
  z.object({ kind: z.literal('dir'), path: z.string().min(1) }),
  z.object({ kind: z.literal('model'), ref: z.string().min(1) }),
]);
export type BiasReference = z.infer<typeof BiasReference>;

export const AuditRunOptions = z.object({
  /** Include comments and reviews (needs CIVITAI_API_KEY for Civitai's tRPC endpoints). */
  comments: z.boolean().default(true),
  /**
   * Highest Civitai image level to fetch: 1=PG, 2=PG-13, 4=R, 8=X, 16=XXX. A browsing-level mask is
   * accepted too (3 = PG|PG-13, 31 = all): every level up to its highest set bit is fetched.
   */
  maxBrowsingLevel: z.number().int().min(1).max(31).default(2),
  /** Sample images to consider per version. */
  imagesPerVersion: z.number().int().min(0).max(200).default(20),
  /** Uncalibrated CLIP mode: flag images whose raw cosine is below this (for comparison only). */
  clipThreshold: z.number().min(-1).max(1).optional(),
  /** Calibrated CLIP mode: flag an image whose own-prompt score is not above the null's (1 − α) quantile. */
  clipAlpha: z.number().gt(0).lt(1).optional(),
  /** Calibrated CLIP mode: shuffled prompts per image in the null distribution. */
  clipNullK: z.number().int().min(1).max(10_000).optional(),
  /** Reference set of the bias metrics (colour, faces, composition, distances). */
  reference: BiasReference.default({ kind: 'population' }),
  /** Seed of every bootstrap / subset draw (bias CIs, KID subsets): same seed, same numbers. */
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(20_240_601),
});
export type AuditRunOptions = z.infer<typeof AuditRunOptions>;
export type AuditRunOptionsInput = z.input<typeof AuditRunOptions>;

export interface AuditHooks {
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}
