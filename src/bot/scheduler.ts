import type { Clock, Logger } from '../analysis/ports.ts';
import { nextWeeklyRun } from '../commands/weekly-slot.ts';
import type { Subscription, SubscriptionsStore } from '../storage/subscriptions-store.ts';

const CLAIMED_RETRY_MS = 1_000;

export interface SchedulerOptions {
  store: SubscriptionsStore;
  clock: Clock;
  logger: Logger;
  /** Start one weekly report (queue the audit); errors are logged, not rethrown. */
  run: (subscription: Subscription) => Promise<void>;
  /**
   * Claim a due slot before running it; false means another process already did (several bot
   * processes on one Redis). Default: always true (one process).
   */
  claim?: (subscription: Subscription) => Promise<boolean>;
  /** Whether this process serves the subscription at all (a shard serves its own servers). */
  owns?: (subscription: Subscription) => boolean;
  /** Longest sleep between checks, so clock drift and store edits by others are noticed. */
  maxSleepMs?: number;
}

/**
 * Weekly subscription scheduler over an injected clock. Each due subscription runs once and is
 * moved to its next slot after `now` before the run starts, so a bot that was down for three
 * weeks catches up with one report, not three, and a crash mid-run does not repeat it.
 */
export class SubscriptionScheduler {
  readonly #opts: SchedulerOptions;
  #wake = new AbortController();
  #stopped = true;
  #loop: Promise<void> | null = null;

  constructor(options: SchedulerOptions) {
    this.#opts = options;
  }

  /** Run every subscription that is due now; resolves how many ran. */
  async tick(): Promise<number> {
    const now = this.#opts.clock.now();
    const subs = await this.#opts.store.listAll();
    let ran = 0;
    for (const sub of subs) {
      if (sub.nextRunAt > now) continue;
      if (this.#opts.owns && !this.#opts.owns(sub)) continue;
      if (this.#opts.claim && !(await this.#opts.claim(sub))) {
        this.#opts.logger.debug({ channel: sub.channelId }, 'weekly report claimed by another process');
        continue;
      }
      const next = { ...sub, lastRunAt: now, nextRunAt: nextWeeklyRun(sub, now) };
      await this.#opts.store.put(next);
      this.#opts.logger.info(
        {
          channel: sub.channelId,
          due: new Date(sub.nextRunAt).toISOString(),
          next: new Date(next.nextRunAt).toISOString(),
        },
        'weekly report due',
      );
      ran++;
      try {
        await this.#opts.run(next);
      } catch (error) {
        this.#opts.logger.error({ err: error, channel: sub.channelId }, 'weekly report could not start');
      }
    }
    return ran;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop = this.#run();
  }

  /** A subscription changed: re-read the store now. */
  changed(): void {
    this.#wake.abort();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake.abort();
    await this.#loop;
    this.#loop = null;
  }

  async #run(): Promise<void> {
    const maxSleep = this.#opts.maxSleepMs ?? 60_000;
    while (!this.#stopped) {
      let sleepMs = maxSleep;
      try {
        await this.tick();
        const owns = this.#opts.owns ?? (() => true);
        const subs = (await this.#opts.store.listAll()).filter(owns);
        const soonest = Math.min(...subs.map((s) => s.nextRunAt));
        const now = this.#opts.clock.now();
        // Still due after the tick: another process claimed it and is moving it; look again soon.
        if (Number.isFinite(soonest))
          sleepMs = Math.min(maxSleep, soonest > now ? soonest - now : CLAIMED_RETRY_MS);
      } catch (error) {
        this.#opts.logger.error({ err: error }, 'scheduler check failed');
      }
      if (this.#stopped) break;
      if (this.#wake.signal.aborted) this.#wake = new AbortController();
      try {
        await this.#opts.clock.sleep(sleepMs, this.#wake.signal);
      } catch {
        // woken up early by changed() or stop()
      }
    }
  }
}
