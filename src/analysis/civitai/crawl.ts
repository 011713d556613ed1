import { createHash } from 'node:crypto';
import type { TopSelection } from '../audit/types.ts';
import { AppError, ErrorCode, isAppError, UserInputError } from '../errors.ts';
import type { Clock, Logger, ProgressListener } from '../ports.ts';
import { silentLogger, systemClock } from '../ports.ts';
import type { CivitaiClient } from './client.ts';
import { throwIfAborted } from './errors.ts';
import { type ConvertedText, convertHtmlAsync, convertToPlainText, HTML_LIMITS } from './html.ts';
import type {
  ModelRecord,
  SampleImage,
  TextItem,
  TrainingHeader,
  VersionFile,
  VersionRecord,
} from './record.ts';
import type { SafetensorsHeader } from './safetensors.ts';
import type { ImageItem, Model, ModelVersion, VersionImage } from './schemas.ts';

export interface CrawlOptions {
  comments: boolean;
  /** Browsing-level bitmask upper bound for sample images (1 PG, 2 PG-13, 4 R, 8 X, 16 XXX). */
  maxBrowsingLevel: number;
  imagesPerVersion: number;
  /** Newest versions whose images are fetched. */
  versionsWithImages: number;
  /** Newest versions whose file header is read. */
  headerVersions: number;
  maxTextItems: number;
  /** A version the user pointed at (URL `?modelVersionId=`, hash, local file): always gets images and a header. */
  targetVersionId?: number | undefined;
  /** False when the header comes from elsewhere (a local file): no Range reads at all. */
  remoteHeaders?: boolean;
}

export const DEFAULT_CRAWL_OPTIONS: CrawlOptions = {
  comments: true,
  maxBrowsingLevel: 2,
  imagesPerVersion: 20,
  versionsWithImages: 3,
  headerVersions: 1,
  maxTextItems: 300,
};

/**
 * Error codes that mean "Civitai (or its storage) could not give us this part": a crawl records
 * them in the record (images none, comments unavailable, training error) and goes on. Anything
 * else — STORAGE_IO, ABORTED, INTERNAL — is ours, not upstream's, and must propagate: a record
 * degraded by a closed cache or a shutdown would be cached and reused as if it were true.
 */
const UPSTREAM_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  ErrorCode.CIVITAI_HTTP,
  ErrorCode.CIVITAI_SCHEMA,
  ErrorCode.CIVITAI_NOT_FOUND,
  ErrorCode.CIVITAI_UNAUTHORIZED,
  ErrorCode.CIVITAI_TOO_LARGE,
  ErrorCode.RATE_LIMITED,
  ErrorCode.NETWORK,
  ErrorCode.TIMEOUT,
  ErrorCode.HOST_NOT_ALLOWED,
  ErrorCode.SAFETENSORS_INVALID,
  ErrorCode.SAFETENSORS_TOO_LARGE,
]);

/** True for a typed upstream failure a crawl may record and go past (see {@link UPSTREAM_CODES}). */
export function isUpstreamFailure(error: unknown): error is AppError {
  return isAppError(error) && UPSTREAM_CODES.has(error.code);
}

/**
 * Rethrow unless `error` is an upstream failure and the crawl is still wanted; an upstream failure
 * caused by a shutdown (a closed dispatcher, an aborted body) is the shutdown, not Civitai.
 */
function softOrThrow(error: unknown, signal: AbortSignal | undefined): asserts error is AppError {
  throwIfAborted(signal);
  if (!isUpstreamFailure(error)) throw error;
}

/** Collects the per-item notes of text conversions (cuts, flattened nesting) for a record. */
class TextNotes {
  readonly all: string[] = [];
  take(what: string, converted: ConvertedText): string {
    for (const note of converted.notes) this.all.push(`${what}: ${note}`);
    return converted.value;
  }
}

const LONG_TEXT = { maxChars: HTML_LIMITS.longTextChars };
const COMMENT_TEXT = { maxChars: HTML_LIMITS.commentChars };

/** A model reference typed by a person: a numeric id or a civitai.com model URL. */
export interface ModelRef {
  modelId: number;
  versionId: number | undefined;
}

/**
 * Parse `11821`, `https://civitai.com/models/11821/name?modelVersionId=127062` or the same without
 * the scheme. The host must be civitai.com (or a subdomain) or one of `extraHosts` (the configured
 * CIVITAI_BASE_URL host). INPUT_INVALID otherwise.
 */
export function parseModelRef(ref: string, extraHosts: readonly string[] = []): ModelRef {
  const s = ref.trim();
  if (/^\d+$/.test(s)) {
    const id = Number(s);
    if (!Number.isSafeInteger(id) || id <= 0)
      throw new UserInputError(`"${s}" is not a valid Civitai model id.`);
    return { modelId: id, versionId: undefined };
  }
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `https://${s}`);
  } catch {
    throw new UserInputError(`"${s}" is neither a Civitai model id nor a civitai.com model URL.`);
  }
  const civitaiHost = url.hostname === 'civitai.com' || url.hostname.endsWith('.civitai.com');
  const match = /^\/models\/(\d+)(?:\/|$)/.exec(url.pathname);
  if (!/^https?:$/.test(url.protocol) || !match || !(civitaiHost || extraHosts.includes(url.host))) {
    throw new UserInputError(`"${s}" is not a Civitai model URL (expected https://civitai.com/models/<id>).`);
  }
  const v = url.searchParams.get('modelVersionId');
  return { modelId: Number(match[1]), versionId: v && /^\d+$/.test(v) ? Number(v) : undefined };
}

/** Split creator-typed trained words on commas, trim, unescape `\(`/`\)`, drop empties and repeats. */
export function normalizeTrainedWords(words: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const entry of words) {
    for (const piece of entry.split(',')) {
      const word = piece.replace(/\\([()[\]])/g, '$1').trim();
      if (word === '' || seen.has(word.toLowerCase())) continue;
      seen.add(word.toLowerCase());
      out.push(word);
    }
  }
  return out;
}

const NSFW_LEVELS: Record<string, number> = { None: 1, Soft: 2, Mature: 4, X: 8, Blocked: 16, XXX: 16 };

/** Civitai's image nsfwLevel (number, or the older "None"/"Soft"/"Mature"/"X" names) → number. */
export function nsfwLevelNumber(value: number | string | null | undefined): number {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string'
        ? (NSFW_LEVELS[value] ?? (/^\d+$/.test(value) ? Number(value) : Number.NaN))
        : Number.NaN;
  // Unknown or unrated (0, missing, junk): the most restricted level, so it is never shown where it should not be.
  return Number.isFinite(n) && n >= 1 ? Math.trunc(n) : 16;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v)
    ? v
    : typeof v === 'string' && v !== '' && Number.isFinite(Number(v))
      ? Number(v)
      : null;
}

/** Flatten `meta` (flat, or nested as `meta.meta` on the legacy paths). */
function flatMeta(meta: VersionImage['meta'] | ImageItem['meta']): Record<string, unknown> {
  if (!meta) return {};
  const inner = (meta as { meta?: unknown }).meta;
  if (inner && typeof inner === 'object' && !('prompt' in meta)) return inner as Record<string, unknown>;
  return meta as Record<string, unknown>;
}

function imageKind(item: { type?: string | null | undefined; url: string }): SampleImage['kind'] {
  const t = item.type?.toLowerCase();
  if (t === 'video' || /\.(mp4|webm|mov|m4v)(\?|$)/i.test(item.url)) return 'video';
  if (t === undefined || t === null || t === 'image') return 'image';
  return 'other';
}

/** Normalise an image from /images or /model-versions into a SampleImage with its skip reason. */
export function toSampleImage(item: ImageItem | VersionImage, fallbackId: number): SampleImage {
  const meta = flatMeta(item.meta);
  const kind = imageKind(item);
  const prompt = str(meta.prompt);
  const resources = Array.isArray(meta.resources)
    ? (meta.resources as unknown[]).flatMap((r) =>
        r && typeof r === 'object'
          ? [
              {
                name: str((r as Record<string, unknown>).name),
                type: str((r as Record<string, unknown>).type),
                weight: num((r as Record<string, unknown>).weight),
              },
            ]
          : [],
      )
    : [];
  const skipped =
    kind === 'video'
      ? 'video: only still images are analysed'
      : kind === 'other'
        ? `unsupported media type "${item.type}"`
        : prompt === null
          ? 'no prompt in the image metadata'
          : null;
  return {
    id: typeof item.id === 'number' ? item.id : fallbackId,
    url: item.url,
    width: item.width ?? null,
    height: item.height ?? null,
    nsfwLevel: nsfwLevelNumber(item.nsfwLevel),
    kind,
    prompt,
    negativePrompt: str(meta.negativePrompt),
    sampler: str(meta.sampler),
    baseModel: 'baseModel' in item ? (item.baseModel ?? null) : null,
    resources,
    skipped,
  };
}

/** Id of a Civitai image from its CDN URL (`…/59459184.jpeg`), for version images that lack `id`. */
function idFromUrl(url: string, index: number): number {
  const m = /\/(\d+)\.[a-z0-9]+(?:\?|$)/i.exec(url);
  return m ? Number(m[1]) : -(index + 1);
}

function safeJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The kohya-derived fields of a TrainingHeader when there is nothing to derive them from. */
const NO_TRAINING_FIELDS = {
  tagFrequency: null,
  datasetDirs: null,
  outputName: null,
  networkModule: null,
  baseModelVersion: null,
  numTrainImages: null,
} as const;

/** Pull the kohya keys the analyses use out of a header's `__metadata__`. */
export function trainingFromHeader(header: SafetensorsHeader, fileId: number | null): TrainingHeader {
  const md = header.metadata;
  const base = { ...NO_TRAINING_FIELDS, fileId };
  if (!md || Object.keys(md).length === 0) {
    return {
      status: 'none',
      reason: 'the file header has no __metadata__ (trainer wrote none)',
      metadata: null,
      ...base,
    };
  }
  const tf = safeJson(md.ss_tag_frequency);
  const tagFrequency =
    tf && typeof tf === 'object' && !Array.isArray(tf)
      ? Object.fromEntries(
          Object.entries(tf as Record<string, unknown>).map(([dir, tags]) => [
            dir,
            Object.fromEntries(
              Object.entries((tags ?? {}) as Record<string, unknown>).filter(
                (e): e is [string, number] => typeof e[1] === 'number',
              ),
            ),
          ]),
        )
      : null;
  const dd = safeJson(md.ss_dataset_dirs);
  const datasetDirs =
    dd && typeof dd === 'object' && !Array.isArray(dd)
      ? Object.fromEntries(
          Object.entries(dd as Record<string, Record<string, unknown>>).map(([dir, v]) => [
            dir,
            { n_repeats: num(v?.n_repeats), img_count: num(v?.img_count) },
          ]),
        )
      : null;
  return {
    ...base,
    status: 'ok',
    reason: tagFrequency ? null : 'no ss_tag_frequency in the header',
    metadata: md,
    tagFrequency,
    datasetDirs,
    outputName: md.ss_output_name ?? null,
    networkModule: md.ss_network_module ?? null,
    baseModelVersion: md.ss_base_model_version ?? null,
    numTrainImages: num(md.ss_num_train_images),
  };
}

/** Changes whenever the model or any of its versions changes (ids, dates, trained words, files). */
export function modelFingerprint(model: Model): string {
  // The listing has no model updatedAt, so the texts the detectors read are part of the fingerprint too.
  const parts = {
    id: model.id,
    name: model.name,
    description: model.description ?? null,
    tags: model.tags ?? [],
    updatedAt: model.updatedAt ?? null,
    lastVersionAt: model.lastVersionAt ?? null,
    versions: model.modelVersions.map((v) => [
      v.id,
      v.publishedAt ?? null,
      v.updatedAt ?? null,
      v.description ?? null,
      v.trainedWords ?? [],
      (v.files ?? []).map((f) => f.hashes?.SHA256 ?? f.id),
    ]),
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

/** Earliest publish date of a model (versions' publishedAt, else the model's). */
export function modelPublishedAt(model: Model): string | null {
  const dates = model.modelVersions
    .map((v) => v.publishedAt ?? v.createdAt)
    .filter((d): d is string => typeof d === 'string' && !Number.isNaN(Date.parse(d)))
    .sort();
  return dates[0] ?? model.publishedAt ?? null;
}

function modelUpdatedAt(model: Model): string | null {
  const dates = [
    model.updatedAt,
    model.lastVersionAt,
    ...model.modelVersions.flatMap((v) => [v.updatedAt, v.publishedAt]),
  ]
    .filter((d): d is string => typeof d === 'string' && !Number.isNaN(Date.parse(d)))
    .sort();
  return dates.at(-1) ?? null;
}

/** True when the model's publish date lies in [from, to] (dates as YYYY-MM-DD, inclusive, UTC). */
export function inDateWindow(model: Model, from: string, to: string): boolean {
  const published = modelPublishedAt(model);
  if (!published) return false;
  const day = new Date(published).toISOString().slice(0, 10);
  return day >= from && day <= to;
}

function toVersionFile(f: NonNullable<ModelVersion['files']>[number]): VersionFile {
  return {
    id: f.id,
    name: f.name,
    sizeKB: f.sizeKB ?? null,
    type: f.type ?? null,
    format: f.metadata?.format ?? null,
    primary: f.primary ?? false,
    sha256: f.hashes?.SHA256 ?? null,
    autoV2: f.hashes?.AutoV2 ?? null,
    downloadUrl: f.downloadUrl ?? null,
  };
}

/** The file whose header holds the training tags: the primary SafeTensor model file. */
export function pickHeaderFile(files: readonly VersionFile[]): VersionFile | undefined {
  const model = files.filter((f) => (f.type ?? 'Model') === 'Model' && f.downloadUrl);
  const safetensors = model.filter(
    (f) => f.format === 'SafeTensor' || f.name.toLowerCase().endsWith('.safetensors'),
  );
  return safetensors.find((f) => f.primary) ?? safetensors[0];
}

export interface CrawlHooks {
  signal?: AbortSignal | undefined;
  onProgress?: ProgressListener | undefined;
  logger?: Logger | undefined;
  /** Stamps `fetchedAt` (default: the system clock). */
  clock?: Clock | undefined;
}

/**
 * Fetch everything the analyses need for one model: versions with changelogs, sample images with
 * prompts, comments and reviews, and training tags from the newest file headers. Partial failures
 * (images, comments, headers) from upstream are recorded in the record, not thrown; only the model
 * itself must load. Storage failures (STORAGE_IO) and an aborted `signal` (ABORTED) always reject:
 * a record is only returned when nothing but Civitai itself limited it.
 */
export async function crawlModel(
  client: CivitaiClient,
  model: Model,
  options: CrawlOptions,
  hooks: CrawlHooks = {},
): Promise<ModelRecord> {
  const logger = hooks.logger ?? silentLogger;
  const { signal } = hooks;
  const versions = [...model.modelVersions].sort((a, b) =>
    (b.publishedAt ?? b.createdAt ?? '').localeCompare(a.publishedAt ?? a.createdAt ?? ''),
  );
  const records: VersionRecord[] = [];
  const notes = new TextNotes();
  for (const [index, v] of versions.entries()) {
    throwIfAborted(signal);
    const files = (v.files ?? []).map(toVersionFile);
    let images: SampleImage[] = [];
    let imagesSource: VersionRecord['imagesSource'] = 'none';
    const isTarget = v.id === options.targetVersionId;
    if ((index < options.versionsWithImages || isTarget) && options.imagesPerVersion > 0) {
      hooks.onProgress?.({
        stage: 'images',
        done: index,
        total: Math.min(versions.length, options.versionsWithImages),
        message: `${model.name}: images of ${v.name}`,
      });
      ({ images, imagesSource } = await versionImages(client, v, options, signal, logger));
    }
    let training: TrainingHeader | null = null;
    if (options.remoteHeaders !== false && (index < options.headerVersions || isTarget)) {
      training = await versionTraining(client, files, signal, logger);
    }
    const changelog = await convertHtmlAsync(v.description, LONG_TEXT);
    records.push({
      id: v.id,
      name: v.name,
      baseModel: v.baseModel ?? null,
      createdAt: v.createdAt ?? null,
      publishedAt: v.publishedAt ?? null,
      updatedAt: v.updatedAt ?? null,
      trainedWords: v.trainedWords ?? [],
      triggerWords: normalizeTrainedWords(v.trainedWords ?? []),
      changelogText: notes.take(`changelog of version ${v.id}`, changelog.text),
      changelogMarkdown: changelog.markdown,
      downloadUrl: v.downloadUrl ?? null,
      files,
      images,
      imagesSource,
      training,
    });
  }
  throwIfAborted(signal);
  const comments = options.comments
    ? await modelTexts(client, model.id, options.maxTextItems, signal, logger, notes)
    : { status: 'skipped' as const, reason: 'comments were not requested', items: [] };
  throwIfAborted(signal);
  const description = await convertHtmlAsync(model.description, LONG_TEXT);
  const s = model.stats ?? {};
  return {
    id: model.id,
    name: model.name,
    type: model.type,
    url: `https://civitai.com/models/${model.id}`,
    creator: model.creator?.username ?? null,
    nsfw: model.nsfw ?? false,
    nsfwLevel: model.nsfwLevel ?? null,
    tags: model.tags ?? [],
    stats: {
      downloadCount: s.downloadCount ?? 0,
      favoriteCount: s.favoriteCount ?? 0,
      thumbsUpCount: s.thumbsUpCount ?? 0,
      thumbsDownCount: s.thumbsDownCount ?? 0,
      commentCount: s.commentCount ?? 0,
      ratingCount: s.ratingCount ?? 0,
      rating: s.rating ?? 0,
    },
    publishedAt: modelPublishedAt(model),
    updatedAt: modelUpdatedAt(model),
    descriptionText: notes.take('description', description.text),
    descriptionMarkdown: description.markdown,
    versions: records,
    targetVersionId:
      options.targetVersionId !== undefined && records.some((r) => r.id === options.targetVersionId)
        ? options.targetVersionId
        : null,
    comments,
    fingerprint: modelFingerprint(model),
    fetchedAt: new Date((hooks.clock ?? systemClock).now()).toISOString(),
    notes: notes.all,
  };
}

async function versionImages(
  client: CivitaiClient,
  v: ModelVersion,
  options: CrawlOptions,
  signal: AbortSignal | undefined,
  logger: Logger,
): Promise<{ images: SampleImage[]; imagesSource: VersionRecord['imagesSource'] }> {
  try {
    const items = await client.collectImages(
      {
        modelVersionId: v.id,
        browsingLevel: browsingMask(options.maxBrowsingLevel),
        // Anything above PG-13 asked for lifts the API's SFW clamp (a mask of 3 = PG|PG-13 does not).
        nsfw: browsingMask(options.maxBrowsingLevel) > 3,
      },
      options.imagesPerVersion,
      signal,
    );
    if (items.length > 0) {
      return {
        images: items
          .map((it, i) => toSampleImage(it, idFromUrl(it.url, i)))
          .filter((im) => im.nsfwLevel <= options.maxBrowsingLevel),
        imagesSource: 'images-api',
      };
    }
  } catch (error) {
    softOrThrow(error, signal);
    logger.warn(
      { versionId: v.id, code: error.code, err: error.message },
      'images endpoint failed; using version images',
    );
  }
  try {
    const detail = await client.getModelVersion(v.id, signal);
    const images = (detail.images ?? [])
      .map((im, i) => toSampleImage(im, idFromUrl(im.url, i)))
      .filter((im) => im.nsfwLevel <= options.maxBrowsingLevel)
      .slice(0, options.imagesPerVersion);
    return { images, imagesSource: images.length > 0 ? 'version-api' : 'none' };
  } catch (error) {
    softOrThrow(error, signal);
    logger.warn({ versionId: v.id, code: error.code }, 'version images unavailable');
    return { images: [], imagesSource: 'none' };
  }
}

/** Bitmask of every level up to and including `max` (2 → 1|2 = 3). */
export function browsingMask(max: number): number {
  let mask = 0;
  for (let level = 1; level <= max && level <= 16; level *= 2) mask |= level;
  return mask || 1;
}

async function versionTraining(
  client: CivitaiClient,
  files: readonly VersionFile[],
  signal: AbortSignal | undefined,
  logger: Logger,
): Promise<TrainingHeader> {
  const file = pickHeaderFile(files);
  const empty = { ...NO_TRAINING_FIELDS, metadata: null };
  if (!file?.downloadUrl) {
    return { status: 'none', reason: 'no safetensors model file in this version', fileId: null, ...empty };
  }
  try {
    const header = await client.fileHeader(file.downloadUrl, signal);
    return trainingFromHeader(header, file.id);
  } catch (error) {
    softOrThrow(error, signal);
    logger.warn({ fileId: file.id, code: error.code, err: error.message }, 'model file header unreadable');
    return { status: 'error', reason: error.userMessage, fileId: file.id, ...empty };
  }
}

const iso = (d: unknown): string | null =>
  d instanceof Date ? d.toISOString() : typeof d === 'string' ? d : null;

/** A comment (model discussion or review thread) as a TextItem. */
function commentItem(
  kind: 'comment' | 'review-comment',
  c: {
    id: number;
    createdAt?: string | Date | null | undefined;
    content?: string | null | undefined;
    user?: { username?: string | null | undefined } | null | undefined;
  },
  parentId: number | null,
  notes: TextNotes,
): TextItem {
  return {
    kind,
    id: c.id,
    parentId,
    versionId: null,
    createdAt: iso(c.createdAt),
    user: c.user?.username ?? null,
    rating: null,
    recommended: null,
    text: notes.take(`${kind} ${c.id}`, convertToPlainText(c.content, COMMENT_TEXT)),
  };
}

async function modelTexts(
  client: CivitaiClient,
  modelId: number,
  max: number,
  signal: AbortSignal | undefined,
  logger: Logger,
  notes: TextNotes,
): Promise<ModelRecord['comments']> {
  if (!client.hasApiKey) {
    return {
      status: 'unavailable',
      reason: 'no CIVITAI_API_KEY: Civitai only serves comments and reviews to API-key holders',
      items: [],
    };
  }
  const items: TextItem[] = [];
  try {
    let cursor: number | undefined;
    do {
      const page = await client.commentsPage(modelId, cursor, signal);
      for (const c of page.comments) {
        if (c.hidden || c.tosViolation) continue;
        items.push(commentItem('comment', c, c.parentId ?? null, notes));
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && items.length < max);

    cursor = undefined;
    const reviews: Array<{ id: number; threads: number }> = [];
    do {
      const page = await client.reviewsPage(modelId, cursor, signal);
      for (const r of page.items) {
        reviews.push({ id: r.id, threads: r.thread?.commentCount ?? 0 });
        items.push({
          kind: 'review',
          id: r.id,
          parentId: null,
          versionId: r.modelVersionId ?? null,
          createdAt: iso(r.createdAt),
          user: r.user?.username ?? null,
          rating: r.rating ?? null,
          recommended: r.recommended ?? null,
          text: notes.take(`review ${r.id}`, convertToPlainText(r.details, COMMENT_TEXT)),
        });
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined && items.length < max);

    for (const review of reviews) {
      if (review.threads === 0 || items.length >= max) continue;
      let threadCursor: number | undefined;
      do {
        const page = await client.reviewThreadPage(review.id, threadCursor, signal);
        if (!page) break;
        for (const c of page.comments) {
          if (c.hidden) continue;
          items.push(commentItem('review-comment', c, review.id, notes));
        }
        threadCursor = page.nextCursor ?? undefined;
      } while (threadCursor !== undefined && items.length < max);
    }
    return { status: 'ok', reason: null, items: items.filter((i) => i.text !== '').slice(0, max) };
  } catch (error) {
    softOrThrow(error, signal);
    logger.warn({ modelId, code: error.code, err: error.message }, 'comments unavailable');
    const read = items.filter((i) => i.text !== '').slice(0, max);
    // Keep what was read before an endpoint refused (e.g. reviews need a scope comments do not).
    return read.length > 0
      ? { status: 'ok', reason: `partial: a comment endpoint failed (${error.userMessage})`, items: read }
      : {
          status: 'unavailable',
          reason: `Civitai refused the comment endpoints: ${error.userMessage}`,
          items: [],
        };
  }
}

/**
 * Walk `/api/v1/models` with cursors and yield models of the selected types whose publish date is
 * in the window, until `n` are found or the listing ends.
 */
export async function* iterateTopModels(
  client: CivitaiClient,
  selection: TopSelection,
  signal?: AbortSignal,
  maxPages = 1000,
): AsyncGenerator<Model> {
  let cursor: string | undefined;
  let yielded = 0;
  const seenCursors = new Set<string>();
  const seenModels = new Set<number>();
  for (let pageNo = 0; pageNo < maxPages; pageNo++) {
    throwIfAborted(signal);
    const page = await client.listModels(
      {
        types: selection.types,
        sort: selection.sort,
        period: selection.period,
        nsfw: selection.nsfw,
        baseModels: selection.baseModels,
        limit: 100,
        cursor,
      },
      signal,
    );
    for (const model of page.items) {
      if (seenModels.has(model.id)) continue;
      seenModels.add(model.id);
      if (!(selection.types as readonly string[]).includes(model.type)) continue;
      if (!inDateWindow(model, selection.from, selection.to)) continue;
      yield model;
      yielded++;
      if (yielded >= selection.n) return;
    }
    const next = page.metadata?.nextCursor;
    if (next === undefined || next === null || page.items.length === 0) return;
    cursor = String(next);
    if (seenCursors.has(cursor)) {
      throw new AppError('CIVITAI_SCHEMA', `Civitai returned the same cursor twice (${cursor})`, {
        userMessage: 'Civitai paging looped (the same cursor twice); the listing was stopped.',
      });
    }
    seenCursors.add(cursor);
  }
}
