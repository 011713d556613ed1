import { z } from 'zod';

/**
 * The crawl record: everything the analyses need about one model, in a stable shape.
 * It is what `crawl.json` holds (one record per model) and what the cache stores per model.
 */
export const SampleImage = z.object({
  id: z.number().int(),
  url: z.string(),
  width: z.number().nullable(),
  height: z.number().nullable(),
  /** Civitai numeric level: 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX. */
  nsfwLevel: z.number().int(),
  kind: z.enum(['image', 'video', 'other']),
  prompt: z.string().nullable(),
  negativePrompt: z.string().nullable(),
  sampler: z.string().nullable(),
  baseModel: z.string().nullable(),
  resources: z.array(
    z.object({ name: z.string().nullable(), type: z.string().nullable(), weight: z.number().nullable() }),
  ),
  /** Why this image is not analysed (video, no prompt, …); null when it is usable. */
  skipped: z.string().nullable(),
});
export type SampleImage = z.infer<typeof SampleImage>;

export const VersionFile = z.object({
  id: z.number().int(),
  name: z.string(),
  sizeKB: z.number().nullable(),
  type: z.string().nullable(),
  format: z.string().nullable(),
  primary: z.boolean(),
  sha256: z.string().nullable(),
  autoV2: z.string().nullable(),
  downloadUrl: z.string().nullable(),
});
export type VersionFile = z.infer<typeof VersionFile>;

export const TrainingHeader = z.object({
  status: z.enum(['ok', 'none', 'error']),
  /** Why there is no metadata ("no __metadata__", "file is not safetensors", the error sentence). */
  reason: z.string().nullable(),
  fileId: z.number().int().nullable(),
  metadata: z.record(z.string(), z.string()).nullable(),
  tagFrequency: z.record(z.string(), z.record(z.string(), z.number())).nullable(),
  datasetDirs: z
    .record(z.string(), z.object({ n_repeats: z.number().nullable(), img_count: z.number().nullable() }))
    .nullable(),
  outputName: z.string().nullable(),
  networkModule: z.string().nullable(),
  baseModelVersion: z.string().nullable(),
  numTrainImages: z.number().nullable(),
});
export type TrainingHeader = z.infer<typeof TrainingHeader>;

export const VersionRecord = z.object({
  id: z.number().int(),
  name: z.string(),
  baseModel: z.string().nullable(),
  createdAt: z.string().nullable(),
  publishedAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
  trainedWords: z.array(z.string()),
  /** trainedWords split on commas, trimmed, unescaped, de-duplicated. */
  triggerWords: z.array(z.string()),
  changelogText: z.string(),
  changelogMarkdown: z.string(),
  downloadUrl: z.string().nullable(),
  files: z.array(VersionFile),
  images: z.array(SampleImage),
  /** Where the images came from and whether the listing was complete. */
  imagesSource: z.enum(['images-api', 'version-api', 'none']),
  training: TrainingHeader.nullable(),
});
export type VersionRecord = z.infer<typeof VersionRecord>;

export const TextItem = z.object({
  kind: z.enum(['comment', 'review', 'review-comment']),
  id: z.number().int(),
  parentId: z.number().int().nullable(),
  versionId: z.number().int().nullable(),
  createdAt: z.string().nullable(),
  user: z.string().nullable(),
  rating: z.number().nullable(),
  recommended: z.boolean().nullable(),
  text: z.string(),
});
export type TextItem = z.infer<typeof TextItem>;

export const ModelRecord = z.object({
  id: z.number().int(),
  name: z.string(),
  type: z.string(),
  url: z.string(),
  creator: z.string().nullable(),
  nsfw: z.boolean(),
  nsfwLevel: z.number().nullable(),
  tags: z.array(z.string()),
  stats: z.object({
    downloadCount: z.number(),
    favoriteCount: z.number(),
    thumbsUpCount: z.number(),
    thumbsDownCount: z.number(),
    commentCount: z.number(),
    ratingCount: z.number(),
    rating: z.number(),
  }),
  publishedAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
  descriptionText: z.string(),
  descriptionMarkdown: z.string(),
  versions: z.array(VersionRecord),
  /** The version the user pointed at (URL, hash or local file), or null for "the model". */
  targetVersionId: z.number().int().nullable(),
  comments: z.object({
    status: z.enum(['ok', 'unavailable', 'skipped']),
    reason: z.string().nullable(),
    items: z.array(TextItem),
  }),
  /** Changes when the model or any version changes; cached audits key on it. */
  fingerprint: z.string(),
  fetchedAt: z.string(),
  /**
   * What the crawl had to do to this model's texts, one sentence per item: cut at the size limit,
   * nesting flattened below the depth limit (see HTML_LIMITS in html.ts).
   */
  notes: z.array(z.string()).default([]),
});
export type ModelRecord = z.infer<typeof ModelRecord>;

/**
 * Cache port for assembled records. An entry counts only while the model's fingerprint is unchanged
 * and it was crawled the same way (`variant`: a digest of the crawl options and whether a key was set).
 */
export interface RecordCache {
  get(modelId: number, fingerprint: string, variant: string): Promise<ModelRecord | undefined>;
  set(record: ModelRecord, variant: string): Promise<void>;
}
