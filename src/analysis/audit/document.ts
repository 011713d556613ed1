import { z } from 'zod';
import { Cell } from './metrics-csv.ts';
import { AuditRunOptions, AuditSelection, Finding } from './types.ts';

/**
 * audit.json: the data behind every report file (metrics.csv, charts, Detailed_Report.md, the PDFs,
 * report.html, error_samples.zip). `schemaVersion` changes whenever a field changes meaning or goes
 * away; new optional fields do not change it.
 *
 * History: 1 = the unversioned file before reports; 2 = schemaVersion, per-model `outcomes`,
 * `versions` and `samples`, set-level `rows` (the row_type=image rows of metrics.csv), prompts on
 * `flaggedImages`.
 */
export const AUDIT_SCHEMA_VERSION = 2;

/** What one analysis concluded about one model (from the analyzer, unchanged). */
export const AnalysisOutcome = z.object({
  /** true = flagged, false = measured and clean, null = nothing could be measured. */
  flagged: z.boolean().nullable(),
  /** Why nothing was measured, when `flagged` is null. */
  unmeasured: z.string().nullable(),
});
export type AnalysisOutcome = z.infer<typeof AnalysisOutcome>;

/** A sample image kept as evidence (error_samples.zip); prompts are as Civitai served them. */
export const DocumentImage = z.object({
  modelId: z.number().int(),
  versionId: z.number().int(),
  imageId: z.number().int(),
  url: z.string(),
  /** Civitai numeric nsfwLevel: 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX (unknown counts as 16). */
  nsfwLevel: z.number().int(),
  reason: z.string(),
  prompt: z.string().nullable().default(null),
});
export type DocumentImage = z.infer<typeof DocumentImage>;

export const DocumentVersion = z.object({
  id: z.number().int(),
  name: z.string(),
  baseModel: z.string().nullable(),
  /** SHA256 of the primary file, as Civitai lists it (null when not listed). */
  sha256: z.string().nullable(),
});

export const DocumentModel = z.object({
  modelId: z.number().int(),
  name: z.string(),
  url: z.string(),
  creator: z.string().nullable(),
  type: z.string(),
  versionCount: z.number().int(),
  publishedAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
  downloadCount: z.number(),
  imageCount: z.number().int(),
  commentCount: z.number().int(),
  commentsRead: z.number().int().nullable(),
  hasTrainingTags: z.boolean(),
  commentsStatus: z.enum(['ok', 'unavailable', 'skipped']),
  commentsReason: z.string().nullable().optional(),
  verdict: z.enum(['flagged', 'clean', 'unknown']),
  verdictLine: z.string(),
  findings: z.array(Finding),
  metrics: z.record(z.string(), Cell),
  versions: z.array(DocumentVersion).default([]),
  /** Per analysis: flagged / clean / not measured and why. */
  outcomes: z.record(z.string(), AnalysisOutcome).default({}),
  /** Each analysis's evidence, by analysis name (bias: src/analysis/bias/evidence.ts). */
  analyses: z.record(z.string(), z.unknown()).default({}),
  /** Sample images of a flagged model (a few per model), for error_samples.zip. */
  samples: z.array(DocumentImage).default([]),
});
export type DocumentModel = z.infer<typeof DocumentModel>;

export const AuditDocument = z.object({
  schemaVersion: z.literal(AUDIT_SCHEMA_VERSION),
  tool: z.object({ name: z.string(), version: z.string() }),
  generatedAt: z.string(),
  selection: AuditSelection,
  options: AuditRunOptions,
  /** The analyses that ran, in order. */
  analyses: z.array(z.string()),
  notes: z.array(z.string()),
  /** Set-level results by analysis name (bias: BiasSummary). */
  summaries: z.record(z.string(), z.unknown()).default({}),
  models: z.array(DocumentModel),
  /** metrics.csv rows other than model rows (row_type=image: one per scored sample image). */
  rows: z.array(z.record(z.string(), Cell)).default([]),
  /** Images the analyses flagged (calibrated CLIP low matches). */
  flaggedImages: z.array(DocumentImage),
});
export type AuditDocument = z.infer<typeof AuditDocument>;
