import { z } from 'zod';

/**
 * zod schemas for the Civitai responses loralens reads (../shared/docs/civitai-api.md).
 * Unknown extra fields are tolerated (stripped); missing required ones are reported as
 * CIVITAI_SCHEMA errors naming the field and URL.
 */

const nullableString = z.string().nullish();
const count = z.number().nullish();

export const Hashes = z.record(z.string(), z.string()).catch({});

export const ModelFile = z.object({
  id: z.number().int(),
  name: z.string(),
  sizeKB: z.number().nullish(),
  type: nullableString,
  primary: z.boolean().nullish(),
  metadata: z
    .object({ format: nullableString, size: nullableString, fp: nullableString })
    .partial()
    .nullish(),
  hashes: Hashes.nullish(),
  downloadUrl: nullableString,
});
export type ModelFile = z.infer<typeof ModelFile>;

/** Generation metadata of a sample image: free-form, A1111 and ComfyUI add their own keys. */
export const ImageMeta = z
  .object({
    prompt: z.unknown().optional(),
    negativePrompt: z.unknown().optional(),
    sampler: z.unknown().optional(),
    seed: z.unknown().optional(),
    steps: z.unknown().optional(),
    cfgScale: z.unknown().optional(),
    Model: z.unknown().optional(),
    resources: z.unknown().optional(),
    civitaiResources: z.unknown().optional(),
    meta: z.unknown().optional(),
  })
  .passthrough();

export const VersionImage = z.object({
  id: z.number().int().nullish(),
  url: z.string(),
  nsfwLevel: z.union([z.number(), z.string()]).nullish(),
  width: z.number().nullish(),
  height: z.number().nullish(),
  type: nullableString,
  meta: ImageMeta.nullish(),
  hasMeta: z.boolean().nullish(),
  hasPositivePrompt: z.boolean().nullish(),
});
export type VersionImage = z.infer<typeof VersionImage>;

export const ModelVersion = z.object({
  id: z.number().int(),
  modelId: z.number().int().nullish(),
  name: z.string(),
  baseModel: nullableString,
  baseModelType: nullableString,
  createdAt: nullableString,
  updatedAt: nullableString,
  publishedAt: nullableString,
  status: nullableString,
  description: nullableString,
  trainedWords: z.array(z.string()).nullish(),
  files: z.array(ModelFile).nullish(),
  images: z.array(VersionImage).nullish(),
  downloadUrl: nullableString,
  stats: z
    .object({ downloadCount: count, ratingCount: count, rating: count, thumbsUpCount: count })
    .partial()
    .nullish(),
});
export type ModelVersion = z.infer<typeof ModelVersion>;

export const ModelStats = z
  .object({
    downloadCount: count,
    favoriteCount: count,
    thumbsUpCount: count,
    thumbsDownCount: count,
    commentCount: count,
    ratingCount: count,
    rating: count,
  })
  .partial();

export const Model = z.object({
  id: z.number().int(),
  name: z.string(),
  description: nullableString,
  type: z.string(),
  nsfw: z.boolean().nullish(),
  nsfwLevel: z.number().nullish(),
  poi: z.boolean().nullish(),
  mode: nullableString,
  tags: z.array(z.string()).nullish(),
  creator: z.object({ username: nullableString }).nullish(),
  stats: ModelStats.nullish(),
  updatedAt: nullableString,
  lastVersionAt: nullableString,
  publishedAt: nullableString,
  modelVersions: z.array(ModelVersion),
});
export type Model = z.infer<typeof Model>;

export const PageMetadata = z
  .object({
    nextCursor: z.union([z.string(), z.number()]).nullish(),
    nextPage: nullableString,
    currentPage: z.number().nullish(),
    pageSize: z.number().nullish(),
    totalItems: z.number().nullish(),
  })
  .partial();

export const ModelsPage = z.object({ items: z.array(Model), metadata: PageMetadata.nullish() });
export type ModelsPage = z.infer<typeof ModelsPage>;

/** `/api/v1/model-versions/:id` and `/by-hash/:hash`. */
export const ModelVersionDetail = ModelVersion.extend({
  modelId: z.number().int(),
  model: z.object({
    name: z.string(),
    type: z.string(),
    nsfw: z.boolean().nullish(),
    poi: z.boolean().nullish(),
  }),
});
export type ModelVersionDetail = z.infer<typeof ModelVersionDetail>;

/** `/api/v1/images` item: the version-image fields plus gallery fields. */
export const ImageItem = VersionImage.omit({ hasMeta: true, hasPositivePrompt: true }).extend({
  id: z.number().int(),
  nsfw: z.boolean().nullish(),
  browsingLevel: z.number().nullish(),
  createdAt: nullableString,
  postId: z.number().nullish(),
  username: nullableString,
  baseModel: nullableString,
});
export type ImageItem = z.infer<typeof ImageItem>;

export const ImagesPage = z.object({ items: z.array(ImageItem), metadata: PageMetadata.nullish() });
export type ImagesPage = z.infer<typeof ImagesPage>;

const TrpcUser = z.object({ id: z.number().nullish(), username: nullableString }).nullish();

/** Fields every tRPC comment has (v1 model discussion and v2 threads); dates may arrive as Date. */
const TrpcComment = z.object({
  id: z.number().int(),
  createdAt: z.union([z.string(), z.date()]).nullish(),
  content: nullableString,
  hidden: z.boolean().nullish(),
  user: TrpcUser,
});

/** tRPC `comment.getAll` payload. */
export const CommentsPayload = z.object({
  nextCursor: z.number().nullish(),
  comments: z.array(
    TrpcComment.extend({
      modelId: z.number().nullish(),
      parentId: z.number().nullish(),
      tosViolation: z.boolean().nullish(),
      _count: z.object({ comments: z.number().nullish() }).partial().nullish(),
    }),
  ),
});
export type CommentsPayload = z.infer<typeof CommentsPayload>;

/** tRPC `resourceReview.getInfinite` payload. */
export const ReviewsPayload = z.object({
  nextCursor: z.number().nullish(),
  items: z.array(
    z.object({
      id: z.number().int(),
      modelId: z.number().nullish(),
      modelVersionId: z.number().nullish(),
      details: nullableString,
      createdAt: z.union([z.string(), z.date()]).nullish(),
      rating: z.number().nullish(),
      recommended: z.boolean().nullish(),
      thread: z.object({ commentCount: z.number().nullish() }).partial().nullish(),
      user: TrpcUser,
    }),
  ),
});
export type ReviewsPayload = z.infer<typeof ReviewsPayload>;

/** tRPC `commentv2.getInfinite` payload (`null` when the entity has no thread). */
export const ThreadPayload = z
  .object({
    nextCursor: z.number().nullish(),
    comments: z.array(TrpcComment),
  })
  .nullable();
export type ThreadPayload = z.infer<typeof ThreadPayload>;
