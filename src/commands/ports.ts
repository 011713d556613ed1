import type { APIEmbed } from 'discord.js';
import type { AuditResult } from '../analysis/audit/service.ts';
import type { AuditSelection, BiasReference } from '../analysis/audit/types.ts';
import type { ProgressEvent } from '../analysis/ports.ts';
import type { JobRequester } from '../storage/job-queue.ts';

/*
 * Ports the commands use and the bot implements (the interaction, the audit queue, model search,
 * interaction delivery). They live here so imports flow one way: bot → commands → app →
 * storage/analysis.
 */

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

/** What a waiting requester hears about its job. */
export type JobEvent =
  | { type: 'queued'; position: number }
  | { type: 'joined' }
  | { type: 'started' }
  | { type: 'progress'; progress: ProgressEvent };

/** A requester's in-memory callbacks; the persisted part ({@link JobRequester}) survives restarts. */
export interface JobListener {
  onEvent?(event: JobEvent): void;
  deliver(result: AuditResult): Promise<void>;
  fail(error: unknown): Promise<void>;
}

export interface JobRequest {
  selection: AuditSelection;
  maxBrowsingLevel: number;
  /** Bias reference of the audit (`/audit … reference:`); absent = the population (leave-one-out). */
  reference?: BiasReference;
  requester: JobRequester;
  listener: JobListener;
}

/** Why a request was not queued: its user, server or the whole bot has too many unfinished audits. */
export interface QueueBusy {
  reason: 'user' | 'guild' | 'total';
  /** The limit that was reached. */
  limit: number;
  /** The place in line the request would have taken. */
  position: number;
}

export type SubmitOutcome =
  | {
      accepted: true;
      key: string;
      /** 0 when the job runs now; otherwise its place in line. */
      position: number;
      /** True when an identical job was already queued or running and this request joined it. */
      shared: boolean;
    }
  | { accepted: false; busy: QueueBusy };

/** The audit queue as a command sees it. */
export interface AuditQueue {
  /** Whether a request would be refused now (a duplicate of a queued job never is). */
  busy(request: Omit<JobRequest, 'listener'>): QueueBusy | null;
  submit(request: JobRequest): Promise<SubmitOutcome>;
}

/** Model-name suggestions for `/audit model` autocomplete. */
export interface ModelSearch {
  choices(query: string): Promise<AutocompleteChoice[]>;
}

/** Builds the listener that shows a job's progress and result in an interaction's reply. */
export type InteractionDelivery = (ctx: CommandContext) => JobListener;
