import { createHash } from 'node:crypto';
import type { AuditResult, AuditService } from '../analysis/audit/service.ts';
import type { AuditSelection, BiasReference } from '../analysis/audit/types.ts';
import { AppError, ErrorCode, hasCode } from '../analysis/errors.ts';
import type { Clock, Logger, ProgressEvent } from '../analysis/ports.ts';
import type { AuditQueue, JobListener, JobRequest, QueueBusy, SubmitOutcome } from '../commands/ports.ts';
import { t } from '../i18n/index.ts';
import type { JobQueueStore, JobRequester, PersistedJob } from '../storage/job-queue.ts';

const RESTART_SENTENCE = t('en', 'error.ABORTED');

interface Job {
  key: string;
  /** Who asked first: the job counts against this user's and server's limits. */
  owner: JobRequester;
  selection: AuditSelection;
  maxBrowsingLevel: number;
  reference: BiasReference | undefined;
  requesters: Array<{ requester: JobRequester; listener: JobListener }>;
  state: 'queued' | 'running';
  enqueuedAt: number;
  abort: AbortController;
  lastProgress: ProgressEvent | null;
}

export interface AuditRunnerOptions {
  service: AuditService;
  store: JobQueueStore;
  clock: Clock;
  logger: Logger;
  concurrency: number;
  /** Builds channel delivery for requesters restored after a restart. */
  restoreListener: (requester: JobRequester) => JobListener;
  /** Most unfinished (queued or running) audits; defaults {@link DEFAULT_QUEUE_LIMITS}. */
  limits?: QueueLimits;
}

/** The queue a bot process runs: in-process ({@link AuditRunner}) or BullMQ on Redis (bullmq-queue.ts). */
export interface BotAuditQueue extends AuditQueue {
  /** Requests of this process still waiting. */
  readonly queued: number;
  /** Called once the gateway is ready: resume what a previous process left. */
  start(): Promise<void>;
  /** Stop taking requests; running work finishes within `graceMs` or is kept for the next start. */
  stop(graceMs: number): Promise<void>;
}

/** Caps on unfinished audits started from slash commands (weekly reports are not capped). */
export interface QueueLimits {
  perUser: number;
  perGuild: number;
  total: number;
}

export const DEFAULT_QUEUE_LIMITS: QueueLimits = { perUser: 3, perGuild: 10, total: 100 };

/** Deduplication key: identical selection, browsing level and bias reference share one job. */
export function jobKey(
  selection: AuditSelection,
  maxBrowsingLevel: number,
  reference?: BiasReference,
): string {
  // No reference (the population) keeps the key it had before references existed.
  const canonical = JSON.stringify({
    selection: sortKeys(selection),
    maxBrowsingLevel,
    ...(reference ? { reference: sortKeys(reference) } : {}),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 24);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

/**
 * Runs audits a few at a time, in order, with identical requests sharing one job. A new job from
 * a slash command is refused (a result, not a throw) when its user, server or the whole bot has
 * reached the limit of unfinished audits; joining an identical job is always allowed. Every queued
 * or running job is persisted; `stop` lets running jobs finish within a grace period, then aborts
 * them, and `resume` re-queues what the previous process left (results go to the channel).
 */
export class AuditRunner implements BotAuditQueue {
  readonly #opts: AuditRunnerOptions;
  readonly #limits: QueueLimits;
  readonly #jobs = new Map<string, Job>();
  readonly #queue: Job[] = [];
  readonly #running = new Set<Promise<void>>();
  #accepting = true;

  constructor(options: AuditRunnerOptions) {
    this.#opts = options;
    this.#limits = options.limits ?? DEFAULT_QUEUE_LIMITS;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** Number of jobs waiting (not running). */
  get queued(): number {
    return this.#queue.length;
  }

  /** Whether a new request would be refused now; null when it would be queued or joined. */
  busy(request: Omit<JobRequest, 'listener'>): QueueBusy | null {
    const { requester } = request;
    // Weekly reports and restored jobs are not capped; duplicates join the job already there.
    if (requester.kind !== 'interaction') return null;
    if (this.#jobs.has(jobKey(request.selection, request.maxBrowsingLevel, request.reference))) return null;
    const position = this.#queue.length + (this.#running.size < this.#opts.concurrency ? 0 : 1);
    const jobs = [...this.#jobs.values()];
    const limits = this.#limits;
    if (requester.userId !== null) {
      const mine = jobs.filter((j) => j.owner.userId === requester.userId).length;
      if (mine >= limits.perUser) return { reason: 'user', limit: limits.perUser, position };
    }
    if (requester.guildId !== null) {
      const server = jobs.filter((j) => j.owner.guildId === requester.guildId).length;
      if (server >= limits.perGuild) return { reason: 'guild', limit: limits.perGuild, position };
    }
    if (jobs.length >= limits.total) return { reason: 'total', limit: limits.total, position };
    return null;
  }

  /**
   * Queue an audit or join the identical one already queued/running; refused as busy (see
   * {@link busy}) when a limit is reached. Throws ABORTED while stopping.
   */
  async submit(request: JobRequest): Promise<SubmitOutcome> {
    return this.#submit(request, true);
  }

  async #submit(request: JobRequest, limited: boolean): Promise<SubmitOutcome> {
    if (!this.#accepting) {
      throw new AppError(ErrorCode.ABORTED, 'The bot is shutting down and takes no new jobs.');
    }
    const key = jobKey(request.selection, request.maxBrowsingLevel, request.reference);
    const existing = this.#jobs.get(key);
    if (existing) {
      existing.requesters.push({ requester: request.requester, listener: request.listener });
      await this.#persist(existing);
      const position = existing.state === 'running' ? 0 : this.#queue.indexOf(existing) + 1;
      request.listener.onEvent?.({ type: 'joined' });
      return { accepted: true, key, position, shared: true };
    }
    const busy = limited ? this.busy(request) : null;
    if (busy) return { accepted: false, busy };
    const job: Job = {
      key,
      owner: request.requester,
      selection: request.selection,
      maxBrowsingLevel: request.maxBrowsingLevel,
      reference: request.reference,
      requesters: [{ requester: request.requester, listener: request.listener }],
      state: 'queued',
      enqueuedAt: this.#opts.clock.now(),
      abort: new AbortController(),
      lastProgress: null,
    };
    this.#jobs.set(key, job);
    this.#queue.push(job);
    await this.#persist(job);
    this.#pump();
    const position = job.state === 'running' ? 0 : this.#queue.indexOf(job) + 1;
    if (position > 0) request.listener.onEvent?.({ type: 'queued', position });
    return { accepted: true, key, position, shared: false };
  }

  async start(): Promise<void> {
    await this.resume();
  }

  /** Re-queue jobs a previous process persisted; their results are posted to the channels. */
  async resume(): Promise<number> {
    const saved = await this.#opts.store.list();
    for (const persisted of saved) {
      const [first, ...others] = persisted.requesters;
      if (!first) {
        await this.#opts.store.remove(persisted.key);
        continue;
      }
      // A restored job is never refused: it was accepted before the restart.
      const restore = (requester: JobRequester) =>
        this.#submit(
          {
            selection: persisted.selection,
            maxBrowsingLevel: persisted.maxBrowsingLevel,
            ...(persisted.reference ? { reference: persisted.reference } : {}),
            requester,
            listener: this.#opts.restoreListener(requester),
          },
          false,
        );
      await restore(first);
      for (const requester of others) await restore(requester);
    }
    if (saved.length > 0) this.#opts.logger.info({ jobs: saved.length }, 'resumed persisted audit jobs');
    return saved.length;
  }

  /**
   * Stop taking jobs; let running ones finish for `graceMs`, then abort them. Queued and aborted
   * jobs stay persisted for the next start.
   */
  async stop(graceMs: number): Promise<void> {
    this.#accepting = false;
    // Queued jobs stay persisted for the next start; their requesters are told now.
    const queued = this.#queue.splice(0);
    const aborted = new AppError(ErrorCode.ABORTED, 'Shutting down before the job started', {
      userMessage: RESTART_SENTENCE,
    });
    await Promise.all(
      queued.flatMap((job) => {
        this.#jobs.delete(job.key);
        return job.requesters.map(({ listener }) =>
          listener
            .fail(aborted)
            .catch((error: unknown) => this.#opts.logger.error({ err: error }, 'notify failed')),
        );
      }),
    );
    if (this.#running.size === 0) return;
    const all = Promise.allSettled([...this.#running]);
    const timedOut = await Promise.race([
      all.then(() => false),
      this.#opts.clock.sleep(graceMs).then(() => true),
    ]);
    if (timedOut) {
      for (const job of this.#jobs.values()) {
        if (job.state === 'running')
          job.abort.abort(
            new AppError(ErrorCode.ABORTED, 'Shutting down', { userMessage: RESTART_SENTENCE }),
          );
      }
      await all;
    }
  }

  #pump(): void {
    while (this.#accepting && this.#running.size < this.#opts.concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift();
      if (!job) break;
      job.state = 'running';
      const run = this.#run(job).finally(() => {
        this.#running.delete(run);
        this.#pump();
      });
      this.#running.add(run);
      this.#queue.forEach((queued, index) => {
        for (const r of queued.requesters) r.listener.onEvent?.({ type: 'queued', position: index + 1 });
      });
    }
  }

  async #run(job: Job): Promise<void> {
    const log = this.#opts.logger.child({ job: job.key, selection: job.selection.kind });
    for (const r of job.requesters) r.listener.onEvent?.({ type: 'started' });
    let result: AuditResult | undefined;
    let failure: unknown;
    const started = this.#opts.clock.now();
    try {
      result = await this.#opts.service.audit(
        job.selection,
        { maxBrowsingLevel: job.maxBrowsingLevel, ...(job.reference ? { reference: job.reference } : {}) },
        {
          signal: job.abort.signal,
          onProgress: (progress) => {
            job.lastProgress = progress;
            for (const r of job.requesters) r.listener.onEvent?.({ type: 'progress', progress });
          },
        },
      );
      log.info({ ms: this.#opts.clock.now() - started, models: result.models.length }, 'audit job finished');
    } catch (error) {
      failure = job.abort.signal.aborted
        ? new AppError(ErrorCode.ABORTED, 'Aborted at shutdown', {
            cause: error,
            userMessage: RESTART_SENTENCE,
          })
        : error;
    }
    this.#jobs.delete(job.key);
    const aborted = hasCode(failure, ErrorCode.ABORTED);
    // An aborted job stays persisted so the next start runs it again.
    if (!aborted)
      await this.#opts.store.remove(job.key).catch((e) => log.error({ err: e }, 'job store remove failed'));
    await Promise.all(
      job.requesters.map(async ({ listener }) => {
        try {
          if (result) await listener.deliver(result);
          else await listener.fail(failure);
        } catch (error) {
          log.error({ err: error }, 'delivering an audit result failed');
        }
      }),
    );
  }

  async #persist(job: Job): Promise<void> {
    const persisted: PersistedJob = {
      key: job.key,
      selection: job.selection,
      maxBrowsingLevel: job.maxBrowsingLevel,
      ...(job.reference ? { reference: job.reference } : {}),
      requesters: job.requesters.map((r) => r.requester),
      enqueuedAt: job.enqueuedAt,
    };
    await this.#opts.store.save(persisted);
  }
}
