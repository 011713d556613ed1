import { Cron } from 'croner';
import type { Subscription, Weekday } from '../storage/subscriptions-store.ts';

const CRON_DAY: Record<Weekday, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

/** Whether `timezone` is an IANA zone this runtime knows. */
export function isValidTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** Epoch ms of the first weekly slot (day, hour:00 in `timezone`) strictly after `after`. */
export function nextWeeklyRun(slot: Pick<Subscription, 'day' | 'hour' | 'timezone'>, after: number): number {
  const cron = new Cron(`0 0 ${slot.hour} * * ${CRON_DAY[slot.day]}`, {
    timezone: slot.timezone,
    paused: true,
  });
  const next = cron.nextRun(new Date(after));
  cron.stop();
  if (!next) throw new Error(`No next run for ${slot.day} ${slot.hour} ${slot.timezone}`);
  return next.getTime();
}
