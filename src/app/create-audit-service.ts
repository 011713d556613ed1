import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent, type Dispatcher } from 'undici';
import type { AnalysisContext, Analyzer, AnalyzerOutput } from '../analysis/audit/analyzer.ts';
import { buildAuditResult } from '../analysis/audit/build.ts';
import { type Collected, collectRecords } from '../analysis/audit/collect.ts';
import type { AuditResult, AuditService, ModelSearchHit } from '../analysis/audit/service.ts';
import {
  type AuditHooks,
  AuditRunOptions,
  type AuditRunOptionsInput,
  AuditSelection,
  type AuditSelectionInput,
  type BiasReference,
  DEFAULT_MODEL_TYPES,
} from '../analysis/audit/types.ts';
import { CivitaiClient, DEFAULT_BODY_LIMITS } from '../analysis/civitai/client.ts';
import { DEFAULT_CRAWL_OPTIONS } from '../analysis/civitai/crawl.ts';
import { HttpClient } from '../analysis/civitai/http.ts';
import type { ModelRecord } from '../analysis/civitai/record.ts';
import { AppError, ErrorCode, isAppError, UserInputError } from '../analysis/errors.ts';
import type { ImageFeatureExtractor, ImagePassResult, SampleImageRef } from '../analysis/images/features.ts';
import { createImageFetcher } from '../analysis/images/fetch.ts';
import { type ImagePass, sampleImageRefs, startImagePass } from '../analysis/images/pass.ts';
import { type Clock, type Logger, systemClock } from '../analysis/ports.ts';
import type { AppConfig } from '../config.ts';
import type { StorageBackend } from '../storage/backend.ts';
import { createRecordCache, createResponseCache } from '../storage/crawl-cache.ts';
import { keyvImageFeatureCache } from '../storage/image-feature-cache.ts';
import { defaultAnalyzers } from './analyzers.ts';

export interface AuditServiceDeps {
  config: AppConfig;
  storage: StorageBackend;
  logger: Logger;
  clock?: Clock;
  /** Defaults to a keep-alive undici Agent; tests may inject MockAgent or their own. */
  dispatcher?: Dispatcher;
  analyzers?: readonly Analyzer[];
  /** Images downloaded and decoded at the same time in the image pass (default 4). */
  imageConcurrency?: number;
  /** Face and composition bias metrics (default true; see AnalyzerDeps.faceAnalysis). */
  faceAnalysis?: boolean;
}

export interface AuditServiceHandle extends AuditService {
  readonly client: CivitaiClient;
  /** Fetch the crawl records only (what `loralens crawl` writes), through the same caches. */
  crawl(
    selection: AuditSelectionInput,
    options?: AuditRunOptionsInput,
    hooks?: AuditHooks,
  ): Promise<Collected>;
  close(): Promise<void>;
}

/**
 * Wire the concrete adapters (undici, Keyv caches, analyzers) into the AuditService both front
 * doors use. The CLI and the bot call exactly this.
 */
export function createAuditService(deps: AuditServiceDeps): AuditServiceHandle {
  const { config, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const ownsDispatcher = deps.dispatcher === undefined;
  const dispatcher =
    deps.dispatcher ?? new Agent({ connections: config.concurrency * 2, keepAliveTimeout: 10_000 });
  const http = new HttpClient({
    dispatcher,
    baseUrl: config.civitaiBaseUrl,
    apiKey: config.civitaiApiKey,
    concurrency: config.concurrency,
    ratePerSecond: config.ratePerSecond,
    timeoutMs: config.timeoutMs,
    deadlineMs: Math.max(config.timeoutMs * 4, 60_000),
    clock,
    logger: logger.child({ component: 'http' }),
  });
  const client = new CivitaiClient({
    http,
    hasApiKey: config.civitaiApiKey !== undefined,
    cache: createResponseCache(deps.storage, config.cacheTtlMs),
    logger,
    ...(config.maxBodyBytes === undefined
      ? {}
      : {
          bodyLimits: Object.fromEntries(
            Object.keys(DEFAULT_BODY_LIMITS).map((k) => [k, config.maxBodyBytes]),
          ) as Record<keyof typeof DEFAULT_BODY_LIMITS, number>,
        }),
  });
  const records = createRecordCache(deps.storage, config.cacheTtlMs);
  // Sample images: Civitai image hosts (and the configured origin) only, redirects re-checked, size-capped.
  const imageFetcher = createImageFetcher({ dispatcher, extraAllowedOrigins: [http.origin] });
  const analyzers =
    deps.analyzers ??
    defaultAnalyzers({
      config,
      logger,
      storage: deps.storage,
      dispatcher,
      ...(deps.faceAnalysis === undefined ? {} : { faceAnalysis: deps.faceAnalysis }),
    });
  const featureCache = keyvImageFeatureCache(deps.storage.keyv('image-features'), {
    ttlMs: 30 * 24 * 3_600_000,
  });
  // Every extractor any analysis declared, once each (by name), for the one image pass.
  const extractors = [
    ...new Map(analyzers.flatMap((a) => a.imageExtractors ?? []).map((e) => [e.name, e] as const)).values(),
  ] as ImageFeatureExtractor[];

  const crawl = (
    selection: AuditSelection,
    options: AuditRunOptions,
    hooks: AuditHooks,
    onRecord?: (record: ModelRecord) => void,
  ): Promise<Collected> =>
    collectRecords(
      {
        client,
        records,
        logger,
        clock,
        modelConcurrency: config.concurrency,
        ...(onRecord ? { onRecord } : {}),
      },
      selection,
      {
        ...DEFAULT_CRAWL_OPTIONS,
        comments: options.comments,
        maxBrowsingLevel: options.maxBrowsingLevel,
        imagesPerVersion: options.imagesPerVersion,
      },
      hooks,
    );

  /**
   * The reference images of a run: none for the population reference, the image files of a folder, or
   * the sample images of another Civitai model (crawled through the same client and caches).
   * Throws INPUT_INVALID with one sentence (missing folder, no images, unknown model).
   */
  const resolveReference = async (options: AuditRunOptions, hooks: AuditHooks): Promise<SampleImageRef[]> => {
    const reference: BiasReference = options.reference;
    switch (reference.kind) {
      case 'population':
        return [];
      case 'dir':
        return referenceFolder(reference.path);
      case 'model': {
        const got = await crawl({ kind: 'model', ref: reference.ref }, options, hooks).catch(
          (error: unknown) => {
            if (isAppError(error) && error.code === ErrorCode.INPUT_INVALID) {
              throw new UserInputError(`Reference model: ${error.userMessage}`, { ref: reference.ref });
            }
            throw error;
          },
        );
        const refs = got.records.flatMap(sampleImageRefs);
        if (refs.length === 0) {
          throw new UserInputError(
            `Reference model ${reference.ref} has no sample images to compare with; choose another model or a folder.`,
          );
        }
        return refs;
      }
    }
  };

  return {
    client,
    crawl: (selectionInput, optionsInput, hooks = {}) =>
      crawl(
        parseOrExplain(AuditSelection, selectionInput, 'selection'),
        parseOrExplain(AuditRunOptions, optionsInput ?? {}, 'options'),
        hooks,
      ),
    async audit(selectionInput, optionsInput, hooks = {}): Promise<AuditResult> {
      const selection = parseOrExplain(AuditSelection, selectionInput, 'audit selection');
      const options = parseOrExplain(AuditRunOptions, optionsInput ?? {}, 'audit options');
      // Stages stream: each model's images enter the pass as soon as its record is complete, while
      // later models are still crawled; the analyses (set-level steps) run once everything is in.
      const pass: ImagePass | undefined =
        extractors.length > 0
          ? startImagePass({
              extractors,
              fetcher: imageFetcher,
              cache: featureCache,
              concurrency: deps.imageConcurrency ?? 4,
              // Transient download failures are retried with the service clock's backoff.
              sleep: (ms, signal) => clock.sleep(ms, signal),
              signal: hooks.signal,
              logger: logger.child({ component: 'images' }),
              ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
            })
          : undefined;
      let collected: Collected;
      let images: ImagePassResult | undefined;
      try {
        const reference = await resolveReference(options, hooks);
        pass?.add(reference, 'reference');
        collected = await crawl(selection, options, hooks, (record) =>
          pass?.add(sampleImageRefs(record), 'images'),
        );
        images = await pass?.finish();
      } catch (error) {
        await pass?.cancel();
        throw error;
      }
      const notes = [...collected.notes];
      const unavailable = collected.records.filter((r) => r.comments.status === 'unavailable');
      if (unavailable.length > 0) {
        notes.push(
          `Comments and reviews were not read for ${unavailable.length} of ${collected.records.length} model(s): ${unavailable[0]?.comments.reason}.`,
        );
      }
      const outputs: AnalyzerOutput[] = [];
      const previous = new Map<string, AnalyzerOutput>();
      for (const [i, analyzer] of analyzers.entries()) {
        hooks.onProgress?.({ stage: 'scoring', done: i, total: analyzers.length, message: analyzer.name });
        const context: AnalysisContext = { ...(images ? { images } : {}), previous: new Map(previous) };
        const output = await analyzer.analyze(collected.records, hooks, options, context);
        outputs.push(output);
        previous.set(analyzer.name, output);
      }
      hooks.onProgress?.({ stage: 'scoring', done: analyzers.length, total: analyzers.length });
      return buildAuditResult({
        selection,
        options,
        records: collected.records,
        analyzers,
        outputs,
        notes,
        now: new Date(clock.now()),
      });
    },

    async searchModels(query, limit = 25, signal): Promise<ModelSearchHit[]> {
      const q = query.trim();
      if (q === '') return [];
      const page = await client.listModels(
        {
          types: DEFAULT_MODEL_TYPES,
          sort: 'Most Downloaded',
          period: 'AllTime',
          nsfw: false,
          baseModels: [],
          limit: Math.min(100, Math.max(1, limit)),
          query: q,
        },
        signal,
      );
      return page.items.slice(0, limit).map((m) => ({
        id: m.id,
        name: m.name,
        type: m.type,
        creator: m.creator?.username ?? null,
      }));
    },

    async fetchImage(url, signal): Promise<Buffer> {
      const got = await imageFetcher.fetch(url, signal);
      if (!got.ok) {
        throw new AppError(
          got.reason === 'host-not-allowed' ? ErrorCode.HOST_NOT_ALLOWED : ErrorCode.IMAGE_REFUSED,
          `Image refused (${got.reason}): ${url}`,
          { details: { url, reason: got.reason, detail: got.detail } },
        );
      }
      return Buffer.from(got.bytes);
    },

    async close() {
      await Promise.allSettled(analyzers.map((a) => a.close?.()));
      if (ownsDispatcher) await dispatcher.close();
    },
  };
}

const REFERENCE_EXTENSIONS = /\.(jpe?g|png|webp)$/i;

/** The JPEG/PNG/WebP files directly in `dir`, sorted by name, as pass inputs keyed `ref:<name>`. */
async function referenceFolder(dir: string): Promise<SampleImageRef[]> {
  const path = resolve(dir);
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new UserInputError(`The reference folder ${dir} does not exist.`, { path });
  if (!info.isDirectory()) throw new UserInputError(`The reference ${dir} is not a folder.`, { path });
  const entries = await readdir(path, { withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && REFERENCE_EXTENSIONS.test(e.name))
    .map((e) => e.name)
    .sort();
  if (files.length === 0) {
    throw new UserInputError(`The reference folder ${dir} has no JPEG, PNG or WebP images.`, { path });
  }
  return files.map((name) => ({
    key: `ref:${name}`,
    modelId: null,
    versionId: null,
    imageId: null,
    url: pathToFileURL(join(path, name)).href,
    prompt: null,
    width: null,
    height: null,
  }));
}

function parseOrExplain<S extends typeof AuditSelection | typeof AuditRunOptions>(
  schema: S,
  value: unknown,
  what: string,
): ReturnType<S['parse']> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UserInputError(
      `Invalid ${what}: ${issue?.path.join('.') || 'value'} — ${issue?.message ?? 'invalid'}.`,
    );
  }
  return result.data as ReturnType<S['parse']>;
}
