import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { z } from 'zod';
import type { AuditService } from '../../analysis/audit/service.ts';
import { AppError, ErrorCode, isAppError, toAppError } from '../../analysis/errors.ts';
import type { Logger, ProgressEvent } from '../../analysis/ports.ts';
import { AUDIT_QUEUE_NAME, AuditJobData, encodeAuditResult } from './audit-job.ts';

/** Codes worth another attempt (the next one may succeed); everything else fails the job at once. */
const TRANSIENT = new Set<string>([
  ErrorCode.CIVITAI_HTTP,
  ErrorCode.RATE_LIMITED,
  ErrorCode.NETWORK,
  ErrorCode.TIMEOUT,
  ErrorCode.STORAGE_IO,
]);

/** How a failed job's error travels back to the bot (BullMQ keeps only a message string). */
export const JobFailure = z.object({
  code: z.string(),
  message: z.string(),
  userMessage: z.string(),
  userFault: z.boolean(),
});
export type JobFailure = z.infer<typeof JobFailure>;

const FAILURE_PREFIX = 'loralens-failure:';

export function encodeFailure(error: unknown): string {
  const e = toAppError(error);
  const failure: JobFailure = {
    code: e.code,
    message: e.message,
    userMessage: e.userMessage,
    userFault: e.userFault,
  };
  return `${FAILURE_PREFIX}${JSON.stringify(failure)}`;
}

/** The AppError a failed job reported; INTERNAL when the reason is not one of ours (a stalled job). */
export function decodeFailure(reason: string | undefined): AppError {
  if (reason?.startsWith(FAILURE_PREFIX)) {
    try {
      const f = JobFailure.parse(JSON.parse(reason.slice(FAILURE_PREFIX.length)));
      return new AppError(f.code as ErrorCode, f.message, {
        userMessage: f.userMessage,
        userFault: f.userFault,
      });
    } catch {
      // fall through: an unreadable reason is an internal error
    }
  }
  return new AppError(ErrorCode.INTERNAL, `Audit job failed: ${reason ?? 'unknown reason'}`);
}

export interface AuditWorkerOptions {
  /** `redis://…` of the shared queue. */
  url: string;
  service: Pick<AuditService, 'audit'>;
  logger: Logger;
  /** Jobs this process runs at once. */
  concurrency: number;
  /** How long a job's lock lasts without renewal: a killed worker's job is retried after about this. */
  lockDurationMs?: number;
  /** How often stalled (lock lost) jobs are looked for. */
  stalledIntervalMs?: number;
  /** Least time between two progress updates of one job (each is a Redis write and a Discord edit). */
  progressIntervalMs?: number;
}

export interface AuditWorker {
  readonly worker: Worker;
  /** Finish running jobs (up to BullMQ's close), take no new ones. */
  close(): Promise<void>;
}

/**
 * Runs audit jobs from the shared BullMQ queue: the `loralens worker` process. A job's result is
 * its return value (JSON, files as base64); progress goes out as BullMQ progress events. Transient
 * failures are retried by BullMQ; others fail the job at once with an encoded AppError.
 */
export function startAuditWorker(options: AuditWorkerOptions): AuditWorker {
  const log = options.logger.child({ component: 'worker' });
  const progressEvery = options.progressIntervalMs ?? 1_000;
  const processor = async (job: Job, _token?: string, signal?: AbortSignal): Promise<string> => {
    const parsed = AuditJobData.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(
        encodeFailure(new AppError(ErrorCode.INTERNAL, `Malformed audit job ${job.id}`)),
      );
    }
    const data = parsed.data;
    const started = Date.now();
    let lastProgress = 0;
    let pending: ProgressEvent | null = null;
    const onProgress = (event: ProgressEvent): void => {
      pending = event;
      const now = Date.now();
      if (now - lastProgress < progressEvery) return;
      lastProgress = now;
      pending = null;
      job.updateProgress({ ...event }).catch((e: unknown) => log.warn({ err: e }, 'progress update failed'));
    };
    try {
      const result = await options.service.audit(data.selection, data.options, {
        onProgress,
        ...(signal ? { signal } : {}),
      });
      if (pending) await job.updateProgress({ ...(pending as ProgressEvent) }).catch(() => undefined);
      log.info(
        {
          job: job.id,
          attempt: job.attemptsMade + 1,
          ms: Date.now() - started,
          models: result.models.length,
        },
        'audit job finished',
      );
      return encodeAuditResult(result);
    } catch (error) {
      const transient = isAppError(error) && TRANSIENT.has(error.code);
      log.warn({ err: error, job: job.id, attempt: job.attemptsMade + 1, transient }, 'audit job failed');
      const reason = encodeFailure(error);
      throw transient ? new Error(reason) : new UnrecoverableError(reason);
    }
  };
  const worker = new Worker(AUDIT_QUEUE_NAME, processor, {
    connection: { url: options.url, maxRetriesPerRequest: null },
    concurrency: options.concurrency,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: 2,
  });
  worker.on('error', (error) => log.error({ err: error }, 'worker connection error'));
  return {
    worker,
    close: () => worker.close(),
  };
}
