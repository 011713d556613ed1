import type { z } from 'zod';
import { AppError, type AppErrorOptions, ErrorCode, isAppError } from '../errors.ts';

/** Civitai answered with a non-success HTTP status (after retries, where retrying made sense). */
export class CivitaiHttpError extends AppError {
  readonly status: number;
  readonly url: string;
  readonly retryAfterMs: number | undefined;

  constructor(status: number, url: string, options: AppErrorOptions & { retryAfterMs?: number } = {}) {
    const code =
      status === 404
        ? ErrorCode.CIVITAI_NOT_FOUND
        : status === 401 || status === 403
          ? ErrorCode.CIVITAI_UNAUTHORIZED
          : status === 429
            ? ErrorCode.RATE_LIMITED
            : ErrorCode.CIVITAI_HTTP;
    super(code, `Civitai HTTP ${status} for ${url}`, {
      ...options,
      details: { status, url, ...options.details },
    });
    this.status = status;
    this.url = url;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Civitai's response did not match the schema loralens expects; names the first bad field. */
export class CivitaiSchemaError extends AppError {
  readonly url: string;
  readonly field: string;

  constructor(url: string, issues: readonly z.core.$ZodIssue[] | string, cause?: unknown) {
    const first = typeof issues === 'string' ? undefined : issues[0];
    const field = first ? first.path.map(String).join('.') || '(root)' : '(body)';
    const reason = typeof issues === 'string' ? issues : (first?.message ?? 'invalid');
    super(ErrorCode.CIVITAI_SCHEMA, `Unexpected Civitai response from ${url}: field "${field}": ${reason}`, {
      userMessage: `Civitai sent data loralens does not understand (field "${field}" at ${url}).`,
      details: { url, field, issues: typeof issues === 'string' ? [issues] : issues.slice(0, 10) },
      cause,
    });
    this.url = url;
    this.field = field;
  }
}

/** A transport failure: connection refused/reset, DNS, or a timeout. */
export class CivitaiNetworkError extends AppError {
  readonly url: string;
  constructor(url: string, timedOut: boolean, cause?: unknown) {
    super(
      timedOut ? ErrorCode.TIMEOUT : ErrorCode.NETWORK,
      `${timedOut ? 'Timed out' : 'Network failure'} fetching ${url}`,
      {
        cause,
        details: { url },
        userMessage: timedOut
          ? `Civitai did not answer in time (${url}).`
          : `Could not reach Civitai (${url}).`,
      },
    );
    this.url = url;
  }
}

/** Civitai sent a body over the limit for its endpoint; the read was stopped there. Never retried. */
export class CivitaiTooLargeError extends AppError {
  readonly url: string;
  readonly limitBytes: number;
  constructor(url: string, limitBytes: number, details: { bytesRead: number; declaredBytes?: number }) {
    super(ErrorCode.CIVITAI_TOO_LARGE, `Response from ${url} exceeds ${limitBytes} bytes`, {
      details: { url, limitBytes, ...details },
      userMessage: `Civitai sent more than ${formatBytes(limitBytes)} for ${url}, over loralens's limit for it; it was not read.`,
    });
    this.url = url;
    this.limitBytes = limitBytes;
  }
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${Math.round((n / 1024 / 1024) * 10) / 10} MiB` : `${n} bytes`;
}

/**
 * ABORTED when `signal` has fired. Crawl steps check it before each cache read or request: a cache
 * hit never reaches the HTTP layer, so without this a shutdown would not stop work served from cache.
 */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  if (isAppError(reason) && reason.code === ErrorCode.ABORTED) throw reason;
  throw new AppError(ErrorCode.ABORTED, 'The crawl was aborted', { cause: reason });
}
