import type { Logger } from '../../../src/analysis/ports.ts';
import type { FakeDiscord, FakeInteraction, RecordedRequest } from '../../support/fake-discord/server.ts';
import { APP_ID } from './harness.ts';

export interface LogEntry {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A Logger that keeps every entry (to assert what was logged, and what never was). */
export function recordingLogger(
  entries: LogEntry[] = [],
  bindings: Record<string, unknown> = {},
): Logger & { entries: LogEntry[] } {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, obj: { ...bindings, ...(obj as Record<string, unknown>) }, msg });
    };
  return {
    entries,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => recordingLogger(entries, { ...bindings, ...more }),
  };
}

/** Poll until `fn` returns a truthy value. */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 5_000,
  label = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const isCallback = (i: FakeInteraction) => (r: RecordedRequest) =>
  r.method === 'POST' && r.path === `/interactions/${i.id}/${i.token}/callback`;
export const isOriginalEdit = (i: FakeInteraction) => (r: RecordedRequest) =>
  r.method === 'PATCH' && r.path === `/webhooks/${APP_ID}/${i.token}/messages/@original`;
export const isFollowUp = (i: FakeInteraction) => (r: RecordedRequest) =>
  r.method === 'POST' && r.path === `/webhooks/${APP_ID}/${i.token}`;
export const hasEmbeds = (r: RecordedRequest): boolean =>
  Array.isArray(r.body?.embeds) && r.body.embeds.length > 0;

/**
 * The final report edit of an interaction (the first edit carrying embeds). The report draws a chart
 * and a PDF; the first one in a process also loads the fonts, which takes seconds on a busy machine.
 */
export function finalEdit(
  discord: FakeDiscord,
  i: FakeInteraction,
  timeoutMs = 20_000,
): Promise<RecordedRequest> {
  return discord.waitFor((r) => isOriginalEdit(i)(r) && hasEmbeds(r), timeoutMs, `final edit of ${i.id}`);
}

export function embedsOf(r: RecordedRequest): Array<Record<string, unknown>> {
  return (r.body?.embeds as Array<Record<string, unknown>>) ?? [];
}

export function editsOf(discord: FakeDiscord, i: FakeInteraction): RecordedRequest[] {
  return discord.requests.filter(isOriginalEdit(i));
}

export const MANAGE_CHANNELS = 1n << 4n;
export const PLAIN_MEMBER = (1n << 10n) | (1n << 11n) | (1n << 31n);
