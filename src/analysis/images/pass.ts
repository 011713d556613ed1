import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { ModelRecord } from '../civitai/record.ts';
import { AppError, ErrorCode, isAppError } from '../errors.ts';
import { type Logger, type ProgressListener, silentLogger } from '../ports.ts';
import { CLIP_IMAGE_SIZE } from './clip-preprocess.ts';
import { type DecodedImage, type DecodeLimits, decodeImage } from './decode.ts';
import type {
  ImageFeatureCache,
  ImageFeatureExtractor,
  ImageFeatureRecord,
  ImagePassResult,
  SampleImageRef,
} from './features.ts';
import { type ImageFetcher, type ImageSkip, ImageSkipReason, skip } from './types.ts';

/**
 * An extractor whose work is cheapest in batches (CLIP's image tower): the pass prepares each image's
 * input right after the decode (so the pixels can be dropped) and runs `run` on up to `size` inputs at
 * once. `extract` stays usable on its own.
 */
export interface BatchedImageFeatureExtractor<P = unknown, T = unknown> extends ImageFeatureExtractor<T> {
  readonly batch: {
    readonly size: number;
    prepare(image: DecodedImage, ref: SampleImageRef): P;
    run(inputs: readonly P[], signal?: AbortSignal): Promise<T[]>;
  };
}

/** What the pass accepts: plain or batched extractors, optionally able to say they cannot run here. */
export type PassExtractor = (ImageFeatureExtractor | BatchedImageFeatureExtractor) & {
  /** false: leave this extractor out of the pass (e.g. CLIP without its model files). */
  available?(): Promise<boolean>;
};

function isBatched(e: ImageFeatureExtractor): e is BatchedImageFeatureExtractor {
  return typeof (e as Partial<BatchedImageFeatureExtractor>).batch === 'object';
}

/** Per-image events, in the order they happen (progress, tests of the streaming order). */
export type ImagePassEvent =
  | { kind: 'fetched'; key: string }
  | { kind: 'decoded'; key: string }
  | { kind: 'done'; key: string; record: ImageFeatureRecord };

export interface ImagePassOptions {
  extractors: readonly PassExtractor[];
  fetcher: ImageFetcher;
  cache?: ImageFeatureCache | undefined;
  /** Images downloaded/decoded at the same time (default 4). */
  concurrency?: number;
  decodeLimits?: DecodeLimits;
  /** Smallest short side of the rendition asked from the CDN (default CLIP's 224). */
  minShortSide?: number;
  signal?: AbortSignal | undefined;
  logger?: Logger;
  onProgress?: ProgressListener;
  onEvent?: (event: ImagePassEvent) => void;
  /**
   * Extra attempts for a download that failed transiently (network error, timeout, HTTP 429 or 5xx),
   * with exponential backoff from 250 ms (default 3, like the API client's retries).
   */
  retries?: number;
  /** Backoff wait (tests inject a fast one). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const TRANSIENT_STATUS = /^HTTP (429|5\d\d) /;

/** A transient download failure is worth another attempt; refusals and bad bodies are not. */
export function isTransientImageFailure(skipped: { reason: string; detail: string }): boolean {
  return (
    skipped.reason === ImageSkipReason.NETWORK ||
    skipped.reason === ImageSkipReason.TIMEOUT ||
    (skipped.reason === ImageSkipReason.HTTP_STATUS && TRANSIENT_STATUS.test(skipped.detail))
  );
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

async function fetchWithRetries(
  fetcher: ImageFetcher,
  ref: SampleImageRef,
  o: {
    minShortSide: number;
    signal: AbortSignal | undefined;
    retries: number;
    sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  },
): Promise<Awaited<ReturnType<ImageFetcher['fetch']>>> {
  for (let attempt = 0; ; attempt++) {
    const got = await fetcher.fetch(ref.url, o.signal, {
      width: ref.width,
      height: ref.height,
      minShortSide: o.minShortSide,
    });
    if (got.ok || attempt >= o.retries || !isTransientImageFailure(got)) {
      if (!got.ok && attempt > 0) return { ...got, detail: `${got.detail} (after ${attempt + 1} attempts)` };
      return got;
    }
    await o.sleep(250 * 2 ** attempt, o.signal);
  }
}

/** A running pass: images are added while the crawl goes on; `finish` waits for all of them. */
export interface ImagePass {
  add(refs: readonly SampleImageRef[], target?: 'images' | 'reference'): void;
  /** No more images: resolves once every image is done (rejects with the first fatal error, e.g. ABORTED). */
  finish(): Promise<ImagePassResult>;
  /** Stop taking work and wait for what is in flight (after a crawl failure); never rejects. */
  cancel(): Promise<void>;
}

// The decoded size is cached with the features, so a fully cached image needs no decode at all.
const SIZE_ENTRY = { name: 'image-size', version: '1' } as const;
const sizeSchema = z.object({ width: z.number().int().positive(), height: z.number().int().positive() });

interface Job {
  ref: SampleImageRef;
  target: 'images' | 'reference';
  /** The URL as requested (the CDN rendition chosen by the fetcher, or the file URL): the cache key. */
  url: string;
  /** This image's cached results: entry `index` of its group's lookup, started when it was added. */
  cached?: { lookup: Promise<CachedImage[]>; index: number };
}

/** What the cache holds for one image: the extractors' values, those still to compute, the decoded size. */
interface CachedImage {
  features: Record<string, unknown>;
  missing: PassExtractor[];
  size: z.infer<typeof sizeSchema> | undefined;
}

/**
 * Images whose cached results are read in one store round trip. A warm top-200 audit looked up
 * 3 591 images × 6 entries one key at a time (21 546 queries, 4.2 s of its 8 s); per group of
 * this many images it is one query per model's batch of images.
 */
export const CACHE_LOOKUP_GROUP = 64;

interface Waiting<P> {
  input: P;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * One synchronous step per event-loop iteration: each call resolves in its own `setImmediate` turn,
 * after the previous caller's. The per-image extractors and CLIP's preprocessing are synchronous
 * JavaScript (saliency and colour take 5–30 ms on a 512-px image on an idle core, several times that
 * under load); run back to back for the images in flight, they held the loop for their sum and pushed
 * the event-loop p99 of a cold audit past 50 ms. Taking turns keeps each stretch to one extractor on
 * one image, with timers, sockets and worker replies served in between.
 */
export function turnTaker(): () => Promise<void> {
  let last: Promise<void> = Promise.resolve();
  return () => {
    const mine = last.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    last = mine;
    return mine;
  };
}

function errorText(error: unknown): string {
  if (isAppError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AppError(ErrorCode.ABORTED, 'Image pass aborted', { cause: signal.reason });
}

/** A promise that can be awaited repeatedly and woken by `notify`. */
function wakeBox(): { wait(): Promise<void>; notify(): void } {
  let waiters: Array<() => void> = [];
  return {
    wait: () => new Promise<void>((r) => waiters.push(r)),
    notify: () => {
      const w = waiters;
      waiters = [];
      for (const r of w) r();
    },
  };
}

/**
 * Read a reference image from disk (`file://` URL) under the same byte limit as downloads; a missing
 * or unreadable file is a skip, not a throw.
 */
export async function readImageFile(
  url: string,
  maxBytes = 20 * 1024 * 1024,
): Promise<Uint8Array | ImageSkip> {
  try {
    const path = fileURLToPath(url);
    const info = await stat(path);
    if (!info.isFile()) return skip(ImageSkipReason.NOT_IMAGE, 'not a regular file');
    if (info.size > maxBytes)
      return skip(ImageSkipReason.TOO_LARGE_BYTES, `${info.size} bytes > ${maxBytes}`);
    return new Uint8Array(await readFile(path));
  } catch (error) {
    return skip(ImageSkipReason.NETWORK, `cannot read ${url}: ${errorText(error)}`);
  }
}

/**
 * Start the one image pass: each image is downloaded (or read from disk) once and decoded once, and
 * that decode feeds every extractor; results are cached per (requested URL, extractor, version), so a
 * fully cached image is neither downloaded nor decoded. An extractor that throws fails for that image
 * only (listed in `failed`); fetch/decode refusals are per-image skips. Fatal: ABORTED (signal),
 * STORAGE_IO (cache), and errors thrown by the fetcher itself.
 */
export function startImagePass(options: ImagePassOptions): ImagePass {
  const logger = options.logger ?? silentLogger;
  const concurrency = Math.max(1, Math.min(64, Math.floor(options.concurrency ?? 4)));
  const minShortSide = options.minShortSide ?? CLIP_IMAGE_SIZE;
  const retries = options.retries ?? 3;
  const sleep = options.sleep ?? defaultSleep;
  const { fetcher, cache } = options;
  const internal = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, internal.signal]) : internal.signal;

  const queue: Job[] = [];
  const seen = new Set<string>();
  const images = new Map<string, ImageFeatureRecord>();
  const reference = new Map<string, ImageFeatureRecord>();
  const stats = { images: 0, decoded: 0, cacheHits: 0, skipped: 0 };
  let closed = false;
  let cancelled = false;
  let failure: { error: unknown } | undefined;
  let inFlight = 0;
  let added = 0;
  let done = 0;
  const wake = wakeBox();
  const nextTurn = turnTaker();

  // Which extractors run at all is settled once, before the first image.
  const ready = (async () => {
    const checks = await Promise.all(
      options.extractors.map(async (e) => (e.available ? e.available() : true)),
    );
    const active = options.extractors.filter((_, i) => checks[i]);
    const names = new Set<string>();
    for (const e of active) {
      if (names.has(e.name) || e.name === SIZE_ENTRY.name) {
        throw new AppError(ErrorCode.INTERNAL, `Two image extractors are named ${e.name}`);
      }
      names.add(e.name);
    }
    return active;
  })();

  // One queue per batched extractor; its runner drains full batches, or a partial one when the pass idles.
  const batchQueues = new Map<string, Waiting<unknown>[]>();
  const runners: Promise<void>[] = [];
  // Nothing more can reach the batch queues until more images are added (or ever, once closed).
  const idle = (): boolean => inFlight === 0 && (queue.length === 0 || failure !== undefined || cancelled);
  const tails: Promise<void>[] = [];
  const startRunner = (e: BatchedImageFeatureExtractor): void => {
    const pending: Waiting<unknown>[] = [];
    batchQueues.set(e.name, pending);
    runners.push(
      (async () => {
        for (;;) {
          const full = pending.length >= e.batch.size;
          const drain = pending.length > 0 && idle();
          if (full || drain) {
            const batch = pending.splice(0, e.batch.size);
            wake.notify();
            try {
              checkAbort(signal);
              const out = await e.batch.run(
                batch.map((b) => b.input),
                signal,
              );
              if (out.length !== batch.length) {
                throw new AppError(
                  ErrorCode.MODEL_INVALID,
                  `${e.name} returned ${out.length} results for ${batch.length} inputs`,
                );
              }
              for (const [k, b] of batch.entries()) b.resolve(out[k]);
            } catch (error) {
              for (const b of batch) b.reject(error);
            }
            continue;
          }
          if ((closed || cancelled || failure) && idle() && pending.length === 0) return;
          await wake.wait();
        }
      })(),
    );
  };

  const record = (job: Job, value: ImageFeatureRecord): void => {
    (job.target === 'reference' ? reference : images).set(job.ref.key, value);
    if (value.status === 'skipped') stats.skipped += 1;
    done += 1;
    options.onEvent?.({ kind: 'done', key: job.ref.key, record: value });
    // A sub-stage of the crawl for the progress line (it runs while models are still being fetched).
    options.onProgress?.({ stage: 'images', done, total: added, message: `image pass ${done}/${added}` });
  };

  // Every extractor's cached result and the decoded size of a group of images, in one store round trip.
  const readCachedGroup = async (jobs: readonly Job[]): Promise<CachedImage[]> => {
    const active = await ready;
    const wanted = [...active, { ...SIZE_ENTRY, schema: sizeSchema }];
    const raw = cache
      ? await cache.getMany(
          jobs.flatMap((job) => wanted.map((e) => ({ url: job.url, extractor: e.name, version: e.version }))),
        )
      : [];
    return jobs.map((_, j) => {
      const features: Record<string, unknown> = {};
      const missing: PassExtractor[] = [];
      let size: z.infer<typeof sizeSchema> | undefined;
      for (const [i, e] of wanted.entries()) {
        const value = raw[j * wanted.length + i];
        const parsed = value === undefined ? undefined : (e.schema ?? z.unknown()).safeParse(value);
        const hit = parsed?.success === true;
        if (i === active.length) size = hit ? (parsed.data as z.infer<typeof sizeSchema>) : undefined;
        else if (hit) features[e.name] = parsed.data;
        else missing.push(e as PassExtractor);
      }
      return { features, missing, size };
    });
  };

  const processImage = async (job: Job, active: readonly PassExtractor[]): Promise<void> => {
    const { ref } = job;
    // No extractor can run here (e.g. no CLIP model files): nothing is downloaded or decoded.
    if (active.length === 0) return;
    const { url } = job;
    const isFile = url.startsWith('file:');
    const failed: Record<string, string> = {};
    const { features, missing, size } = job.cached
      ? (await job.cached.lookup)[job.cached.index]!
      : { features: {}, missing: [...active], size: undefined };
    if (missing.length === 0 && size) {
      const { width, height } = size;
      stats.cacheHits += 1;
      record(job, { ref, status: 'ok', width, height, features, failed, cached: true });
      return;
    }
    checkAbort(signal);
    let bytes: Uint8Array;
    if (isFile) {
      const got = await readImageFile(url, options.decodeLimits?.maxBytes);
      if (!(got instanceof Uint8Array))
        return record(job, { ref, status: 'skipped', reason: got.reason, detail: got.detail });
      bytes = got;
    } else {
      const got = await fetchWithRetries(fetcher, ref, { minShortSide, signal, retries, sleep });
      if (!got.ok) return record(job, { ref, status: 'skipped', reason: got.reason, detail: got.detail });
      bytes = got.bytes;
    }
    options.onEvent?.({ kind: 'fetched', key: ref.key });
    checkAbort(signal);
    const decoded = await decodeImage(bytes, options.decodeLimits);
    if (!decoded.ok)
      return record(job, { ref, status: 'skipped', reason: decoded.reason, detail: decoded.detail });
    stats.decoded += 1;
    options.onEvent?.({ kind: 'decoded', key: ref.key });
    const { width, height } = decoded;
    if (cache) await cache.set(url, SIZE_ENTRY.name, SIZE_ENTRY.version, { width, height });
    const batched: Array<Promise<void>> = [];
    for (const e of missing) {
      const store = async (value: unknown): Promise<void> => {
        features[e.name] = value;
        if (cache) await cache.set(url, e.name, e.version, value);
      };
      try {
        await nextTurn();
        checkAbort(signal);
        if (isBatched(e)) {
          const input = e.batch.prepare(decoded, ref);
          const pending = batchQueues.get(e.name)!;
          while (pending.length >= e.batch.size * 2 && !failure) await wake.wait();
          batched.push(
            new Promise<unknown>((resolve, reject) => {
              pending.push({ input, resolve, reject });
              wake.notify();
            }).then(store, (error: unknown) => {
              if (isAppError(error) && error.code === ErrorCode.ABORTED) throw error;
              failed[e.name] = errorText(error);
            }),
          );
        } else {
          await store(await e.extract(decoded, ref, signal));
        }
      } catch (error) {
        if (isAppError(error) && (error.code === ErrorCode.ABORTED || error.code === ErrorCode.STORAGE_IO))
          throw error;
        logger.debug({ key: ref.key, extractor: e.name, err: errorText(error) }, 'image extractor failed');
        failed[e.name] = errorText(error);
      }
    }
    // The pixels are not needed past this point; only batched inputs (e.g. 224² tensors) remain queued.
    const finishRecord = Promise.all(batched).then(() =>
      record(job, { ref, status: 'ok', width, height, features, failed, cached: false }),
    );
    // The worker moves on to the next image while the batch runs; completion is awaited in finish().
    tails.push(
      finishRecord.catch((error: unknown) => {
        failure ??= { error };
        wake.notify();
      }),
    );
  };

  const worker = async (): Promise<void> => {
    const active = await ready;
    for (;;) {
      if (failure || cancelled) return;
      const job = queue.shift();
      if (!job) {
        if (closed) return;
        await wake.wait();
        continue;
      }
      inFlight += 1;
      try {
        checkAbort(signal);
        await processImage(job, active);
      } catch (error) {
        failure ??= { error };
      } finally {
        inFlight -= 1;
        wake.notify();
      }
    }
  };

  const started = ready.then((active) => {
    for (const e of active) if (isBatched(e)) startRunner(e);
  });
  const workers = started.then(() => Promise.all(Array.from({ length: concurrency }, worker)));
  const onAbort = (): void => wake.notify();
  signal.addEventListener('abort', onAbort, { once: true });

  const settle = async (): Promise<void> => {
    try {
      await workers;
    } catch (error) {
      failure ??= { error };
    }
    wake.notify();
    await Promise.all(tails);
    wake.notify();
    await Promise.all(runners);
    signal.removeEventListener('abort', onAbort);
  };

  return {
    add(refs, target = 'images') {
      if (closed) throw new AppError(ErrorCode.INTERNAL, 'Image pass: add() after finish()');
      const jobs: Job[] = [];
      for (const ref of refs) {
        const id = `${target}\u0000${ref.key}`;
        if (seen.has(id)) continue;
        seen.add(id);
        const url = ref.url.startsWith('file:')
          ? ref.url
          : fetcher.requestUrl(ref.url, { width: ref.width, height: ref.height, minShortSide });
        jobs.push({ ref, target, url });
        added += 1;
        stats.images += 1;
      }
      if (cache) {
        for (let i = 0; i < jobs.length; i += CACHE_LOOKUP_GROUP) {
          const group = jobs.slice(i, i + CACHE_LOOKUP_GROUP);
          const lookup = readCachedGroup(group);
          // A failed read (STORAGE_IO) surfaces when a worker takes the image; until then it is not unhandled.
          lookup.catch(() => undefined);
          for (const [index, job] of group.entries()) job.cached = { lookup, index };
        }
      }
      queue.push(...jobs);
      wake.notify();
    },
    async finish() {
      closed = true;
      wake.notify();
      await settle();
      if (failure) throw failure.error;
      checkAbort(options.signal);
      logger.info(stats, 'image pass done');
      return { images, reference, stats: { ...stats } };
    },
    async cancel() {
      cancelled = true;
      closed = true;
      queue.length = 0;
      internal.abort();
      wake.notify();
      await settle().catch(() => undefined);
    },
  };
}

/** `SampleImageRef.key` of a Civitai sample image. */
export function sampleImageKey(modelId: number, imageId: number): string {
  return `${modelId}:${imageId}`;
}

/** The still sample images of a crawled model (videos are not decoded), in record order. */
export function sampleImageRefs(record: ModelRecord): SampleImageRef[] {
  return record.versions.flatMap((v) =>
    v.images
      .filter((im) => im.kind === 'image')
      .map((im) => ({
        key: sampleImageKey(record.id, im.id),
        modelId: record.id,
        versionId: v.id,
        imageId: im.id,
        url: im.url,
        prompt: im.prompt,
        width: im.width ?? null,
        height: im.height ?? null,
      })),
  );
}

/** Run the pass over a fixed set of images (and reference images) and wait for it. */
export function runImagePass(
  options: ImagePassOptions,
  images: readonly SampleImageRef[],
  reference: readonly SampleImageRef[] = [],
): Promise<ImagePassResult> {
  const pass = startImagePass(options);
  pass.add(images, 'images');
  pass.add(reference, 'reference');
  return pass.finish();
}
