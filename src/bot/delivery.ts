import type { AuditResult } from '../analysis/audit/service.ts';
import type { Clock, Logger, ProgressEvent } from '../analysis/ports.ts';
import { DiscordLimits, truncate } from '../commands/discord-limits.ts';
import type {
  CommandContext,
  JobEvent,
  JobListener,
  OutgoingMessage,
  SentMessage,
} from '../commands/ports.ts';
import { type MessageKey, t } from '../i18n/index.ts';
import type { FeedbackStore } from '../storage/feedback-store.ts';
import type { JobRequester } from '../storage/job-queue.ts';
import type { ChannelPoster } from './channel-poster.ts';
import { escapeUserText } from './discord-text.ts';
import type { FeedbackEmoji } from './emoji.ts';
import { describeError } from './error-view.ts';
import { type ComposedReport, composeReport, type ReportSettings } from './report/compose.ts';

export interface DeliveryDeps {
  feedback: FeedbackStore;
  fetchImage: (url: string, signal?: AbortSignal) => Promise<Buffer>;
  poster: ChannelPoster;
  clock: Clock;
  logger: Logger;
  settings: ReportSettings;
  emoji: FeedbackEmoji;
}

interface Sink {
  main(message: OutgoingMessage): Promise<SentMessage>;
  extra(message: OutgoingMessage): Promise<SentMessage>;
}

/** Send a composed report, then one votable line per flagged item (linked for reaction feedback). */
async function sendReport(report: ComposedReport, sink: Sink, deps: DeliveryDeps): Promise<SentMessage> {
  const main = await sink.main(report.message);
  for (const line of report.items) {
    const sent = await sink.extra({ content: line.content });
    await deps.feedback.linkMessage(sent.id, line.item, deps.clock.now());
    try {
      await deps.poster.addReaction(sent.channelId, sent.id, deps.emoji);
    } catch (error) {
      deps.logger.warn({ err: error, messageId: sent.id }, 'could not seed the feedback reaction');
    }
  }
  return main;
}

const STAGE_KEYS: Record<string, MessageKey> = {
  fetching: 'progress.stage.fetching',
  fetch: 'progress.stage.fetching',
  scoring: 'progress.stage.scoring',
  score: 'progress.stage.scoring',
  images: 'progress.stage.images',
  comments: 'progress.stage.comments',
  models: 'progress.stage.models',
};

/** The progress line shown while an audit runs (localized stage name when known). */
export function progressText(locale: string, event: ProgressEvent): string {
  const key = STAGE_KEYS[event.stage.toLowerCase()];
  const stage = key ? t(locale, key) : event.stage;
  const line = t(locale, 'progress.stage', { stage, done: event.done, total: event.total });
  return event.message ? `${line}\n-# ${truncate(escapeUserText(event.message), 300)}` : line;
}

/** Text for a job event, for the deferred reply. */
export function jobEventText(locale: string, event: JobEvent): string {
  if (event.type === 'queued') return t(locale, 'progress.queued', { position: event.position });
  if (event.type === 'started') return t(locale, 'progress.started');
  if (event.type === 'joined') return t(locale, 'progress.shared');
  return progressText(locale, event.progress);
}

/**
 * Edits the deferred reply at most once per interval; the latest text wins, a trailing edit is
 * flushed after the interval, and nothing is sent after `close()` (so the final report is never
 * overwritten by a late progress line).
 */
export class ProgressEditor {
  #lastAt = Number.NEGATIVE_INFINITY;
  #lastText = '';
  #pending: string | null = null;
  #timer = false;
  #closed = false;
  #inFlight: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly edit: (text: string) => Promise<unknown>,
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  push(text: string): void {
    if (this.#closed || text === this.#lastText) return;
    const wait = this.#lastAt + this.intervalMs - this.clock.now();
    if (wait <= 0 && !this.#timer) {
      this.#send(text);
      return;
    }
    this.#pending = text;
    if (!this.#timer) {
      this.#timer = true;
      void this.clock.sleep(Math.max(0, wait)).then(() => {
        this.#timer = false;
        const next = this.#pending;
        this.#pending = null;
        if (next !== null) this.push(next);
      });
    }
  }

  /** Stop editing and wait for an edit already on its way. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#pending = null;
    await this.#inFlight;
  }

  #send(text: string): void {
    this.#lastAt = this.clock.now();
    this.#lastText = text;
    this.#inFlight = this.#inFlight
      .then(() => (this.#closed ? undefined : this.edit(text)))
      .catch((error: unknown) => this.logger.warn({ err: error }, 'progress edit failed'));
  }
}

/** Whether the interaction token can still be used (15 minutes, minus a margin). */
export function tokenAlive(ctx: Pick<CommandContext, 'createdAt'>, clock: Clock): boolean {
  return clock.now() - ctx.createdAt < DiscordLimits.tokenLifeMs - DiscordLimits.tokenMarginMs;
}

function isExpiredTokenError(error: unknown): boolean {
  const e = error as { code?: unknown; status?: unknown };
  // 50027 Invalid Webhook Token, 10015 Unknown Webhook, 10062 Unknown interaction.
  return e.code === 50027 || e.code === 10015 || e.code === 10062 || e.status === 401;
}

function withMention(userId: string | null, locale: string, message: OutgoingMessage): OutgoingMessage {
  if (!userId) return message;
  const line = t(locale, 'report.expired', { mention: `<@${userId}>` });
  return {
    ...message,
    content: truncate([line, message.content].filter(Boolean).join('\n'), DiscordLimits.content),
    mentionUserIds: [userId],
  };
}

/** Listener that delivers into the interaction (edit + follow-ups) and falls back to the channel. */
export function interactionListener(
  ctx: CommandContext,
  deps: DeliveryDeps,
): { listener: JobListener; editor: ProgressEditor } {
  const editor = new ProgressEditor(
    (content) => ctx.editReply({ content }),
    deps.clock,
    deps.settings.progressIntervalMs,
    deps.logger,
  );
  const channelSink = (mention: boolean): Sink => {
    let first = true;
    return {
      main: (message) => {
        first = false;
        return ctx.sendChannelMessage(mention ? withMention(ctx.userId, ctx.locale, message) : message);
      },
      extra: (message) =>
        ctx.sendChannelMessage(first ? withMention(ctx.userId, ctx.locale, message) : message),
    };
  };
  const interactionSink: Sink = { main: (m) => ctx.editReply(m), extra: (m) => ctx.followUp(m) };
  const listener: JobListener = {
    onEvent(event) {
      if (tokenAlive(ctx, deps.clock)) editor.push(jobEventText(ctx.locale, event));
    },
    async deliver(result: AuditResult) {
      await editor.close();
      const report = await composeReport(
        {
          result,
          locale: ctx.locale,
          nsfwChannel: ctx.channelNsfw,
          attachmentLimit: ctx.attachmentSizeLimit,
        },
        {
          feedback: deps.feedback,
          fetchImage: deps.fetchImage,
          logger: deps.logger,
          settings: deps.settings,
        },
      );
      if (!tokenAlive(ctx, deps.clock)) {
        await sendReport(report, channelSink(true), deps);
        return;
      }
      try {
        await sendReport(report, interactionSink, deps);
      } catch (error) {
        if (!isExpiredTokenError(error)) throw error;
        deps.logger.warn({ err: error }, 'interaction token expired; posting the report to the channel');
        await sendReport(report, channelSink(true), deps);
      }
    },
    async fail(error) {
      await editor.close();
      await replyError(ctx, error, deps.logger, deps.clock);
    },
  };
  return { listener, editor };
}

/** Listener for a channel without an interaction: weekly reports and jobs restored after a restart. */
export function channelListener(requester: JobRequester, deps: DeliveryDeps): JobListener {
  const prefix = (message: OutgoingMessage): OutgoingMessage => {
    if (requester.kind === 'subscription') {
      const title = `**${t(requester.locale, 'report.scheduled')}**`;
      return {
        ...message,
        content: truncate([title, message.content].filter(Boolean).join('\n'), DiscordLimits.content),
      };
    }
    return withMention(requester.userId, requester.locale, message);
  };
  return {
    async deliver(result) {
      const report = await composeReport(
        {
          result,
          locale: requester.locale,
          nsfwChannel: requester.nsfw,
          attachmentLimit: DiscordLimits.defaultAttachmentBytes,
          // A weekly post carries the summary PDF in the guild's language and the CSV.
          purpose: requester.kind === 'subscription' ? 'weekly' : 'audit',
        },
        {
          feedback: deps.feedback,
          fetchImage: deps.fetchImage,
          logger: deps.logger,
          settings: deps.settings,
        },
      );
      await sendReport(
        report,
        {
          main: (m) => deps.poster.send(requester.channelId, prefix(m)),
          extra: (m) => deps.poster.send(requester.channelId, m),
        },
        deps,
      );
    },
    async fail(error) {
      const view = describeError(error, requester.locale);
      if (view.reference)
        deps.logger.error({ err: view.error, reference: view.reference }, 'scheduled audit failed');
      else deps.logger.warn({ code: view.error.code }, 'scheduled audit failed');
      await deps.poster.send(requester.channelId, prefix({ content: view.sentence }));
    },
  };
}

/**
 * The error boundary's reply: one ephemeral sentence. A public deferred reply is deleted first so
 * the sentence can be ephemeral; an expired token falls back to a channel message with a mention.
 */
export async function replyError(
  ctx: CommandContext,
  error: unknown,
  logger: Logger,
  clock: Clock,
): Promise<void> {
  const view = describeError(error, ctx.locale);
  if (view.reference) {
    logger.error(
      { err: view.error, reference: view.reference, command: ctx.commandName, code: view.error.code },
      'command failed',
    );
  } else {
    logger.info({ command: ctx.commandName, code: view.error.code }, 'command refused');
  }
  const message = { content: view.sentence, ephemeral: true };
  try {
    if (ctx.state === 'fresh') await ctx.reply(message);
    else if (!tokenAlive(ctx, clock)) {
      await ctx.sendChannelMessage({
        content: `<@${ctx.userId}> ${view.sentence}`,
        mentionUserIds: [ctx.userId],
      });
    } else if (ctx.state === 'deferred') {
      await ctx.deleteReply();
      await ctx.followUp(message);
    } else if (ctx.state === 'deferred-ephemeral') await ctx.editReply({ content: view.sentence });
    else await ctx.followUp(message);
  } catch (sendError) {
    logger.error({ err: sendError, reference: view.reference }, 'could not tell the user about an error');
  }
}
