import type { AuditService } from '../analysis/audit/service.ts';
import { UserInputError } from '../analysis/errors.ts';
import type { Logger } from '../analysis/ports.ts';
import { createAuditService } from '../app/create-audit-service.ts';
import type { AppConfig } from '../config.ts';
import { openStorage } from '../storage/backend.ts';
import { startAuditWorker } from '../storage/queue/bullmq-worker.ts';

export interface WorkerRunOptions {
  url: string;
  service: Pick<AuditService, 'audit'>;
  logger: Logger;
  concurrency: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Resolves when the worker should stop (a signal); running jobs then finish first. */
  until: Promise<unknown>;
}

/** Run audit jobs from the shared queue until `until` resolves, then close cleanly. */
export async function runWorker(options: WorkerRunOptions): Promise<void> {
  const worker = startAuditWorker({
    url: options.url,
    service: options.service,
    logger: options.logger,
    concurrency: options.concurrency,
    ...(options.lockDurationMs ? { lockDurationMs: options.lockDurationMs } : {}),
    ...(options.stalledIntervalMs ? { stalledIntervalMs: options.stalledIntervalMs } : {}),
  });
  await worker.worker.waitUntilReady();
  options.logger.info({ concurrency: options.concurrency }, 'loralens worker ready');
  await options.until;
  options.logger.info({}, 'worker stopping; running jobs finish first');
  await worker.close();
}

/** Parse `--concurrency`: a whole number from 1 to 64. */
export function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 64)
    throw new UserInputError('--concurrency must be a whole number from 1 to 64.');
  return n;
}

/** `loralens worker`: the real audit service over the configured store, stopped by SIGINT/SIGTERM. */
export async function runWorkerCommand(
  config: AppConfig,
  logger: Logger,
  flags: { concurrency: string },
): Promise<void> {
  const concurrency = parseConcurrency(flags.concurrency);
  if (!config.queueUrl) {
    throw new UserInputError(
      'loralens worker needs a Redis queue: set REDIS_URL (or a redis:// LORALENS_STORE_URL).',
    );
  }
  const storage = openStorage(config.storeUrl);
  const service = createAuditService({ config, storage, logger });
  const until = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  try {
    await runWorker({ url: config.queueUrl, service, logger, concurrency, until });
  } finally {
    try {
      await service.close();
    } finally {
      await storage.close();
    }
  }
}
