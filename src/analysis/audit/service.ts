import type { AuditDocument } from './document.ts';
import type {
  AuditHooks,
  AuditRunOptionsInput,
  AuditSelection,
  AuditSelectionInput,
  Finding,
} from './types.ts';

/** One model's audit, as the front doors render it. */
export interface ModelAuditSummary {
  modelId: number;
  name: string;
  url: string;
  creator: string | null;
  type: string;
  versionCount: number;
  publishedAt: string | null;
  updatedAt: string | null;
  downloadCount: number;
  imageCount: number;
  /** Civitai's own comment count. */
  commentCount: number;
  /** Comments, reviews and replies read; null when they were not read. */
  commentsRead: number | null;
  hasTrainingTags: boolean;
  /** 'ok' when comments/reviews were read, 'unavailable' when Civitai refused, 'skipped' when not asked. */
  commentsStatus: 'ok' | 'unavailable' | 'skipped';
  /** Why comments were not (fully) read, e.g. no API key; null when they were. */
  commentsReason?: string | null;
  verdict: 'flagged' | 'clean' | 'unknown';
  /** One line saying why the verdict is what it is. */
  verdictLine: string;
  findings: Finding[];
  /** The model's metrics.csv row (row_type=model), column → value. */
  metrics: Record<string, string | number | boolean | null>;
}

/** A sample image the audit flagged; front doors decide whether they may show it (NSFW rules). */
export interface FlaggedImage {
  modelId: number;
  versionId: number;
  imageId: number;
  url: string;
  /** Civitai numeric nsfwLevel: 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX. */
  nsfwLevel: number;
  reason: string;
}

export interface AuditFile {
  name: string;
  contentType: string;
  data: Buffer;
}

export interface AuditResult {
  generatedAt: string;
  selection: AuditSelection;
  models: ModelAuditSummary[];
  /** The analyses that ran, in order (`text`, `training`, `clip`). */
  analyses?: string[];
  /** Sentences about what the audit could not do (no API key → no comments, missing CLIP model, …). */
  notes: string[];
  flaggedImages: FlaggedImage[];
  /** audit.json as a typed value: what the report builder (src/report) draws from. */
  document: AuditDocument;
  /** metrics.csv, audit.json and, as later analyses land, charts and error_samples.zip. */
  files: AuditFile[];
}

export interface ModelSearchHit {
  id: number;
  name: string;
  type: string;
  creator: string | null;
}

/** The one entry point both front doors (CLI and bot) call. */
export interface AuditService {
  audit(
    selection: AuditSelectionInput,
    options?: AuditRunOptionsInput,
    hooks?: AuditHooks,
  ): Promise<AuditResult>;
  /** Model-name search for autocomplete; answers from cache when it can. */
  searchModels(query: string, limit?: number, signal?: AbortSignal): Promise<ModelSearchHit[]>;
  /** Image bytes from an allowed Civitai image host (for error_samples.zip). */
  fetchImage(url: string, signal?: AbortSignal): Promise<Buffer>;
}
