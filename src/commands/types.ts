import type { APIEmbed, RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { z } from 'zod';
import type { AuditService } from '../analysis/audit/service.ts';
import type { Clock, Logger } from '../analysis/ports.ts';
import type { AuditRunner } from '../bot/audit-runner.ts';
import type { ModelSearchCache } from '../bot/autocomplete.ts';
import type { ChannelPoster } from '../bot/channel-poster.ts';
import type { ReportSettings } from '../bot/report/compose.ts';
import type { MessageKey, MessageParams } from '../i18n/index.ts';
import type { FeedbackStore } from '../storage/feedback-store.ts';
import type { SubscriptionsStore } from '../storage/subscriptions-store.ts';

/** A raw option value as Discord sends it (channels, users and roles arrive as ids). */
export type OptionValue = string | number | boolean;

export interface OutgoingFile {
  name: string;
  data: Buffer;
}

/** A message the bot sends, independent of discord.js. */
export interface OutgoingMessage {
  content: string;
  embeds?: APIEmbed[];
  files?: OutgoingFile[];
  /** Users this message may ping; nobody is pinged when absent. */
  mentionUserIds?: string[];
}

export interface SentMessage {
  id: string;
  channelId: string;
}

export interface ResolvedChannel {
  id: string;
  type: number;
  guildId: string | null;
}

export type ReplyState = 'fresh' | 'deferred' | 'deferred-ephemeral' | 'replied';

/** The narrow port a slash command sees: parsed-free raw options plus the reply verbs it may use. */
export interface CommandContext {
  readonly commandName: string;
  readonly subcommand: string | null;
  readonly options: Readonly<Record<string, OptionValue>>;
  readonly resolvedChannels: Readonly<Record<string, ResolvedChannel>>;
  /** The invoking user's Discord locale (`en-US`, `zh-CN`, `ja`, …). */
  readonly locale: string;
  readonly guildLocale: string | null;
  readonly userId: string;
  readonly guildId: string | null;
  readonly channelId: string;
  /** Whether the invoking channel is age-restricted. */
  readonly channelNsfw: boolean;
  /** Member permission bits in this channel; null outside a server. */
  readonly memberPermissions: bigint | null;
  /** Epoch ms when Discord created the interaction: its token dies 15 minutes later. */
  readonly createdAt: number;
  /** Largest file this channel accepts from the bot, in bytes. */
  readonly attachmentSizeLimit: number;
  readonly state: ReplyState;
  deferReply(options?: { ephemeral?: boolean }): Promise<void>;
  reply(message: OutgoingMessage & { ephemeral?: boolean }): Promise<void>;
  editReply(message: OutgoingMessage): Promise<SentMessage>;
  deleteReply(): Promise<void>;
  followUp(message: OutgoingMessage & { ephemeral?: boolean }): Promise<SentMessage>;
  /** Post to the invoking channel with the bot's own token (survives the interaction token). */
  sendChannelMessage(message: OutgoingMessage): Promise<SentMessage>;
}

export interface AutocompleteChoice {
  name: string;
  value: string;
}

export interface AutocompleteContext {
  readonly commandName: string;
  readonly subcommand: string | null;
  readonly focused: { name: string; value: string };
  readonly locale: string;
  respond(choices: AutocompleteChoice[]): Promise<void>;
}

export type GuardResult = { ok: true } | { ok: false; key: MessageKey; params?: MessageParams };
/** A precondition the dispatcher checks before `execute` (sapphire-style, returns a result). */
export type Guard = (ctx: CommandContext) => GuardResult;

/** Everything a command may use; built once by the composition root. */
export interface CommandDeps {
  service: AuditService;
  runner: AuditRunner;
  subscriptions: SubscriptionsStore;
  feedback: FeedbackStore;
  poster: ChannelPoster;
  search: ModelSearchCache;
  scheduler: { changed(): void };
  clock: Clock;
  logger: Logger;
  report: ReportSettings;
}

/** One slash command: Discord definition, guards, and handlers. */
export interface Command {
  data: RESTPostAPIChatInputApplicationCommandsJSONBody;
  guards?: readonly Guard[];
  execute(ctx: CommandContext, deps: CommandDeps): Promise<void>;
  autocomplete?(ctx: AutocompleteContext, deps: CommandDeps): Promise<void>;
}

/** Runtime check that a loaded module really is a command (like the create-discord-bot template). */
export const CommandShape = z.object({
  data: z.object({
    name: z.string().regex(/^[-_\p{L}\p{N}]{1,32}$/u),
    description: z.string().min(1).max(100),
  }),
  execute: z.custom<Command['execute']>((v) => typeof v === 'function'),
  autocomplete: z.custom<Command['autocomplete']>((v) => typeof v === 'function').optional(),
  guards: z.array(z.custom<Guard>((v) => typeof v === 'function')).optional(),
});
