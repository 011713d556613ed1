import type { RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { z } from 'zod';
import type { AuditService } from '../analysis/audit/service.ts';
import type { Clock, Logger } from '../analysis/ports.ts';
import type { MessageKey, MessageParams } from '../i18n/index.ts';
import type { FeedbackStore } from '../storage/feedback-store.ts';
import type { SubscriptionsStore } from '../storage/subscriptions-store.ts';
import type {
  AuditQueue,
  AutocompleteContext,
  CommandContext,
  InteractionDelivery,
  ModelSearch,
} from './ports.ts';

export type {
  AutocompleteChoice,
  AutocompleteContext,
  CommandContext,
  OptionValue,
  OutgoingFile,
  OutgoingMessage,
  ReplyState,
  ResolvedChannel,
  SentMessage,
} from './ports.ts';

export type GuardResult = { ok: true } | { ok: false; key: MessageKey; params?: MessageParams };
/** A precondition the dispatcher checks before `execute` (sapphire-style, returns a result). */
export type Guard = (ctx: CommandContext) => GuardResult;

/** Everything a command may use; built once by the composition root. */
export interface CommandDeps {
  service: AuditService;
  runner: AuditQueue;
  subscriptions: SubscriptionsStore;
  feedback: FeedbackStore;
  search: ModelSearch;
  /** The listener that shows an audit's progress and report in the interaction's reply. */
  deliver: InteractionDelivery;
  scheduler: { changed(): void };
  clock: Clock;
  logger: Logger;
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
