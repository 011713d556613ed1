import PQueue from 'p-queue';
import { type Dispatcher, request, errors as undiciErrors } from 'undici';
import type { z } from 'zod';
import { AppError, ErrorCode, isAppError } from '../errors.ts';
import { type Clock, type Logger, silentLogger, systemClock } from '../ports.ts';
import { CivitaiHttpError, CivitaiNetworkError, CivitaiSchemaError, CivitaiTooLargeError } from './errors.ts';

export interface HttpClientOptions {
  /** The one undici dispatcher every request goes through (tests inject their own). */
  dispatcher: Dispatcher;
  /** Origin of the Civitai site/API, e.g. https://civitai.com; the API key is only ever sent there. */
  baseUrl: string;
  apiKey?: string | undefined;
  /** Requests in flight at once. */
  concurrency?: number;
  /** Requests started per second (token bucket via p-queue interval). */
  ratePerSecond?: number;
  /**
   * Limits for every other host (the storage hosts the download endpoint redirects to), one
   * limiter per origin, so the Civitai API's politeness limit never throttles them and they never
   * take the API's slots. Default: 8 at once, 50 per second per origin.
   */
  otherHosts?: { concurrency?: number; ratePerSecond?: number };
  /** Per-attempt timeout for headers and for body inactivity. */
  timeoutMs?: number;
  /** Total deadline for one logical request, retries and waits included. */
  deadlineMs?: number;
  maxRetries?: number;
  /** Upper bound of one backoff wait. */
  maxBackoffMs?: number;
  clock?: Clock;
  logger?: Logger;
  random?: () => number;
  userAgent?: string;
}

export interface RequestOptions {
  signal?: AbortSignal | undefined;
  headers?: Record<string, string>;
  /** Send the API key (only honoured for the Civitai origin). */
  auth?: boolean;
  /**
   * Read at most this many bytes, then abort the body (a server that ignores Range sends the whole
   * file). A function gets the prefix read so far and the status, and returns the bytes needed.
   */
  maxBytes?: number | ((prefix: Buffer, status: number) => number);
  /**
   * Refuse a success body larger than this: a Content-Length over it is refused before reading,
   * and a body that grows past it is aborted at that byte (CIVITAI_TOO_LARGE, not retried).
   * Error-status bodies are only read up to {@link ERROR_BODY_BYTES}.
   */
  maxBodyBytes?: number;
  /**
   * {@link HttpClient.getRaw} only: an error when the answer's body is short — it ended cleanly
   * (no Content-Length, or none to check) before the bytes the caller needs. The attempt is then a
   * transient failure, retried like a cut connection; the error is what the caller gets when every
   * try was short.
   */
  incomplete?: (res: RawResponse) => AppError | undefined;
}

/** How much of an error answer (4xx/5xx) is read: enough for its message, never a flood. */
export const ERROR_BODY_BYTES = 64 * 1024;

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  url: string;
}

const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524]);
const RETRYABLE_NET = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/**
 * Polite HTTP for Civitai: concurrency and rate limits, retries with exponential backoff and full
 * jitter for 429/5xx/timeouts/resets, `Retry-After` honoured, a total deadline per request.
 * Every failure ends as a typed AppError (CIVITAI_HTTP, CIVITAI_NOT_FOUND, CIVITAI_UNAUTHORIZED,
 * RATE_LIMITED, NETWORK, TIMEOUT, CIVITAI_SCHEMA, ABORTED).
 */
export class HttpClient {
  readonly origin: string;
  private readonly queue: PQueue;
  private readonly hostQueues = new Map<string, PQueue>();
  private readonly opts: Required<Omit<HttpClientOptions, 'apiKey' | 'otherHosts'>> & {
    apiKey: string | undefined;
    otherHosts: { concurrency: number; ratePerSecond: number };
  };

  constructor(options: HttpClientOptions) {
    this.origin = new URL(options.baseUrl).origin;
    this.opts = {
      concurrency: 4,
      ratePerSecond: 5,
      timeoutMs: 30_000,
      deadlineMs: 120_000,
      maxRetries: 5,
      maxBackoffMs: 30_000,
      clock: systemClock,
      logger: silentLogger,
      random: Math.random,
      userAgent: 'loralens/0.1 (+https://github.com/loralens)',
      ...options,
      apiKey: options.apiKey,
      otherHosts: {
        concurrency: options.otherHosts?.concurrency ?? 8,
        ratePerSecond: options.otherHosts?.ratePerSecond ?? 50,
      },
    };
    this.queue = new PQueue({
      concurrency: this.opts.concurrency,
      intervalCap: this.opts.ratePerSecond,
      interval: 1000,
    });
  }

  /** The limiter of `url`'s origin: the Civitai API's politeness limit, or that host's own. */
  private queueFor(url: string): PQueue {
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      return this.queue;
    }
    if (origin === this.origin) return this.queue;
    let queue = this.hostQueues.get(origin);
    if (!queue) {
      queue = new PQueue({
        concurrency: this.opts.otherHosts.concurrency,
        intervalCap: this.opts.otherHosts.ratePerSecond,
        interval: 1000,
      });
      this.hostQueues.set(origin, queue);
    }
    return queue;
  }

  /** Validate an already-parsed body with a schema (CIVITAI_SCHEMA on failure). */
  parse<S extends z.ZodType>(url: string, schema: S, body: unknown): z.infer<S> {
    const result = schema.safeParse(body);
    if (!result.success) throw new CivitaiSchemaError(url, result.error.issues);
    return result.data;
  }

  /** GET JSON without a schema (the caller validates); invalid JSON is retried, then CIVITAI_SCHEMA. */
  async getJsonUnknown(url: string, options: RequestOptions = {}): Promise<unknown> {
    return this.withRetries(url, options, async (signal) => {
      const res = await this.attempt(url, { ...options, signal }, { accept: 'application/json' });
      if (res.status < 200 || res.status >= 300) return { retry: false, response: res };
      try {
        return { value: JSON.parse(res.body.toString('utf8')) as unknown };
      } catch (cause) {
        return {
          retry: true,
          error: new CivitaiSchemaError(url, 'the body is not valid JSON (truncated?)', cause),
        };
      }
    });
  }

  /**
   * One GET that returns status, headers and (capped) body without following redirects; used for
   * Range reads and redirects the caller verifies. 5xx/429/network faults are retried, and so are
   * bodies `options.incomplete` finds short.
   */
  async getRaw(url: string, options: RequestOptions = {}): Promise<RawResponse> {
    return this.withRetries(url, options, async (signal) => {
      const res = await this.attempt(url, { ...options, signal }, {});
      if (RETRYABLE_STATUS.has(res.status)) return { retry: false, response: res };
      const short = options.incomplete?.(res);
      if (short !== undefined) return { retry: true, error: short };
      return { value: res };
    });
  }

  private async withRetries<T>(
    url: string,
    options: RequestOptions,
    run: (
      signal: AbortSignal,
    ) => Promise<{ value: T } | { retry: boolean; response: RawResponse } | { retry: true; error: AppError }>,
  ): Promise<T> {
    const { clock, logger } = this.opts;
    const started = clock.now();
    const deadline = started + this.opts.deadlineMs;
    let lastError: AppError | undefined;
    for (let attempt = 0; attempt <= this.opts.maxRetries; attempt++) {
      if (options.signal?.aborted) throw abortError(url, options.signal.reason);
      const remaining = deadline - clock.now();
      if (remaining <= 0) break;
      let outcome: Awaited<ReturnType<typeof run>>;
      // The attempt's timeout starts when the queue lets it run, not while it waits for a slot.
      let timer: AbortSignal | undefined;
      try {
        outcome = await this.queueFor(url).add(
          () => {
            timer = AbortSignal.timeout(Math.max(1, Math.min(deadline - clock.now(), this.opts.timeoutMs)));
            return run(anySignal(options.signal, timer));
          },
          { throwOnTimeout: true },
        );
      } catch (cause) {
        if (options.signal?.aborted) throw abortError(url, options.signal.reason);
        // Body-read failures arrive already typed (NETWORK/TIMEOUT) and are retried like any other.
        const transport = isAppError(cause) && (cause.code === 'NETWORK' || cause.code === 'TIMEOUT');
        if (isAppError(cause) && !transport) throw cause;
        const timedOut =
          timer?.aborted === true || isTimeout(cause) || (transport && cause.code === 'TIMEOUT');
        const raw = transport ? cause.cause : cause;
        lastError = transport ? cause : new CivitaiNetworkError(url, timedOut, cause);
        if (!timedOut && !isRetryableNetwork(raw)) throw lastError;
        logger.debug({ url, attempt, err: errCode(raw) }, 'civitai request failed, retrying');
        await this.backoff(attempt, undefined, deadline, options.signal, url);
        continue;
      }
      if ('value' in outcome) return outcome.value;
      if ('error' in outcome) {
        lastError = outcome.error;
        logger.debug({ url, attempt, err: outcome.error.code }, 'civitai answer unusable, retrying');
        await this.backoff(attempt, undefined, deadline, options.signal, url);
        continue;
      }
      const res = outcome.response;
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], clock.now());
      const bodyText = res.body.toString('utf8').slice(0, 500);
      const error = new CivitaiHttpError(res.status, url, {
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        details: { body: bodyText },
        ...httpUserMessage(res.status, url, bodyText),
      });
      const pagingMisuse = res.status === 429 && /too many pages/i.test(bodyText);
      if (!RETRYABLE_STATUS.has(res.status) || pagingMisuse) throw error;
      lastError = error;
      logger.debug({ url, attempt, status: res.status, retryAfterMs }, 'civitai answered retryable status');
      if (retryAfterMs !== undefined && clock.now() + retryAfterMs > deadline) break;
      await this.backoff(attempt, retryAfterMs, deadline, options.signal, url);
    }
    throw lastError ?? new CivitaiNetworkError(url, true);
  }

  private async backoff(
    attempt: number,
    retryAfterMs: number | undefined,
    deadline: number,
    signal: AbortSignal | undefined,
    url: string,
  ): Promise<void> {
    if (attempt >= this.opts.maxRetries) return;
    const exp = Math.min(this.opts.maxBackoffMs, 500 * 2 ** attempt);
    const jittered = Math.round(exp * this.opts.random());
    const wait = Math.min(
      Math.max(retryAfterMs ?? 0, jittered),
      Math.max(0, deadline - this.opts.clock.now()),
    );
    try {
      await this.opts.clock.sleep(wait, signal);
    } catch (reason) {
      throw abortError(url, reason);
    }
  }

  private async attempt(
    url: string,
    options: RequestOptions & { signal: AbortSignal },
    extraHeaders: Record<string, string>,
  ): Promise<RawResponse> {
    const target = new URL(url);
    const headers: Record<string, string> = {
      'user-agent': this.opts.userAgent,
      ...extraHeaders,
      ...options.headers,
    };
    if (options.auth !== false && this.opts.apiKey && target.origin === this.origin) {
      headers.authorization = `Bearer ${this.opts.apiKey}`;
    }
    const res = await request(target, {
      method: 'GET',
      headers,
      dispatcher: this.opts.dispatcher,
      signal: options.signal,
      headersTimeout: this.opts.timeoutMs,
      bodyTimeout: this.opts.timeoutMs,
    });
    const cap = options.maxBodyBytes;
    if (cap === undefined) {
      const body = await readCapped(res.body, options.maxBytes, url, res.statusCode);
      return { status: res.statusCode, headers: res.headers, body, url };
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const body = await readCapped(res.body, ERROR_BODY_BYTES, url, res.statusCode);
      return { status: res.statusCode, headers: res.headers, body, url };
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > cap) {
      res.body.destroy();
      throw new CivitaiTooLargeError(url, cap, { declaredBytes: declared, bytesRead: 0 });
    }
    const body = await readLimited(res.body, cap, url);
    return { status: res.statusCode, headers: res.headers, body, url };
  }
}

/** Read a body up to `maxBytes`; beyond it the stream is destroyed and only the prefix is kept. */
export async function readCapped(
  body: Dispatcher.ResponseData['body'],
  maxBytes: RequestOptions['maxBytes'],
  url: string,
  status = 200,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  let fixedLimit =
    typeof maxBytes === 'number' ? maxBytes : maxBytes === undefined ? Number.POSITIVE_INFINITY : undefined;
  const limit = (): number => {
    if (fixedLimit !== undefined) return fixedLimit;
    const need = (maxBytes as (prefix: Buffer, status: number) => number)(
      Buffer.concat(chunks, size),
      status,
    );
    if (Number.isFinite(need)) fixedLimit = need;
    return need;
  };
  const result = (): Buffer => {
    const all = Buffer.concat(chunks, size);
    return all.length > limit() ? all.subarray(0, limit()) : all;
  };
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= limit()) {
        body.destroy();
        break;
      }
    }
  } catch (cause) {
    if (size >= limit()) return result();
    throw new CivitaiNetworkError(url, isTimeout(cause), cause);
  }
  return result();
}

/**
 * Read a whole body of at most `cap` bytes; one byte more aborts the stream and throws
 * CIVITAI_TOO_LARGE (with the bytes read), so an oversized answer never sits in memory.
 */
export async function readLimited(
  body: Dispatcher.ResponseData['body'],
  cap: number,
  url: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > cap) {
        body.destroy();
        throw new CivitaiTooLargeError(url, cap, { bytesRead: size });
      }
      chunks.push(chunk as Buffer);
    }
  } catch (cause) {
    if (isAppError(cause)) throw cause;
    throw new CivitaiNetworkError(url, isTimeout(cause), cause);
  }
  return Buffer.concat(chunks, size);
}

function httpUserMessage(status: number, url: string, body: string): { userMessage: string } {
  if (status === 404) return { userMessage: `Civitai has no such item (${url}).` };
  if (status === 401 || status === 403) {
    return { userMessage: `Civitai refused access (${status}); an API key may be needed (CIVITAI_API_KEY).` };
  }
  if (status === 429 && /too many pages/i.test(body)) {
    return { userMessage: 'Civitai refused deep page-based paging; loralens must use cursors.' };
  }
  if (status === 429) return { userMessage: 'Civitai kept rate-limiting the requests; try again later.' };
  return { userMessage: `Civitai answered HTTP ${status} (${url}).` };
}

/** `Retry-After` as seconds or an HTTP date → milliseconds from now. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal {
  const real = signals.filter((s): s is AbortSignal => s !== undefined);
  return real.length === 1 ? real[0]! : AbortSignal.any(real);
}

function abortError(url: string, reason: unknown): AppError {
  return new AppError(ErrorCode.ABORTED, `Request aborted: ${url}`, { cause: reason, details: { url } });
}

function errCode(cause: unknown): string | undefined {
  if (typeof cause !== 'object' || cause === null) return undefined;
  const c = cause as { code?: unknown; cause?: { code?: unknown } };
  if (typeof c.code === 'string') return c.code;
  if (typeof c.cause?.code === 'string') return c.cause.code;
  return undefined;
}

function isTimeout(cause: unknown): boolean {
  if (cause instanceof undiciErrors.HeadersTimeoutError || cause instanceof undiciErrors.BodyTimeoutError)
    return true;
  const name = (cause as { name?: unknown } | null)?.name;
  const code = errCode(cause);
  return name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

function isRetryableNetwork(cause: unknown): boolean {
  const code = errCode(cause);
  return (
    code === undefined || RETRYABLE_NET.has(code) || (cause as { name?: unknown })?.name === 'AbortError'
  );
}
