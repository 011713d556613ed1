import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';
import { z } from 'zod';
import { AppError, ErrorCode, isAppError } from '../errors.ts';
import type { HttpClient, RawResponse } from './http.ts';

/** The reference implementation rejects headers above 100 MB (huggingface/safetensors MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;

export const SafetensorsHeader = z.object({
  /** The `__metadata__` string→string map, or null when the file has none. */
  metadata: z.record(z.string(), z.string()).nullable(),
  tensorCount: z.number().int().nonnegative(),
  headerBytes: z.number().int().nonnegative(),
});
export type SafetensorsHeader = z.infer<typeof SafetensorsHeader>;

function invalid(message: string, details: Record<string, unknown> = {}): AppError {
  return new AppError(ErrorCode.SAFETENSORS_INVALID, message, {
    details,
    userMessage: `The file is not a valid safetensors file: ${message}.`,
  });
}

/** Decode the little-endian u64 header length; SAFETENSORS_TOO_LARGE above `cap`. */
export function parseHeaderLength(prefix: Buffer, cap = MAX_HEADER_BYTES): number {
  if (prefix.length < 8) throw invalid('the file is shorter than 8 bytes');
  const n = prefix.readBigUInt64LE(0);
  if (n > BigInt(cap)) {
    throw new AppError(ErrorCode.SAFETENSORS_TOO_LARGE, `safetensors header length ${n} exceeds ${cap}`, {
      details: { headerBytes: n.toString(), cap },
      userMessage: `The file's header claims ${n} bytes, more than the ${cap}-byte limit: not a sane safetensors file.`,
    });
  }
  if (n < 2n) throw invalid('the header length is smaller than an empty JSON object');
  return Number(n);
}

/** Parse the JSON header bytes; `__metadata__` values must be strings (the spec says so). */
export function parseHeaderJson(bytes: Buffer): SafetensorsHeader {
  return parseHeaderObject(bytes).header;
}

/** The header plus the end of the tensor data it describes (the largest `data_offsets` end). */
function parseHeaderObject(bytes: Buffer): { header: SafetensorsHeader; dataEnd: number } {
  const text = bytes.toString('utf8');
  if (!text.startsWith('{')) throw invalid('the header does not start with "{"');
  let json: unknown;
  try {
    json = JSON.parse(text.trimEnd());
  } catch {
    throw invalid('the header is not valid JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw invalid('the header is not an object');
  const entries = Object.entries(json as Record<string, unknown>);
  const rawMeta = (json as Record<string, unknown>).__metadata__;
  let metadata: Record<string, string> | null = null;
  if (rawMeta !== undefined && rawMeta !== null) {
    if (typeof rawMeta !== 'object' || Array.isArray(rawMeta)) throw invalid('__metadata__ is not an object');
    metadata = {};
    for (const [key, value] of Object.entries(rawMeta as Record<string, unknown>)) {
      // Some writers put non-strings here against the spec; keep them as JSON text rather than failing.
      metadata[key] = typeof value === 'string' ? value : JSON.stringify(value);
    }
  }
  let dataEnd = 0;
  for (const [key, tensor] of entries) {
    if (key === '__metadata__' || typeof tensor !== 'object' || tensor === null) continue;
    const offsets = (tensor as { data_offsets?: unknown }).data_offsets;
    const end = Array.isArray(offsets) ? offsets[1] : undefined;
    if (typeof end === 'number' && Number.isFinite(end)) dataEnd = Math.max(dataEnd, end);
  }
  return {
    header: {
      metadata,
      tensorCount: entries.filter(([k]) => k !== '__metadata__').length,
      headerBytes: bytes.length,
    },
    dataEnd,
  };
}

/** Parse a whole header from a buffer that holds at least the first 8+N bytes of the file. */
export function parseHeaderFromPrefix(prefix: Buffer, cap = MAX_HEADER_BYTES): SafetensorsHeader {
  const n = parseHeaderLength(prefix, cap);
  if (prefix.length < 8 + n)
    throw invalid(`the file ends inside the header (${prefix.length - 8} of ${n} bytes)`);
  return parseHeaderJson(prefix.subarray(8, 8 + n));
}

export interface RemoteHeaderOptions {
  /** Hosts a redirect may lead to, besides the Civitai origin (exact names or `*.suffix`). */
  allowedHosts: readonly string[];
  signal?: AbortSignal | undefined;
  cap?: number;
  maxRedirects?: number;
}

/** Storage hosts Civitai's download endpoint redirects to. */
export const DEFAULT_STORAGE_HOSTS = [
  '*.civitai.com',
  'civitai.com',
  '*.r2.cloudflarestorage.com',
  '*.backblazeb2.com',
  '*.civitai-delivery.com',
] as const;

export function hostAllowed(url: URL, origin: string, allowed: readonly string[]): boolean {
  if (url.origin === origin) return true;
  if (url.protocol !== 'https:') return false;
  return allowed.some((pattern) =>
    pattern.startsWith('*.') ? url.hostname.endsWith(pattern.slice(1)) : url.hostname === pattern,
  );
}

/** Bytes asked for by the first Range request: enough for nearly every LoRA header (kohya's are < 100 KiB). */
export const FIRST_RANGE_BYTES = 256 * 1024;

/**
 * Read a remote safetensors header without downloading the file: one `Range: bytes=0-262143`
 * (the first {@link FIRST_RANGE_BYTES}) that holds the 8-byte length and, nearly always, the whole
 * JSON header; only a longer header costs a second request for the rest, sent to the URL the first
 * one was redirected to. Redirects lead to allowed storage hosts only (the API key is never
 * forwarded off the Civitai origin). A host that ignores Range and answers 200 is read only as far
 * as needed, then the stream is aborted.
 * Errors: SAFETENSORS_INVALID, SAFETENSORS_TOO_LARGE, HOST_NOT_ALLOWED, CIVITAI_* transport codes.
 */
export async function readRemoteHeader(
  http: HttpClient,
  downloadUrl: string,
  options: RemoteHeaderOptions,
): Promise<SafetensorsHeader & { resolvedUrl: string }> {
  const cap = options.cap ?? MAX_HEADER_BYTES;
  const needed = (prefix: Buffer): number =>
    prefix.length < 8 ? Number.POSITIVE_INFINITY : 8 + parseHeaderLength(prefix, cap);

  const first = await rangeGet(http, downloadUrl, 0, FIRST_RANGE_BYTES - 1, options, needed);
  if (first.status === 200) {
    // The host ignored Range: the capped read above already holds 8+N bytes (or the whole small file).
    return { ...parseHeaderFromPrefix(first.body, cap), resolvedUrl: first.url };
  }
  const n = parseHeaderLength(first.body, cap);
  const have = first.body.length;
  if (have >= 8 + n) return { ...parseHeaderFromPrefix(first.body, cap), resolvedUrl: first.url };
  // The first answer held the whole file (shorter than the range), or the header is longer than it.
  if (have < FIRST_RANGE_BYTES || (first.total !== undefined && first.total <= have)) {
    throw invalid(`the file ends inside the header (${Math.max(0, have - 8)} of ${n} bytes)`);
  }
  const second = await rangeGet(http, first.url, have, 7 + n, options, (prefix) =>
    prefix.length < 8 ? Number.POSITIVE_INFINITY : 8 + n,
  );
  const rest = second.status === 200 ? second.body.subarray(have, 8 + n) : second.body;
  const headerBytes = Buffer.concat([first.body.subarray(8), rest]).subarray(0, n);
  if (headerBytes.length < n)
    throw invalid(`the file ends inside the header (${headerBytes.length} of ${n} bytes)`);
  return { ...parseHeaderJson(headerBytes), resolvedUrl: first.url };
}

async function rangeGet(
  http: HttpClient,
  startUrl: string,
  start: number,
  end: number,
  options: RemoteHeaderOptions,
  needFromStart: (prefix: Buffer) => number,
): Promise<{ status: number; body: Buffer; url: string; total?: number }> {
  let url = new URL(startUrl);
  const maxRedirects = options.maxRedirects ?? 5;
  for (let hop = 0; hop <= maxRedirects; hop++) {
    if (!hostAllowed(url, http.origin, options.allowedHosts)) {
      throw new AppError(ErrorCode.HOST_NOT_ALLOWED, `Refusing to fetch from ${url.host}`, {
        details: { url: url.toString() },
        userMessage: `The model file link points to ${url.host}, which is not a Civitai host; it was not fetched.`,
      });
    }
    const rangeLength = end - start + 1;
    const res = await http.getRaw(url.toString(), {
      signal: options.signal,
      headers: { range: `bytes=${start}-${end}`, 'accept-encoding': 'identity' },
      // 206: exactly the range. 200: the whole file from byte 0, so read only what is needed.
      // Redirect and error bodies are small; cap them.
      maxBytes: (prefix, status) =>
        status === 206 ? rangeLength : status === 200 ? needFromStart(prefix) : 64 * 1024,
      incomplete: (r) => shortBody(r, start, rangeLength, needFromStart),
    });
    if ([301, 302, 303, 307, 308].includes(res.status)) {
      const location = header(res.headers.location);
      if (!location) throw invalid('a redirect without a Location header');
      url = new URL(location, url);
      continue;
    }
    if (res.status === 206) {
      const total = /\/(\d+)$/.exec(header(res.headers['content-range']) ?? '')?.[1];
      return {
        status: 206,
        body: res.body.subarray(0, rangeLength),
        url: url.toString(),
        ...(total === undefined ? {} : { total: Number(total) }),
      };
    }
    if (res.status === 200) return { status: 200, body: res.body, url: url.toString() };
    if (res.status === 416) throw invalid('the file is shorter than its header claims');
    throw httpFailure(res.status, url.toString(), res.body);
  }
  throw invalid(`more than ${maxRedirects} redirects`);
}

/**
 * A body that ended cleanly before the bytes it should hold: a 206 shorter than the range (or than
 * the span its Content-Range names, when the file itself ends sooner), a 200 shorter than the 8+N
 * bytes the header needs (unless its Content-Length says the whole file was sent). Such a read is a
 * transient failure (NETWORK, retried); only a complete answer may prove the file invalid.
 */
function shortBody(
  res: RawResponse,
  start: number,
  rangeLength: number,
  needFromStart: (prefix: Buffer) => number,
): AppError | undefined {
  let want: number;
  if (res.status === 206) {
    const m = /^bytes (\d+)-(\d+)\//.exec(header(res.headers['content-range']) ?? '');
    const span = m && Number(m[1]) === start ? Number(m[2]) - Number(m[1]) + 1 : rangeLength;
    want = Math.min(rangeLength, Math.max(0, span));
  } else if (res.status === 200) {
    try {
      want = needFromStart(res.body);
    } catch {
      return undefined; // A header length the caller refuses: not a transport question.
    }
    const declared = Number(header(res.headers['content-length']) ?? Number.NaN);
    if (Number.isFinite(declared) && res.body.length >= declared) return undefined;
  } else {
    return undefined;
  }
  if (res.body.length >= want) return undefined;
  const of = Number.isFinite(want) ? `${want}` : 'at least 8';
  return new AppError(
    ErrorCode.NETWORK,
    `Incomplete body reading the model file header from ${res.url}: ${res.body.length} of ${of} bytes`,
    {
      details: { url: res.url, status: res.status, bytesRead: res.body.length, bytesNeeded: of },
      userMessage: `Reading the model file header failed: the storage host ended its answer after ${res.body.length} of ${of} bytes, so the header read was incomplete.`,
    },
  );
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function httpFailure(status: number, url: string, body: Buffer): AppError {
  const code =
    status === 404
      ? ErrorCode.CIVITAI_NOT_FOUND
      : status === 401 || status === 403
        ? ErrorCode.CIVITAI_UNAUTHORIZED
        : ErrorCode.CIVITAI_HTTP;
  return new AppError(code, `HTTP ${status} reading the model file header from ${url}`, {
    details: { status, url, body: body.toString('utf8').slice(0, 300) },
    userMessage:
      status === 401 || status === 403
        ? 'Civitai requires a logged-in API key to read this model file (set CIVITAI_API_KEY).'
        : `Could not read the model file header (HTTP ${status}).`,
  });
}

/** Result of reading a local LoRA file: its SHA-256 (streamed) and its header. */
export interface LocalFileInfo {
  sha256: string;
  size: number;
  header: SafetensorsHeader;
}

/** A local file that is not a safetensors file: the user's input, so exit 2 and one sentence. */
function notSafetensors(path: string, why: string, details: Record<string, unknown> = {}): AppError {
  return new AppError(ErrorCode.SAFETENSORS_INVALID, `${path} is not a safetensors file: ${why}`, {
    details: { path, ...details },
    userFault: true,
    userMessage: `${basename(path)} is not a safetensors file: ${why}.`,
  });
}

function unreadable(path: string, cause: unknown): AppError {
  return new AppError(ErrorCode.INPUT_INVALID, `Cannot read ${path}`, {
    cause,
    userFault: true,
    userMessage: `Cannot read the file ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'unknown error'}.`,
  });
}

/**
 * Check a local file's shape before reading it: the 8-byte little-endian header length must fit
 * inside the file (and under `cap`), and the JSON header must start with `{`. Then parse the header.
 * Errors: SAFETENSORS_INVALID (user fault), INPUT_INVALID (unreadable).
 */
async function readLocalHeader(
  handle: FileHandle,
  path: string,
  size: number,
  cap: number,
): Promise<{ prefix: Buffer; header: SafetensorsHeader }> {
  if (size < 8) throw notSafetensors(path, `it is only ${size} bytes long`, { size });
  const lengthBytes = Buffer.alloc(8);
  await handle.read(lengthBytes, 0, 8, 0);
  const n = lengthBytes.readBigUInt64LE(0);
  // Compared as bigints: random bytes give lengths far beyond 2^53.
  if (n < 2n || n > BigInt(size - 8) || n > BigInt(cap)) {
    throw notSafetensors(
      path,
      n > BigInt(size - 8)
        ? 'its first 8 bytes do not give a header length that fits in the file (random or truncated data)'
        : n < 2n
          ? 'its header length is smaller than an empty JSON object'
          : `its header is larger than the ${cap}-byte limit`,
      { size, headerBytes: n.toString() },
    );
  }
  const json = Buffer.alloc(Number(n));
  await handle.read(json, 0, json.length, 8);
  if (json[0] !== 0x7b) throw notSafetensors(path, 'its header does not start with "{"');
  let parsed: ReturnType<typeof parseHeaderObject>;
  try {
    parsed = parseHeaderObject(json);
  } catch (error) {
    if (isAppError(error) && error.code === ErrorCode.SAFETENSORS_INVALID) {
      throw notSafetensors(path, error.message);
    }
    throw error;
  }
  const dataBytes = size - 8 - json.length;
  if (parsed.dataEnd > dataBytes) {
    throw notSafetensors(
      path,
      `it is truncated (its header describes ${parsed.dataEnd} bytes of tensor data, the file holds ${dataBytes})`,
      { size, dataEnd: parsed.dataEnd },
    );
  }
  return { prefix: Buffer.concat([lengthBytes, json]), header: parsed.header };
}

/**
 * Read a local .safetensors file: validate and parse its header first (nothing is hashed when the
 * file is not a safetensors file), then compute the SHA-256 of all bytes in one pass, reporting
 * `onBytes(done, total)` with the file's size as the total.
 * Errors: SAFETENSORS_INVALID (user fault), INPUT_INVALID (unreadable).
 */
export async function readLocalFile(
  path: string,
  onBytes?: (done: number, total: number) => void,
  cap = MAX_HEADER_BYTES,
): Promise<LocalFileInfo> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const stats = await handle.stat();
    if (!stats.isFile()) throw notSafetensors(path, 'it is not a regular file');
    const size = stats.size;
    const { prefix, header } = await readLocalHeader(handle, path, size, cap);
    const hash = createHash('sha256').update(prefix);
    let done = prefix.length;
    onBytes?.(done, size);
    if (done < size) {
      for await (const chunk of handle.createReadStream({
        start: done,
        highWaterMark: 1 << 20,
        autoClose: false,
      })) {
        const buf = chunk as Buffer;
        hash.update(buf);
        done += buf.length;
        onBytes?.(done, size);
      }
    }
    return { sha256: hash.digest('hex').toUpperCase(), size: done, header };
  } catch (cause) {
    if (isAppError(cause)) throw cause;
    throw unreadable(path, cause);
  } finally {
    await handle?.close();
  }
}
