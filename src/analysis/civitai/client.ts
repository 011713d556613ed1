import type { z } from 'zod';
import { isAppError } from '../errors.ts';
import type { Logger } from '../ports.ts';
import { silentLogger } from '../ports.ts';
import { throwIfAborted } from './errors.ts';
import type { HttpClient } from './http.ts';
import { DEFAULT_STORAGE_HOSTS, readRemoteHeader, SafetensorsHeader } from './safetensors.ts';
import {
  CommentsPayload,
  type ImageItem,
  ImagesPage,
  Model,
  ModelsPage,
  ModelVersionDetail,
  ReviewsPayload,
  ThreadPayload,
} from './schemas.ts';
import { trpcUrl, unwrapTrpc } from './trpc.ts';

/** Raw-response cache port (implemented in src/storage); keys are full request URLs. */
export interface ResponseCache {
  get(key: string): Promise<unknown | undefined>;
  set(key: string, value: unknown): Promise<void>;
}

const MiB = 1024 * 1024;

/**
 * The largest JSON body accepted from each Civitai endpoint. A listing page of 100 models with all
 * their versions is the biggest real answer (about 14 MB for 100 checkpoints at 136 KB each); the
 * limits leave several times that. Over a limit the read stops: CIVITAI_TOO_LARGE.
 */
export const DEFAULT_BODY_LIMITS = {
  /** `/api/v1/models` pages. */
  listing: 64 * MiB,
  /** `/api/v1/models/:id`. */
  model: 16 * MiB,
  /** `/api/v1/model-versions/:id` and `by-hash`. */
  version: 8 * MiB,
  /** `/api/v1/images` pages. */
  images: 16 * MiB,
  /** tRPC comment, review and thread pages. */
  trpc: 16 * MiB,
} as const;
export type BodyLimits = Record<keyof typeof DEFAULT_BODY_LIMITS, number>;

export interface CivitaiClientOptions {
  http: HttpClient;
  /** Present when CIVITAI_API_KEY is set; the tRPC comment endpoints refuse third parties without it. */
  hasApiKey: boolean;
  cache?: ResponseCache | undefined;
  logger?: Logger;
  /** Extra hosts model-file redirects may lead to. */
  storageHosts?: readonly string[];
  /** Per-endpoint body limits (default {@link DEFAULT_BODY_LIMITS}). */
  bodyLimits?: Partial<BodyLimits>;
}

export interface ListModelsParams {
  types: readonly string[];
  sort: string;
  period: string;
  nsfw: boolean;
  baseModels: readonly string[];
  limit: number;
  cursor?: string | undefined;
  query?: string | undefined;
}

export interface ImagesParams {
  modelVersionId: number;
  limit: number;
  cursor?: string | undefined;
  /** Browsing level bitmask upper bound (1 PG … 16 XXX); 3 = PG + PG-13. */
  browsingLevel: number;
  nsfw: boolean;
}

/**
 * Typed access to Civitai's public REST API, the site tRPC comment/review endpoints and model
 * file headers. Every response is validated; failures are AppErrors (CIVITAI_HTTP,
 * CIVITAI_NOT_FOUND, CIVITAI_UNAUTHORIZED, CIVITAI_SCHEMA, CIVITAI_TOO_LARGE, RATE_LIMITED, NETWORK,
 * TIMEOUT, SAFETENSORS_*, HOST_NOT_ALLOWED, STORAGE_IO from the cache, ABORTED).
 */
export class CivitaiClient {
  readonly http: HttpClient;
  readonly hasApiKey: boolean;
  private readonly cache: ResponseCache | undefined;
  private readonly logger: Logger;
  private readonly storageHosts: readonly string[];
  private readonly limits: BodyLimits;

  constructor(options: CivitaiClientOptions) {
    this.http = options.http;
    this.hasApiKey = options.hasApiKey;
    this.cache = options.cache;
    this.logger = options.logger ?? silentLogger;
    this.storageHosts = options.storageHosts ?? DEFAULT_STORAGE_HOSTS;
    this.limits = { ...DEFAULT_BODY_LIMITS, ...options.bodyLimits };
  }

  get origin(): string {
    return this.http.origin;
  }

  /** GET JSON through the raw-response cache; cached bodies are re-validated on the way out. */
  private async json<S extends z.ZodType>(
    url: string,
    schema: S,
    limit: keyof BodyLimits,
    signal?: AbortSignal,
  ): Promise<z.infer<S>> {
    throwIfAborted(signal);
    const cached = await this.cache?.get(url);
    if (cached !== undefined) {
      const parsed = schema.safeParse(cached);
      if (parsed.success) return parsed.data;
      this.logger.warn({ url }, 'cached response no longer matches its schema; refetching');
    }
    const body = await this.http.getJsonUnknown(url, { signal, maxBodyBytes: this.limits[limit] });
    const value = this.http.parse(url, schema, body);
    await this.cache?.set(url, body);
    return value;
  }

  /** One page of `/api/v1/models` (cursor pagination; `limit` ≤ 100). */
  async listModels(params: ListModelsParams, signal?: AbortSignal): Promise<ModelsPage> {
    const url = new URL('/api/v1/models', this.origin);
    url.searchParams.set('limit', String(Math.min(100, Math.max(1, params.limit))));
    for (const t of params.types) url.searchParams.append('types', t);
    url.searchParams.set('sort', params.sort);
    url.searchParams.set('period', params.period);
    url.searchParams.set('nsfw', String(params.nsfw));
    for (const b of params.baseModels) url.searchParams.append('baseModels', b);
    if (params.query) url.searchParams.set('query', params.query);
    if (params.cursor !== undefined) url.searchParams.set('cursor', params.cursor);
    return this.json(url.toString(), ModelsPage, 'listing', signal);
  }

  /** `/api/v1/models/:id`. */
  async getModel(id: number, signal?: AbortSignal): Promise<Model> {
    return this.json(`${this.origin}/api/v1/models/${id}`, Model, 'model', signal);
  }

  /** `/api/v1/model-versions/:id` (up to 10 images, with prompts). */
  async getModelVersion(id: number, signal?: AbortSignal): Promise<ModelVersionDetail> {
    return this.json(`${this.origin}/api/v1/model-versions/${id}`, ModelVersionDetail, 'version', signal);
  }

  /** `/api/v1/model-versions/by-hash/:hash` (SHA256, AutoV2, AutoV3, BLAKE3, CRC32, AutoV1). */
  async getVersionByHash(hash: string, signal?: AbortSignal): Promise<ModelVersionDetail> {
    const h = encodeURIComponent(hash.trim().toUpperCase());
    return this.json(
      `${this.origin}/api/v1/model-versions/by-hash/${h}`,
      ModelVersionDetail,
      'version',
      signal,
    );
  }

  /** One page of `/api/v1/images` for a version, always `withMeta=true` so prompts come back. */
  async listImages(params: ImagesParams, signal?: AbortSignal): Promise<ImagesPage> {
    const url = new URL('/api/v1/images', this.origin);
    url.searchParams.set('modelVersionId', String(params.modelVersionId));
    url.searchParams.set('limit', String(Math.min(200, Math.max(1, params.limit))));
    url.searchParams.set('withMeta', 'true');
    url.searchParams.set('sort', 'Most Reactions');
    url.searchParams.set('nsfw', String(params.nsfw));
    url.searchParams.set('browsingLevel', String(params.browsingLevel));
    if (params.cursor !== undefined) url.searchParams.set('cursor', params.cursor);
    return this.json(url.toString(), ImagesPage, 'images', signal);
  }

  /** Up to `max` images of a version, following cursors. */
  async collectImages(params: Omit<ImagesParams, 'cursor' | 'limit'>, max: number, signal?: AbortSignal) {
    const items: ImageItem[] = [];
    let cursor: string | undefined;
    const seen = new Set<string>();
    while (items.length < max) {
      const page = await this.listImages(
        { ...params, limit: Math.min(100, max - items.length), cursor },
        signal,
      );
      items.push(...page.items);
      const next = page.metadata?.nextCursor;
      if (next === undefined || next === null || page.items.length === 0) break;
      cursor = String(next);
      if (seen.has(cursor)) break;
      seen.add(cursor);
    }
    return items.slice(0, max);
  }

  private async trpc<S extends z.ZodType>(
    procedure: string,
    input: Record<string, unknown>,
    schema: S,
    signal?: AbortSignal,
  ): Promise<z.infer<S>> {
    const url = trpcUrl(this.origin, procedure, input);
    throwIfAborted(signal);
    const cached = await this.cache?.get(url);
    if (cached !== undefined) {
      try {
        return unwrapTrpc(url, cached, schema);
      } catch (error) {
        if (!isAppError(error)) throw error;
      }
    }
    const body = await this.http.getJsonUnknown(url, { signal, maxBodyBytes: this.limits.trpc });
    const value = unwrapTrpc(url, body, schema);
    await this.cache?.set(url, body);
    return value;
  }

  /** Model discussion comments (`comment.getAll`), newest first, paged by cursor. */
  async commentsPage(
    modelId: number,
    cursor: number | undefined,
    signal?: AbortSignal,
  ): Promise<CommentsPayload> {
    return this.trpc(
      'comment.getAll',
      { modelId, limit: 100, sort: 'newest', ...(cursor === undefined ? {} : { cursor }) },
      CommentsPayload,
      signal,
    );
  }

  /** Reviews with text (`resourceReview.getInfinite`). */
  async reviewsPage(
    modelId: number,
    cursor: number | undefined,
    signal?: AbortSignal,
  ): Promise<ReviewsPayload> {
    return this.trpc(
      'resourceReview.getInfinite',
      { modelId, limit: 100, ...(cursor === undefined ? {} : { cursor }) },
      ReviewsPayload,
      signal,
    );
  }

  /** Comments under one review (`commentv2.getInfinite`, entityType review); null when no thread. */
  async reviewThreadPage(
    reviewId: number,
    cursor: number | undefined,
    signal?: AbortSignal,
  ): Promise<ThreadPayload> {
    return this.trpc(
      'commentv2.getInfinite',
      {
        entityId: reviewId,
        entityType: 'review',
        limit: 100,
        sort: 'Oldest',
        ...(cursor === undefined ? {} : { cursor }),
      },
      ThreadPayload,
      signal,
    );
  }

  /** The safetensors header of a model file, read with two Range requests (cached by URL). */
  async fileHeader(downloadUrl: string, signal?: AbortSignal): Promise<SafetensorsHeader> {
    const key = `header:${downloadUrl}`;
    throwIfAborted(signal);
    const cached = SafetensorsHeader.safeParse(await this.cache?.get(key));
    if (cached.success) return cached.data;
    const { resolvedUrl: _resolved, ...header } = await readRemoteHeader(this.http, downloadUrl, {
      allowedHosts: this.storageHosts,
      signal,
    });
    await this.cache?.set(key, header);
    return header;
  }
}
