import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { AuditResult } from '../analysis/audit/service.ts';
import { AppError, ErrorCode } from '../analysis/errors.ts';
import type { Logger, ProgressEvent } from '../analysis/ports.ts';
import type { JobListener, JobRequest, QueueBusy, SubmitOutcome } from '../commands/ports.ts';
import type { JobRequester } from '../storage/job-queue.ts';
import {
  AUDIT_JOB_VERSION,
  AUDIT_QUEUE_NAME,
  type AuditJobData,
  type AuditJobOptions,
  auditJobKey,
  decodeAuditResult,
  QueuedRequester,
} from '../storage/queue/audit-job.ts';
import { decodeFailure } from '../storage/queue/bullmq-worker.ts';
import { type BotAuditQueue, DEFAULT_QUEUE_LIMITS, type QueueLimits } from './audit-runner.ts';

export interface BullAuditQueueOptions {
  /** `redis://…` shared by every bot and worker process. */
  url: string;
  logger: Logger;
  /** Builds channel delivery for requesters whose bot process is gone. */
  restoreListener: (requester: JobRequester) => JobListener;
  limits?: QueueLimits;
  /** How long this process counts as alive after its last heartbeat (others then deliver its results). */
  heartbeatTtlMs?: number;
  /** How often finished jobs are looked for besides BullMQ's completion events (missed while down). */
  sweepIntervalMs?: number;
  /** A job accepted but never handed to BullMQ (its bot died in between) is re-added after this. */
  repairAfterMs?: number;
  /** Attempts per job (a stalled job from a killed worker counts one). */
  attempts?: number;
}

const PREFIX = 'loralens:audit:';
const DELIVERED_TTL_S = 7 * 24 * 3600;
/**
 * Deliveries of one result to one requester that may throw before it is given up (Discord down, a
 * network error after discord.js's own retries). A failed one releases its claim, so a later sweep
 * tries again with the same listener (or, for a requester of a dead bot, a new channel listener).
 */
export const MAX_DELIVERY_ATTEMPTS = 3;

/** Accept a request atomically: join the open job with the same key, refuse over a limit, or open one. */
const SUBMIT = `
local prefix = ARGV[1]
local jobId = redis.call('GET', KEYS[1])
if jobId then
  redis.call('HSET', prefix .. 'req:' .. jobId, ARGV[3], ARGV[4])
  return {'joined', jobId}
end
if ARGV[6] == '1' then
  local all = redis.call('HVALS', KEYS[2])
  local mine, server = 0, 0
  for _, v in ipairs(all) do
    local owner = cjson.decode(v).owner
    if ARGV[10] ~= '' and owner.userId == ARGV[10] then mine = mine + 1 end
    if ARGV[11] ~= '' and owner.guildId == ARGV[11] then server = server + 1 end
  end
  if ARGV[10] ~= '' and mine >= tonumber(ARGV[7]) then return {'busy', 'user', tostring(#all)} end
  if ARGV[11] ~= '' and server >= tonumber(ARGV[8]) then return {'busy', 'guild', tostring(#all)} end
  if #all >= tonumber(ARGV[9]) then return {'busy', 'total', tostring(#all)} end
end
jobId = ARGV[2] .. '-' .. redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[1], jobId)
redis.call('HSET', KEYS[2], jobId, ARGV[5])
redis.call('HSET', prefix .. 'req:' .. jobId, ARGV[3], ARGV[4])
redis.call('SADD', prefix .. 'pending', jobId)
return {'new', jobId}
`;

/** Delete a delivery claim only if this process holds it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** A finished job takes no more requesters: the next identical request opens a new job. */
const CLOSE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

interface OpenJob {
  owner: JobRequester;
  data: AuditJobData;
  createdAt: number;
}

/**
 * The audit queue of a bot process when Redis is configured: jobs go to BullMQ and run in
 * `loralens worker` processes; this process only enqueues, relays progress into message edits and
 * delivers results. Identical requests (same {@link auditJobKey}) share one open job, across bot
 * processes too. Every requester is delivered to once: a Redis marker keyed by job and requester is
 * claimed before posting, so a retried job, a second bot process or a restart cannot post twice; a
 * delivery that throws gives the claim back for a later sweep (at most {@link MAX_DELIVERY_ATTEMPTS}).
 * A requester whose bot process died (heartbeat expired) gets the result in its channel.
 */
export class BullAuditQueue implements BotAuditQueue {
  readonly instance = randomUUID();
  readonly redis: Redis;
  readonly #opts: BullAuditQueueOptions;
  readonly #limits: QueueLimits;
  readonly #queue: Queue;
  readonly #events: QueueEvents;
  readonly #log: Logger;
  /** jobId → requester id → live listener (only requesters of this process). */
  readonly #listeners = new Map<string, Map<string, JobListener>>();
  readonly #settling = new Map<string, Promise<void>>();
  #accepting = true;
  #timers: NodeJS.Timeout[] = [];
  #started = false;

  constructor(options: BullAuditQueueOptions) {
    this.#opts = options;
    this.#limits = options.limits ?? DEFAULT_QUEUE_LIMITS;
    this.#log = options.logger.child({ component: 'queue', instance: this.instance.slice(0, 8) });
    const connection = { url: options.url, maxRetriesPerRequest: null };
    this.redis = new Redis(options.url, { maxRetriesPerRequest: null, lazyConnect: false });
    this.redis.on('error', (error) => this.#log.warn({ err: error }, 'redis connection error'));
    this.#queue = new Queue(AUDIT_QUEUE_NAME, { connection });
    this.#queue.on('error', (error) => this.#log.warn({ err: error }, 'queue connection error'));
    this.#events = new QueueEvents(AUDIT_QUEUE_NAME, { connection });
    this.#events.on('error', (error) => this.#log.warn({ err: error }, 'queue events connection error'));
    this.#events.on('progress', ({ jobId, data }) => {
      const progress = data as ProgressEvent;
      if (typeof progress !== 'object' || progress === null || typeof progress.stage !== 'string') return;
      this.#notify(jobId, { type: 'progress', progress });
    });
    this.#events.on('active', ({ jobId }) => this.#notify(jobId, { type: 'started' }));
    this.#events.on('completed', ({ jobId }) => void this.settle(jobId));
    this.#events.on('failed', ({ jobId }) => void this.settle(jobId));
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** Requesters of this process still waiting for a result. */
  get queued(): number {
    let n = 0;
    for (const m of this.#listeners.values()) n += m.size;
    return n;
  }

  /** Limits are checked atomically in Redis by {@link submit}; nothing is refused early. */
  busy(_request: Omit<JobRequest, 'listener'>): QueueBusy | null {
    return null;
  }

  /** Start the heartbeat and the sweep; deliver whatever finished while no bot was watching. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const ttl = this.#opts.heartbeatTtlMs ?? 30_000;
    await this.#events.waitUntilReady();
    await this.#beat(ttl);
    this.#timers.push(setInterval(() => void this.#beat(ttl), Math.max(100, Math.floor(ttl / 3))));
    this.#timers.push(setInterval(() => void this.sweep(), this.#opts.sweepIntervalMs ?? 5_000));
    for (const t of this.#timers) t.unref();
    await this.sweep();
  }

  async submit(request: JobRequest): Promise<SubmitOutcome> {
    if (!this.#accepting) {
      throw new AppError(ErrorCode.ABORTED, 'The bot is shutting down and takes no new jobs.');
    }
    const options: AuditJobOptions = { maxBrowsingLevel: request.maxBrowsingLevel };
    const key = auditJobKey(request.selection, options);
    const data: AuditJobData = { version: AUDIT_JOB_VERSION, key, selection: request.selection, options };
    const requestId = randomUUID();
    const queued: QueuedRequester = { id: requestId, instance: this.instance, requester: request.requester };
    const open: OpenJob = { owner: request.requester, data, createdAt: Date.now() };
    const limited = request.requester.kind === 'interaction';
    const reply = (await this.redis.eval(
      SUBMIT,
      3,
      `${PREFIX}open:${key}`,
      `${PREFIX}jobs`,
      `${PREFIX}seq`,
      PREFIX,
      key,
      requestId,
      JSON.stringify(queued),
      JSON.stringify(open),
      limited ? '1' : '0',
      String(this.#limits.perUser),
      String(this.#limits.perGuild),
      String(this.#limits.total),
      request.requester.userId ?? '',
      request.requester.guildId ?? '',
    )) as [string, string, string?];
    const [outcome, value, count] = reply;
    if (outcome === 'busy') {
      const reason = value as QueueBusy['reason'];
      const limit =
        reason === 'user'
          ? this.#limits.perUser
          : reason === 'guild'
            ? this.#limits.perGuild
            : this.#limits.total;
      return { accepted: false, busy: { reason, limit, position: Number(count ?? 0) + 1 } };
    }
    const jobId = value;
    let local = this.#listeners.get(jobId);
    if (!local) {
      local = new Map();
      this.#listeners.set(jobId, local);
    }
    local.set(requestId, request.listener);
    if (outcome === 'joined') {
      request.listener.onEvent?.({ type: 'joined' });
      // The job may have finished between the script and now: settle delivers to this requester.
      void this.settle(jobId);
      return { accepted: true, key: jobId, position: 0, shared: true };
    }
    await this.#add(jobId, data);
    const waiting = await this.#queue.getWaitingCount().catch(() => 0);
    const position = Math.max(0, waiting);
    if (position > 0) request.listener.onEvent?.({ type: 'queued', position });
    return { accepted: true, key: jobId, position, shared: false };
  }

  /** Look at every job with undelivered requesters (missed events, dead bots, lost adds). */
  async sweep(): Promise<void> {
    try {
      const pending = await this.redis.smembers(`${PREFIX}pending`);
      await Promise.all(pending.map((jobId) => this.settle(jobId)));
    } catch (error) {
      this.#log.warn({ err: error }, 'queue sweep failed');
    }
  }

  /** Deliver a finished job to the requesters this process is responsible for. */
  settle(jobId: string): Promise<void> {
    const running = this.#settling.get(jobId);
    if (running) return running;
    const work = this.#settle(jobId)
      .catch((error: unknown) => this.#log.warn({ err: error, job: jobId }, 'settling a job failed'))
      .finally(() => this.#settling.delete(jobId));
    this.#settling.set(jobId, work);
    return work;
  }

  /** Claim a once-only slot (a weekly report run) across every process sharing this Redis. */
  async claimOnce(name: string, ttlMs: number): Promise<boolean> {
    const ok = await this.redis.set(`${PREFIX}once:${name}`, this.instance, 'PX', ttlMs, 'NX');
    return ok === 'OK';
  }

  /**
   * Stop taking requests and stop watching. Jobs keep running in the workers; this process's
   * heartbeat is removed so another bot (or the next start) posts their results to the channels.
   */
  async stop(_graceMs: number): Promise<void> {
    this.#accepting = false;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    await Promise.allSettled([...this.#settling.values()]);
    await this.redis.del(`${PREFIX}bot:${this.instance}`).catch(() => undefined);
    this.#listeners.clear();
    await Promise.allSettled([this.#events.close(), this.#queue.close()]);
    this.redis.disconnect();
  }

  async #beat(ttlMs: number): Promise<void> {
    try {
      await this.redis.set(`${PREFIX}bot:${this.instance}`, '1', 'PX', ttlMs);
    } catch (error) {
      this.#log.warn({ err: error }, 'heartbeat failed');
    }
  }

  async #add(jobId: string, data: AuditJobData): Promise<void> {
    await this.#queue.add('audit', data, {
      jobId,
      attempts: this.#opts.attempts ?? 3,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  #notify(jobId: string, event: Parameters<NonNullable<JobListener['onEvent']>>[0]): void {
    const local = this.#listeners.get(jobId);
    if (!local) return;
    for (const listener of local.values()) {
      try {
        listener.onEvent?.(event);
      } catch (error) {
        this.#log.warn({ err: error }, 'progress listener failed');
      }
    }
  }

  async #settle(jobId: string): Promise<void> {
    // State first, then the job: a job read before its state turned `completed` has no return value yet.
    const state = await this.#queue.getJobState(jobId);
    const job = state === 'completed' || state === 'failed' ? await this.#queue.getJob(jobId) : undefined;
    let outcome: { result: AuditResult } | { error: AppError };
    if (job && state === 'completed') {
      try {
        outcome = { result: decodeAuditResult(job.returnvalue) };
      } catch (error) {
        outcome = { error: error as AppError };
      }
    } else if (job && state === 'failed') outcome = { error: decodeFailure(job.failedReason) };
    else if (state === 'unknown') {
      const raw = await this.redis.hget(`${PREFIX}jobs`, jobId);
      if (raw) {
        // Accepted but never added (its bot died in between): add it now, once it is old enough.
        const open = JSON.parse(raw) as OpenJob;
        if (Date.now() - open.createdAt >= (this.#opts.repairAfterMs ?? 30_000)) {
          this.#log.warn({ job: jobId }, 're-adding an accepted job that never reached the queue');
          await this.#add(jobId, open.data);
        }
        return;
      }
      outcome = { error: new AppError(ErrorCode.INTERNAL, `Audit job ${jobId} disappeared from the queue`) };
    } else return;

    const key = jobId.slice(0, jobId.lastIndexOf('-'));
    await this.redis.eval(CLOSE, 2, `${PREFIX}open:${key}`, `${PREFIX}jobs`, jobId);
    const requesters = await this.redis.hgetall(`${PREFIX}req:${jobId}`);
    let undelivered = 0;
    for (const [requestId, raw] of Object.entries(requesters)) {
      const marker = `${PREFIX}done:${jobId}:${requestId}`;
      if ((await this.redis.exists(marker)) === 1) continue;
      const parsed = QueuedRequester.safeParse(JSON.parse(raw));
      const local = this.#listeners.get(jobId)?.get(requestId);
      if (!local && parsed.success) {
        // Our own requester without a listener yet (it joined a moment ago and registers next) or
        // another live bot's requester: not ours to deliver now; the sweep comes back.
        const ownerAlive =
          parsed.data.instance === this.instance ||
          (await this.redis.exists(`${PREFIX}bot:${parsed.data.instance}`)) === 1;
        if (ownerAlive) {
          undelivered++;
          continue;
        }
      }
      if ((await this.redis.set(marker, this.instance, 'EX', DELIVERED_TTL_S, 'NX')) !== 'OK') continue;
      const listener =
        local ?? (parsed.success ? this.#opts.restoreListener(parsed.data.requester) : undefined);
      // A local listener stays registered until its delivery succeeds or is given up (a retry uses it).
      const done = (): void => {
        this.#listeners.get(jobId)?.delete(requestId);
      };
      if (!listener) {
        done();
        continue;
      }
      try {
        if ('result' in outcome) await listener.deliver(outcome.result);
        else await listener.fail(outcome.error);
        done();
      } catch (error) {
        const attempts = await this.redis.hincrby(`${PREFIX}tries:${jobId}`, requestId, 1);
        await this.redis.expire(`${PREFIX}tries:${jobId}`, DELIVERED_TTL_S);
        const retry = attempts < MAX_DELIVERY_ATTEMPTS;
        this.#log.error(
          { err: error, job: jobId, attempt: attempts, retry },
          retry
            ? 'delivering an audit result failed; the sweep tries again'
            : 'delivering an audit result failed; given up',
        );
        if (retry) {
          // Give the claim back (only ours) so a later sweep delivers it.
          await this.redis.eval(RELEASE, 1, marker, this.instance);
          undelivered++;
        } else done();
      }
    }
    if (this.#listeners.get(jobId)?.size === 0) this.#listeners.delete(jobId);
    if (undelivered === 0) {
      await this.redis
        .multi()
        .srem(`${PREFIX}pending`, jobId)
        .del(`${PREFIX}req:${jobId}`)
        .del(`${PREFIX}tries:${jobId}`)
        .exec();
      // Everyone has the result: drop it (report files can be large) instead of keeping it a day.
      await this.#queue.remove(jobId).catch(() => undefined);
    }
  }
}
