import PQueue from 'p-queue';
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import { AppError, ErrorCode } from '../errors.ts';
import {
  boundCivitaiImageWidth,
  cdnWidthForShortSide,
  DEFAULT_CDN_WIDTH,
  isCivitaiImageHost,
} from './civitai-cdn.ts';
import {
  type FetchedImage,
  type ImageFetcher,
  type ImageFetchOptions,
  type ImageSkip,
  ImageSkipReason,
  skip,
} from './types.ts';

export interface ImageFetcherOptions {
  /** The one HTTP dispatcher of the process (timeouts, connection pool); tests pass a loopback agent. */
  dispatcher: Dispatcher;
  /** Extra allowed origins, e.g. the configured CIVITAI_BASE_URL origin (`http://127.0.0.1:PORT` in tests). */
  extraAllowedOrigins?: readonly string[];
  /** Body size cap in bytes (default 20 MiB). */
  maxBytes?: number;
  /** Whole-request deadline per hop in ms (default 20 s). */
  timeoutMs?: number;
  /** Redirects followed, each re-checked against the allow-list (default 3). */
  maxRedirects?: number;
  /**
   * Width requested from Civitai's CDN (default 512; wider for panoramas when the caller gives a minimum
   * short side); null keeps URLs as given.
   */
  cdnWidth?: number | null;
  /**
   * Downloads in flight at once per image host (default 8). The image CDN has its own limiter:
   * the Civitai API's politeness limit (HttpClient) never throttles it, and it never takes the
   * API's slots.
   */
  concurrencyPerHost?: number;
}

const REDIRECT = new Set([301, 302, 303, 307, 308]);

function normaliseOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    throw new AppError(ErrorCode.CONFIG_INVALID, `Not an origin: ${origin}`, { userFault: true });
  }
}

/** Whether `url` may be downloaded: https Civitai image hosts on the default port, or an extra origin. */
export function isAllowedImageUrl(url: URL, extraOrigins: ReadonlySet<string>): boolean {
  if (url.username || url.password) return false;
  if (extraOrigins.has(url.origin)) return true;
  return url.protocol === 'https:' && url.port === '' && isCivitaiImageHost(url.hostname);
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new AppError(ErrorCode.CONFIG_INVALID, `${name} must be a positive integer`, {
      details: { [name]: value },
    });
  }
  return value;
}

/**
 * Create the image fetcher: allow-listed hosts only, redirects followed by hand and re-checked, size cap
 * enforced on the header and while streaming, per-hop deadline, refusal of SVG/video/HTML content types.
 * Expected failures come back as {@link ImageSkip}; throws ABORTED when the caller's signal fires.
 */
export function createImageFetcher(options: ImageFetcherOptions): ImageFetcher {
  const extra = new Set((options.extraAllowedOrigins ?? []).map(normaliseOrigin));
  const maxBytes = positiveInt('maxBytes', options.maxBytes ?? 20 * 1024 * 1024);
  const timeoutMs = positiveInt('timeoutMs', options.timeoutMs ?? 20_000);
  const maxRedirects = options.maxRedirects ?? 3;
  const cdnWidth = options.cdnWidth === undefined ? DEFAULT_CDN_WIDTH : options.cdnWidth;
  const perHost = positiveInt('concurrencyPerHost', options.concurrencyPerHost ?? 8);
  const hostQueues = new Map<string, PQueue>();
  const queueFor = (origin: string): PQueue => {
    let q = hostQueues.get(origin);
    if (!q) {
      q = new PQueue({ concurrency: perHost });
      hostQueues.set(origin, q);
    }
    return q;
  };

  const requestUrl = (start: string, perImage: ImageFetchOptions = {}): string => {
    if (cdnWidth === null) return start;
    const width =
      perImage.minShortSide === undefined
        ? cdnWidth
        : cdnWidthForShortSide(perImage.width, perImage.height, perImage.minShortSide, cdnWidth);
    return boundCivitaiImageWidth(start, width);
  };

  const fetchOnce = async (
    start: string,
    signal?: AbortSignal,
    perImage: ImageFetchOptions = {},
  ): Promise<FetchedImage | ImageSkip> => {
    let current = requestUrl(start, perImage);
    for (let hop = 0; hop <= maxRedirects; hop++) {
      let url: URL;
      try {
        url = new URL(current);
      } catch {
        return skip(ImageSkipReason.HOST_NOT_ALLOWED, `not a URL: ${current.slice(0, 200)}`);
      }
      if (!isAllowedImageUrl(url, extra)) {
        return skip(ImageSkipReason.HOST_NOT_ALLOWED, `${url.origin} is not an allowed image host`);
      }
      const answer = await queueFor(url.origin).add(() => fetchHop(url, signal), { throwOnTimeout: true });
      if ('redirect' in answer) {
        current = answer.redirect;
        continue;
      }
      return answer;
    }
    return skip(ImageSkipReason.TOO_MANY_REDIRECTS, `more than ${maxRedirects} redirects`);
  };

  /** One request and its body, inside its host's limiter (the slot is held until the body is read). */
  const fetchHop = async (
    url: URL,
    signal: AbortSignal | undefined,
  ): Promise<FetchedImage | ImageSkip | { redirect: string }> => {
    const deadline = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: 'GET',
        dispatcher: options.dispatcher,
        signal: combined,
        headers: { accept: 'image/avif,image/webp,image/png,image/jpeg,image/gif;q=0.9,*/*;q=0.1' },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (error) {
      if (signal?.aborted) throw new AppError(ErrorCode.ABORTED, 'Image download aborted', { cause: error });
      if (deadline.aborted)
        return skip(ImageSkipReason.TIMEOUT, `no answer from ${url.host} in ${timeoutMs} ms`);
      return skip(ImageSkipReason.NETWORK, `${url.host}: ${(error as Error).message}`);
    }
    // Late errors from a body we stop reading are expected; they must not become uncaught.
    res.body.on('error', () => {});
    const header = (name: string): string | null => {
      const v = res.headers[name];
      return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
    };
    if (REDIRECT.has(res.statusCode)) {
      await res.body.dump().catch(() => undefined);
      const location = header('location');
      if (!location) return skip(ImageSkipReason.HTTP_STATUS, `${res.statusCode} without Location`);
      return { redirect: new URL(location, url).toString() };
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump().catch(() => undefined);
      return skip(ImageSkipReason.HTTP_STATUS, `HTTP ${res.statusCode} from ${url.host}`);
    }
    const contentType = header('content-type');
    const ct = (contentType ?? '').toLowerCase();
    const refuse = ct.startsWith('video/')
      ? skip(ImageSkipReason.VIDEO, `content-type ${ct}`)
      : ct.startsWith('image/svg')
        ? skip(ImageSkipReason.SVG, `content-type ${ct}`)
        : ct.startsWith('text/') || ct.includes('json')
          ? skip(ImageSkipReason.NOT_IMAGE, `content-type ${ct}`)
          : null;
    const declared = Number.parseInt(header('content-length') ?? '', 10);
    if (refuse || (Number.isFinite(declared) && declared > maxBytes)) {
      await res.body.dump({ limit: 0 }).catch(() => undefined);
      return refuse ?? skip(ImageSkipReason.TOO_LARGE_BYTES, `content-length ${declared} > ${maxBytes}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          res.body.destroy();
          return skip(ImageSkipReason.TOO_LARGE_BYTES, `body exceeds ${maxBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      if (signal?.aborted) throw new AppError(ErrorCode.ABORTED, 'Image download aborted', { cause: error });
      if (deadline.aborted) return skip(ImageSkipReason.TIMEOUT, `body from ${url.host} too slow`);
      return skip(ImageSkipReason.NETWORK, `${url.host}: ${(error as Error).message}`);
    }
    const body = Buffer.concat(chunks, size);
    return {
      ok: true,
      finalUrl: url.toString(),
      contentType,
      bytes: new Uint8Array(body.buffer, body.byteOffset, size),
    };
  };

  return { fetch: fetchOnce, requestUrl };
}
