import { parse as devalueParse } from 'devalue';
import superjson from 'superjson';
import type { z } from 'zod';
import { AppError, ErrorCode } from '../errors.ts';
import { CivitaiSchemaError } from './errors.ts';

/** URL of a site tRPC GET call: `/api/trpc/<router>.<procedure>?input=<superjson>`. */
export function trpcUrl(origin: string, procedure: string, input: Record<string, unknown>): string {
  const payload = superjson.serialize(input);
  const envelope = payload.meta ? { json: payload.json, meta: payload.meta } : { json: payload.json };
  return `${origin}/api/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify(envelope))}`;
}

/**
 * Unwrap a tRPC response body: `{result:{data:{json,meta}}}` (superjson) or `{result:{data:"<devalue>"}}`
 * (Civitai's devalue migration), or a tRPC error envelope → a typed error.
 * Errors: CIVITAI_UNAUTHORIZED, CIVITAI_NOT_FOUND, CIVITAI_HTTP, CIVITAI_SCHEMA.
 */
export function unwrapTrpc<S extends z.ZodType>(url: string, body: unknown, schema: S): z.infer<S> {
  const envelope = Array.isArray(body) ? body[0] : body;
  if (typeof envelope !== 'object' || envelope === null) {
    throw new CivitaiSchemaError(url, 'the tRPC response is not an object');
  }
  const { result, error } = envelope as { result?: { data?: unknown }; error?: unknown };
  if (error !== undefined) throw trpcError(url, error);
  if (!result || !('data' in result))
    throw new CivitaiSchemaError(url, 'the tRPC response has no result.data');
  let payload: unknown;
  const data = result.data;
  if (typeof data === 'string') {
    try {
      payload = devalueParse(data);
    } catch (cause) {
      throw new CivitaiSchemaError(url, 'result.data is a string but not devalue', cause);
    }
  } else if (typeof data === 'object' && data !== null && 'json' in data) {
    const { json, meta } = data as { json: unknown; meta?: unknown };
    try {
      payload = superjson.deserialize(
        meta ? { json: json as never, meta: meta as never } : { json: json as never },
      );
    } catch (cause) {
      throw new CivitaiSchemaError(url, 'result.data.meta is not valid superjson metadata', cause);
    }
  } else {
    payload = data;
  }
  const parsed = schema.safeParse(payload);
  if (!parsed.success) throw new CivitaiSchemaError(url, parsed.error.issues);
  return parsed.data;
}

function trpcError(url: string, error: unknown): AppError {
  const json = (error as { json?: unknown })?.json ?? error;
  const e = json as { message?: unknown; data?: { code?: unknown; httpStatus?: unknown } };
  const trpcCode = typeof e?.data?.code === 'string' ? e.data.code : 'UNKNOWN';
  const message = typeof e?.message === 'string' ? e.message : 'tRPC error';
  const code =
    trpcCode === 'UNAUTHORIZED' || trpcCode === 'FORBIDDEN'
      ? ErrorCode.CIVITAI_UNAUTHORIZED
      : trpcCode === 'NOT_FOUND'
        ? ErrorCode.CIVITAI_NOT_FOUND
        : trpcCode === 'TOO_MANY_REQUESTS'
          ? ErrorCode.RATE_LIMITED
          : ErrorCode.CIVITAI_HTTP;
  return new AppError(code, `tRPC ${trpcCode} from ${url}: ${message}`, {
    details: { url, trpcCode, httpStatus: e?.data?.httpStatus },
    userMessage: `Civitai refused the comments request (${trpcCode}).`,
  });
}
