import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AuditResult } from '../../analysis/audit/service.ts';
import { AuditRunOptions, AuditSelection } from '../../analysis/audit/types.ts';
import { AppError, ErrorCode } from '../../analysis/errors.ts';
import { JobRequester } from '../job-queue.ts';

/** The BullMQ queue every bot and worker process shares. */
export const AUDIT_QUEUE_NAME = 'loralens-audit';

/** Version of the job payload and of the analysis it asks for; part of every job key. */
export const AUDIT_JOB_VERSION = 1;

/** Options a job carries to the worker (every field optional: the worker applies the defaults). */
export const AuditJobOptions = AuditRunOptions.partial();
export type AuditJobOptions = z.infer<typeof AuditJobOptions>;

/** What a worker needs to run one audit: the payload of a BullMQ job. */
export const AuditJobData = z.object({
  version: z.literal(AUDIT_JOB_VERSION),
  key: z.string().min(1),
  selection: AuditSelection,
  options: AuditJobOptions,
});
export type AuditJobData = z.infer<typeof AuditJobData>;

/** One waiting requester of a shared job, as stored in Redis beside the job. */
export const QueuedRequester = z.object({
  id: z.string().min(1),
  /** The bot process holding the live interaction (its heartbeat decides who delivers). */
  instance: z.string().min(1),
  requester: JobRequester,
});
export type QueuedRequester = z.infer<typeof QueuedRequester>;

/**
 * Idempotency key of an audit: the selection, the run options and {@link AUDIT_JOB_VERSION} (the
 * analysis version), canonicalised (object keys sorted) and hashed. Identical requests share a key.
 */
export function auditJobKey(selection: AuditSelection, options: AuditJobOptions): string {
  const canonical = JSON.stringify(sortKeys({ v: AUDIT_JOB_VERSION, selection, options }));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 24);
}

export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

const BYTES = '$bytes';

/** An {@link AuditResult} as JSON text: Buffers (report files) travel as base64. */
export function encodeAuditResult(result: AuditResult): string {
  return JSON.stringify(result, function (this: Record<string, unknown>, key, value) {
    const original = this[key];
    return Buffer.isBuffer(original) ? { [BYTES]: original.toString('base64') } : value;
  });
}

const ResultShape = z.object({
  generatedAt: z.string(),
  selection: AuditSelection,
  models: z.array(z.unknown()),
  notes: z.array(z.string()),
  flaggedImages: z.array(z.unknown()),
  files: z.array(z.object({ name: z.string(), contentType: z.string(), data: z.instanceof(Buffer) })),
});

/** Inverse of {@link encodeAuditResult}; a malformed value is a STORAGE_IO error. */
export function decodeAuditResult(text: unknown): AuditResult {
  try {
    if (typeof text !== 'string') throw new Error(`expected JSON text, got ${typeof text}`);
    const value: unknown = JSON.parse(text, (_key, v: unknown) =>
      v && typeof v === 'object' && BYTES in v && typeof (v as Record<string, unknown>)[BYTES] === 'string'
        ? Buffer.from((v as Record<string, string>)[BYTES] as string, 'base64')
        : v,
    );
    ResultShape.parse(value);
    return value as AuditResult;
  } catch (cause) {
    throw new AppError(ErrorCode.STORAGE_IO, 'A queued audit result could not be read back', { cause });
  }
}
