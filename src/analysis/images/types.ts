import { z } from 'zod';

/** Why an image was not scored; recorded per image in the audit outputs. */
export const ImageSkipReason = {
  HOST_NOT_ALLOWED: 'host-not-allowed',
  HTTP_STATUS: 'http-status',
  NETWORK: 'network',
  TIMEOUT: 'timeout',
  TOO_LARGE_BYTES: 'too-large-bytes',
  TOO_MANY_PIXELS: 'too-many-pixels',
  SVG: 'svg',
  VIDEO: 'video',
  NOT_IMAGE: 'not-image',
  UNSUPPORTED_FORMAT: 'unsupported-format',
  TRUNCATED: 'truncated',
  DECODE_ERROR: 'decode-error',
  NO_PROMPT: 'no-prompt',
  TOO_MANY_REDIRECTS: 'too-many-redirects',
} as const;
export type ImageSkipReason = (typeof ImageSkipReason)[keyof typeof ImageSkipReason];

export const imageSkipReasonSchema = z.enum(
  Object.values(ImageSkipReason) as [ImageSkipReason, ...ImageSkipReason[]],
);

/** An image that was refused or failed, with a human-readable detail for logs and CSV. */
export interface ImageSkip {
  ok: false;
  reason: ImageSkipReason;
  detail: string;
}

export function skip(reason: ImageSkipReason, detail: string): ImageSkip {
  return { ok: false, reason, detail };
}

export interface FetchedImage {
  ok: true;
  /** The URL actually fetched (after the CDN width rewrite and redirects). */
  finalUrl: string;
  contentType: string | null;
  bytes: Uint8Array;
}

/** Downloads one image under the allow-list and limits; expected failures are results, not throws. */
export interface ImageFetcher {
  fetch(url: string, signal?: AbortSignal, options?: ImageFetchOptions): Promise<FetchedImage | ImageSkip>;
  /** The URL `fetch` requests first (after the CDN width rewrite): what was downloaded, for cache keys. */
  requestUrl(url: string, options?: ImageFetchOptions): string;
}

/** What is known of an image before downloading it, so the CDN rendition can be chosen. */
export interface ImageFetchOptions {
  /** Original size from Civitai's metadata (null or < 1: unknown). */
  width?: number | null | undefined;
  height?: number | null | undefined;
  /** The rendition's shorter side must be at least this (CLIP: 224); wide images are asked for wider. */
  minShortSide?: number;
}
