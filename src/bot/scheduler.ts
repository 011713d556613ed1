import type { Clock, Logger } from '../analysis/ports.ts';
import { nextWeeklyRun } from '../commands/weekly-slot.ts';
import type { Subscription, SubscriptionsStore } from '../storage/subscriptions-store.ts';

export interface SchedulerOptions {
  store: SubscriptionsStore;
  clock: Clock;
  logger: Logger;
  /** Start one weekly report (queue the audit); errors are logged, not rethrown. */
  run: (subscription: Subscription) => Promise<void>;
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
        const subs = await this.#opts.store.listAll();
        const soonest = Math.min(...subs.map((s) => s.nextRunAt));
        if (Number.isFinite(soonest))
          sleepMs = Math.min(maxSleep, Math.max(0, soonest - this.#opts.clock.now()));
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
