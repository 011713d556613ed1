import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Dispatcher, request } from 'undici';
import { z } from 'zod';
import { AppError, type AppErrorOptions, ErrorCode } from '../errors.ts';
import { type Logger, type ProgressListener, silentLogger } from '../ports.ts';
import type { ModelFile } from './manifest.ts';

/** A downloaded or checked file whose bytes are not the pinned ones (code MODEL_INVALID). */
export class ModelIntegrityError extends AppError {
  constructor(message: string, options: AppErrorOptions) {
    super(ErrorCode.MODEL_INVALID, message, options);
  }
}

/** Hashes recorded for unpinned files accepted with `--trust-on-first-use`. */
const trustLockSchema = z.object({
  version: z.literal(1),
  files: z.record(
    z.string(),
    z.object({
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      size: z.number().int(),
      url: z.string(),
      trustedAt: z.string(),
    }),
  ),
});
type TrustLock = z.infer<typeof trustLockSchema>;
export const TRUST_LOCK_FILE = 'trusted-hashes.json';

async function readTrustLock(dir: string): Promise<TrustLock> {
  try {
    const parsed = trustLockSchema.safeParse(JSON.parse(await readFile(join(dir, TRUST_LOCK_FILE), 'utf8')));
    if (parsed.success) return parsed.data;
  } catch {
    /* missing or unreadable: start empty */
  }
  return { version: 1, files: {} };
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

export type ModelFileStatus = 'ok' | 'missing' | 'size-mismatch' | 'sha256-mismatch' | 'unpinned-untrusted';

export interface ModelCheck {
  file: string;
  status: ModelFileStatus;
  sha256: string | null;
  size: number | null;
}

/** The sha256 a file must have: the pinned one, or the one recorded on first use. */
async function expectedHash(entry: ModelFile, dir: string): Promise<string | null> {
  if (entry.sha256) return entry.sha256;
  return (await readTrustLock(dir)).files[entry.file]?.sha256 ?? null;
}

/** Verify one manifest file on disk: presence, size, sha256 (pinned or trusted on first use). */
export async function checkModelFile(entry: ModelFile, dir: string): Promise<ModelCheck> {
  const path = join(dir, entry.file);
  const size = await sizeOf(path);
  if (size === null) return { file: entry.file, status: 'missing', sha256: null, size: null };
  if (entry.size !== null && size !== entry.size)
    return { file: entry.file, status: 'size-mismatch', sha256: null, size };
  const actual = await sha256File(path);
  const expected = await expectedHash(entry, dir);
  if (expected === null) return { file: entry.file, status: 'unpinned-untrusted', sha256: actual, size };
  return { file: entry.file, status: actual === expected ? 'ok' : 'sha256-mismatch', sha256: actual, size };
}

export interface DownloadOptions {
  dir: string;
  dispatcher: Dispatcher;
  onProgress?: ProgressListener;
  /** Accept an unpinned file and record its hash in `trusted-hashes.json`. */
  trustOnFirstUse?: boolean;
  /** Resume attempts after a dropped connection (default 5). */
  maxRetries?: number;
  /** Per-request idle timeout in ms (default 60 s). */
  timeoutMs?: number;
  maxRedirects?: number;
  signal?: AbortSignal;
  logger?: Logger;
  /** Waits between resume attempts (default 500 ms × attempt). */
  sleep?: (ms: number) => Promise<void>;
}

export type DownloadOutcome = 'already-present' | 'downloaded' | 'trusted-on-first-use';

export interface DownloadResult {
  file: string;
  path: string;
  sha256: string;
  size: number;
  outcome: DownloadOutcome;
}

class TransientDownloadError extends Error {}

/** The error code of a failed connection (undici passes Node's; happy-eyeballs may wrap several). */
function networkErrorCode(error: unknown): string | null {
  const e = error as { code?: unknown; errors?: Array<{ code?: unknown }> } | null;
  if (typeof e?.code === 'string') return e.code;
  const inner = e?.errors?.find((x) => typeof x?.code === 'string')?.code;
  return typeof inner === 'string' ? inner : null;
}

/** The sentence for a host that cannot be reached at all, or null when the failure may be transient. */
function unreachableSentence(code: string, host: string): string | null {
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return `the name ${host.replace(/:\d+$/, '')} could not be resolved (DNS ${code}); check the network connection and DNS or proxy settings`;
    case 'ECONNREFUSED':
      return `${host} refused the connection (ECONNREFUSED); check the network connection and proxy settings`;
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return `${host} is not reachable from this machine (${code}); check the network connection`;
    default:
      return null;
  }
}
class RestartFromZero extends Error {}

/** One GET (following redirects by hand) that appends to `part` from byte `offset`. Returns bytes now in `part`. */
async function fetchInto(
  entry: ModelFile,
  part: string,
  offset: number,
  o: Required<Pick<DownloadOptions, 'dispatcher' | 'timeoutMs' | 'maxRedirects'>> & DownloadOptions,
  hash: ReturnType<typeof createHash>,
): Promise<number> {
  let url = new URL(entry.url);
  for (let hop = 0; hop <= o.maxRedirects; hop++) {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method: 'GET',
        dispatcher: o.dispatcher,
        headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
        ...(o.signal ? { signal: o.signal } : {}),
      });
    } catch (cause) {
      if (o.signal?.aborted) throw new AppError(ErrorCode.ABORTED, 'Model download aborted', { cause });
      const code = networkErrorCode(cause);
      const unreachable = code ? unreachableSentence(code, url.host) : null;
      if (unreachable) {
        // Nothing to resume: the host cannot be reached at all, so retrying only delays the answer.
        throw new AppError(ErrorCode.NETWORK, `Cannot reach ${url.host} for ${entry.file}: ${code}`, {
          cause,
          details: { file: entry.file, host: url.host, code },
          userMessage: `Downloading ${entry.file} failed: ${unreachable}.`,
        });
      }
      throw new TransientDownloadError(code ? `${code} from ${url.host}` : (cause as Error).message, {
        cause,
      });
    }
    res.body.on('error', () => {});
    if ([301, 302, 303, 307, 308].includes(res.statusCode)) {
      await res.body.dump().catch(() => undefined);
      const location = res.headers.location;
      const next = Array.isArray(location) ? location[0] : location;
      if (!next) throw new AppError(ErrorCode.NETWORK, `Redirect without Location from ${url.host}`);
      const target = new URL(next, url);
      if (url.protocol === 'https:' && target.protocol !== 'https:') {
        throw new AppError(
          ErrorCode.HOST_NOT_ALLOWED,
          `Refusing https → ${target.protocol} redirect for ${entry.file}`,
        );
      }
      url = target;
      continue;
    }
    if (res.statusCode === 200) {
      if (offset > 0) {
        // The server ignored Range: start over from byte 0.
        await res.body.dump().catch(() => undefined);
        throw new RestartFromZero();
      }
    } else if (res.statusCode === 206) {
      const range = String(res.headers['content-range'] ?? '');
      const m = /^bytes (\d+)-/.exec(range);
      if (!m || Number(m[1]) !== offset) {
        await res.body.dump().catch(() => undefined);
        throw new TransientDownloadError(`Unexpected Content-Range "${range}" for offset ${offset}`);
      }
    } else if (res.statusCode === 416 && entry.size !== null && offset === entry.size) {
      await res.body.dump().catch(() => undefined);
      return offset;
    } else {
      await res.body.dump().catch(() => undefined);
      if (res.statusCode >= 500 || res.statusCode === 429)
        throw new TransientDownloadError(`${url.host} answered HTTP ${res.statusCode}`);
      throw new AppError(ErrorCode.NETWORK, `HTTP ${res.statusCode} for ${url}`, {
        details: { status: res.statusCode, file: entry.file, url: String(url) },
        userMessage: `Downloading ${entry.file} failed: ${url.host} answered HTTP ${res.statusCode}.`,
      });
    }
    const out = createWriteStream(part, { flags: offset === 0 ? 'w' : 'a' });
    let written = offset;
    try {
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        hash.update(buf);
        written += buf.length;
        if (entry.size !== null && written > entry.size) {
          throw new ModelIntegrityError(`${entry.file} is larger than the pinned ${entry.size} bytes`, {
            details: { file: entry.file, expectedSize: entry.size },
            userMessage: `${entry.file} from ${url.host} is larger than the pinned ${entry.size} bytes; the download was discarded.`,
          });
        }
        if (!out.write(buf)) await once(out, 'drain');
        o.onProgress?.({ stage: 'download', done: written, total: entry.size ?? 0, message: entry.file });
      }
    } catch (cause) {
      out.end();
      await once(out, 'close').catch(() => undefined);
      if (cause instanceof AppError) throw cause;
      if (o.signal?.aborted) throw new AppError(ErrorCode.ABORTED, 'Model download aborted', { cause });
      throw new TransientDownloadError(`connection dropped after ${written} bytes`, { cause });
    }
    out.end();
    await once(out, 'close');
    return written;
  }
  throw new AppError(ErrorCode.NETWORK, `Too many redirects for ${entry.file}`);
}

/**
 * Download one manifest file into `dir` with sha256 verification, resume (HTTP Range on a `.part` file)
 * after dropped connections, and progress events. An unpinned file is only accepted with
 * `trustOnFirstUse`, which records its hash. A host that cannot be reached (DNS failure, refused
 * connection) fails at once; dropped connections and HTTP 5xx/429 are retried. Each error's
 * `userMessage` says what failed, and offers a resume only when bytes were kept. Throws NETWORK (DNS,
 * refused, HTTP status, retries used up), MODEL_INVALID ({@link ModelIntegrityError}) on a
 * size/hash mismatch, NETWORK after the retries, HOST_NOT_ALLOWED on a downgrade redirect, ABORTED.
 */
export async function downloadModelFile(entry: ModelFile, options: DownloadOptions): Promise<DownloadResult> {
  const logger = options.logger ?? silentLogger;
  const o = {
    ...options,
    timeoutMs: options.timeoutMs ?? 60_000,
    maxRedirects: options.maxRedirects ?? 5,
  };
  const maxRetries = options.maxRetries ?? 5;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const path = join(options.dir, entry.file);
  const part = `${path}.part`;
  await mkdir(dirname(path), { recursive: true });

  const existing = await checkModelFile(entry, options.dir);
  if (existing.status === 'ok') {
    return {
      file: entry.file,
      path,
      sha256: existing.sha256!,
      size: existing.size!,
      outcome: 'already-present',
    };
  }
  if (!entry.pinned && !options.trustOnFirstUse) {
    throw new ModelIntegrityError(`${entry.file} has no pinned sha256`, {
      details: { file: entry.file },
      userMessage: `${entry.file} has no pinned checksum: rerun with --trust-on-first-use to accept and record it.`,
    });
  }

  let offset = (await sizeOf(part)) ?? 0;
  if (entry.size !== null && offset > entry.size) {
    await rm(part, { force: true });
    offset = 0;
  }
  const hash = createHash('sha256');
  if (offset > 0) {
    for await (const chunk of createReadStream(part)) hash.update(chunk as Buffer);
    logger.info({ file: entry.file, offset }, 'resuming model download');
  }
  let current = hash;
  for (let attempt = 0; ; attempt++) {
    try {
      offset = await fetchInto(entry, part, offset, o, current);
      break;
    } catch (error) {
      if (error instanceof RestartFromZero) {
        current = createHash('sha256');
        offset = 0;
        await rm(part, { force: true });
        continue;
      }
      if (!(error instanceof TransientDownloadError) || attempt >= maxRetries) {
        if (error instanceof ModelIntegrityError) await rm(part, { force: true });
        if (error instanceof TransientDownloadError) {
          const kept = (await sizeOf(part)) ?? 0;
          const attempts = `${attempt + 1} attempt${attempt === 0 ? '' : 's'}`;
          throw new AppError(ErrorCode.NETWORK, `Download of ${entry.file} failed: ${error.message}`, {
            cause: error,
            details: { file: entry.file, attempts: attempt + 1, keptBytes: kept },
            userMessage:
              kept > 0
                ? `Downloading ${entry.file} failed after ${attempts} (${error.message}); the ${kept} bytes received are kept, run \`npm run models\` again to resume.`
                : `Downloading ${entry.file} failed after ${attempts} (${error.message}).`,
          });
        }
        throw error;
      }
      // The hash so far covers exactly the bytes in the part file; resume from there.
      offset = (await sizeOf(part)) ?? 0;
      current = createHash('sha256');
      if (offset > 0) for await (const chunk of createReadStream(part)) current.update(chunk as Buffer);
      logger.warn(
        { file: entry.file, offset, attempt: attempt + 1, err: error.message },
        'model download interrupted, resuming',
      );
      await sleep(500 * (attempt + 1));
    }
  }
  const digest = current.digest('hex');
  if (entry.size !== null && offset !== entry.size) {
    await rm(part, { force: true });
    throw new ModelIntegrityError(`${entry.file} has ${offset} bytes, expected ${entry.size}`, {
      details: { file: entry.file, size: offset, expectedSize: entry.size },
      userMessage: `${entry.file} downloaded with ${offset} bytes instead of the pinned ${entry.size}; the download was discarded.`,
    });
  }
  if (entry.sha256 !== null && digest !== entry.sha256) {
    await rm(part, { force: true });
    throw new ModelIntegrityError(
      `${entry.file} sha256 ${digest} does not match the pinned ${entry.sha256}`,
      {
        details: { file: entry.file, sha256: digest, expected: entry.sha256, url: entry.url },
        userMessage: `${entry.file} does not match its pinned sha256 (received ${digest.slice(0, 12)}…, expected ${entry.sha256.slice(0, 12)}…); the download was discarded.`,
      },
    );
  }
  await rename(part, path);
  if (entry.sha256 === null) {
    const lock = await readTrustLock(options.dir);
    lock.files[entry.file] = {
      sha256: digest,
      size: offset,
      url: entry.url,
      trustedAt: new Date().toISOString(),
    };
    await writeFile(join(options.dir, TRUST_LOCK_FILE), `${JSON.stringify(lock, null, 2)}\n`);
    logger.warn({ file: entry.file, sha256: digest }, 'unpinned model file trusted on first use');
    return { file: entry.file, path, sha256: digest, size: offset, outcome: 'trusted-on-first-use' };
  }
  return { file: entry.file, path, sha256: digest, size: offset, outcome: 'downloaded' };
}
