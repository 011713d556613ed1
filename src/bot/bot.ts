import { createRequire } from 'node:module';
import {
  Client,
  Events,
  GatewayIntentBits,
  type Interaction,
  type MessageReaction,
  type PartialMessageReaction,
  Partials,
  type PartialUser,
  type RESTOptions,
  type User,
} from 'discord.js';
import type { AuditService } from '../analysis/audit/service.ts';
import { AuditSelection } from '../analysis/audit/types.ts';
import { type Clock, type Logger, systemClock } from '../analysis/ports.ts';
import { browsingLevelFor } from '../commands/audit-request.ts';
import { commands as defaultCommands } from '../commands/index.ts';
import type { Command, CommandDeps } from '../commands/types.ts';
import { warmUpReports } from '../report/build.ts';
import type { StorageBackend } from '../storage/backend.ts';
import { createFeedbackStore, type FeedbackStore } from '../storage/feedback-store.ts';
import { createJobQueueStore, type JobRequester } from '../storage/job-queue.ts';
import {
  createSubscriptionsStore,
  type Subscription,
  type SubscriptionsStore,
} from '../storage/subscriptions-store.ts';
import { AuditRunner, type BotAuditQueue } from './audit-runner.ts';
import { ModelSearchCache } from './autocomplete.ts';
import { BullAuditQueue, type BullAuditQueueOptions } from './bullmq-queue.ts';
import { type ChannelPoster, restChannelPoster } from './channel-poster.ts';
import type { BotConfig } from './config.ts';
import { channelListener, type DeliveryDeps, interactionListener } from './delivery.ts';
import { autocompleteContext, commandContext } from './discord-context.ts';
import { loginError } from './discord-errors.ts';
import { createDispatcher, type Dispatcher } from './dispatcher.ts';
import { parseEmoji } from './emoji.ts';
import { handleReaction } from './feedback.ts';
import { SubscriptionScheduler } from './scheduler.ts';

export interface BotDeps {
  config: BotConfig;
  service: AuditService;
  storage: StorageBackend;
  logger: Logger;
  clock?: Clock;
  commands?: readonly Command[];
  /**
   * `redis://…` of a shared BullMQ queue: audits then run in `loralens worker` processes and this
   * process only talks to Discord, enqueues and delivers. Unset: the in-process queue.
   */
  queueUrl?: string;
  /** Tuning of the BullMQ queue (tests shorten the heartbeat and sweep). */
  queueOptions?: Pick<
    BullAuditQueueOptions,
    'heartbeatTtlMs' | 'sweepIntervalMs' | 'repairAfterMs' | 'attempts'
  >;
}

export interface Bot {
  readonly client: Client;
  readonly runner: BotAuditQueue;
  readonly scheduler: SubscriptionScheduler;
  readonly feedback: FeedbackStore;
  readonly subscriptions: SubscriptionsStore;
  readonly poster: ChannelPoster;
  readonly dispatcher: Dispatcher;
  /** Log in and resolve once the gateway is ready (scheduler started, persisted jobs resumed). */
  start(): Promise<void>;
  /** Graceful stop: no new jobs, running ones finish or are persisted, gateway closed. Storage stays open. */
  stop(): Promise<void>;
}

/**
 * An HTTP agent from the undici copy @discordjs/rest itself bundles. Without it discord.js uses
 * undici's process-wide dispatcher, which the project's newer undici (loaded by the Civitai client)
 * installs first; that dispatcher cannot send the older copy's FormData, so every upload fails
 * with "action is not a function".
 */
function discordRestAgent(): RESTOptions['agent'] {
  const fromDiscord = createRequire(createRequire(import.meta.url).resolve('discord.js'));
  const fromRest = createRequire(fromDiscord.resolve('@discordjs/rest'));
  const { Agent } = fromRest('undici') as {
    Agent: new (options: object) => NonNullable<RESTOptions['agent']>;
  };
  return new Agent({ connect: { timeout: 30_000 } });
}

const WEEK_MS = 7 * 24 * 3_600_000;

/**
 * Whether this client (one shard of a sharded bot, or the whole bot) serves a server: Discord's
 * rule is shard = (guild_id >> 22) % shard_count. Servers-less subscriptions belong to shard 0.
 */
export function ownsGuild(client: Pick<Client, 'shard'>, guildId: string | null): boolean {
  const shard = client.shard;
  if (!shard || shard.count <= 1) return true;
  const id = guildId === null ? 0 : Number((BigInt(guildId) >> 22n) % BigInt(shard.count));
  return shard.ids.includes(id);
}

/** Compose the Discord bot: client, stores, runner, scheduler, dispatcher and event wiring. */
export function createBot(deps: BotDeps): Bot {
  const { config, service, storage } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger.child({ component: 'bot' });
  const emoji = parseEmoji(config.feedbackEmoji);
  const feedback = createFeedbackStore(storage, { disputeThreshold: config.disputeVotes });
  const subscriptions = createSubscriptionsStore(storage);

  const restAgent = discordRestAgent();
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessageReactions],
    partials: [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User],
    rest: { agent: restAgent, ...(config.apiUrl ? { api: config.apiUrl } : {}) },
    allowedMentions: { parse: [] },
  });
  const poster = restChannelPoster(client.rest);
  const settings = {
    feedbackEmoji: config.feedbackEmoji,
    feedbackItems: config.feedbackItems,
    progressIntervalMs: config.progressIntervalMs,
  };
  const delivery: DeliveryDeps = {
    feedback,
    fetchImage: (url, signal) => service.fetchImage(url, signal),
    poster,
    clock,
    logger,
    settings,
    emoji,
  };
  const limits = { perUser: config.queuePerUser, perGuild: config.queuePerGuild, total: config.queueTotal };
  const restoreListener = (requester: JobRequester) => channelListener(requester, delivery);
  const bull = deps.queueUrl
    ? new BullAuditQueue({
        url: deps.queueUrl,
        logger,
        limits,
        restoreListener,
        ...deps.queueOptions,
      })
    : undefined;
  const runner: BotAuditQueue =
    bull ??
    new AuditRunner({
      service,
      store: createJobQueueStore(storage),
      clock,
      logger: logger.child({ component: 'runner' }),
      concurrency: config.jobConcurrency,
      limits,
      restoreListener,
    });

  const runSubscription = async (sub: Subscription): Promise<void> => {
    let channel: Awaited<ReturnType<ChannelPoster['channelInfo']>>;
    try {
      channel = await poster.channelInfo(sub.channelId);
    } catch (error) {
      // 10003 Unknown Channel: the channel was deleted, so its subscription goes too.
      if ((error as { code?: unknown }).code === 10003) {
        await subscriptions.remove(sub.channelId);
        logger.warn(
          { channel: sub.channelId, guild: sub.guildId },
          'subscribed channel is gone; subscription removed',
        );
        return;
      }
      throw error;
    }
    const selection = AuditSelection.parse({
      kind: 'top',
      n: sub.n,
      types: sub.types,
      sort: 'Most Downloaded',
      period: 'Week',
      to: new Date(clock.now()).toISOString().slice(0, 10),
      nsfw: channel.nsfw,
    });
    const requester = {
      kind: 'subscription' as const,
      guildId: sub.guildId,
      channelId: sub.channelId,
      userId: null,
      locale: sub.locale,
      nsfw: channel.nsfw,
    };
    await runner.submit({
      selection,
      maxBrowsingLevel: browsingLevelFor(channel.nsfw),
      requester,
      listener: channelListener(requester, delivery),
    });
  };
  const scheduler = new SubscriptionScheduler({
    store: subscriptions,
    clock,
    logger: logger.child({ component: 'scheduler' }),
    run: runSubscription,
    // With several bot processes on one Redis, each due slot is claimed once (the others skip it).
    ...(bull
      ? { claim: (sub: Subscription) => bull.claimOnce(`weekly:${sub.channelId}:${sub.nextRunAt}`, WEEK_MS) }
      : {}),
    // A sharded bot: each shard runs the subscriptions of its own servers.
    owns: (sub: Subscription) => ownsGuild(client, sub.guildId),
  });

  const commandDeps: CommandDeps = {
    service,
    runner,
    subscriptions,
    feedback,
    search: new ModelSearchCache({ service, clock, logger }),
    deliver: (ctx) => interactionListener(ctx, delivery).listener,
    scheduler,
    clock,
    logger,
  };
  const dispatcher = createDispatcher(deps.commands ?? defaultCommands, commandDeps);

  client.on(Events.InteractionCreate, (interaction: Interaction) => {
    const work = interaction.isChatInputCommand()
      ? dispatcher.handleCommand(commandContext(interaction, poster))
      : interaction.isAutocomplete()
        ? dispatcher.handleAutocomplete(autocompleteContext(interaction))
        : Promise.resolve();
    work.catch((error: unknown) => logger.error({ err: error }, 'interaction handler failed'));
  });

  const onReaction =
    (kind: 'add' | 'remove') =>
    (reaction: MessageReaction | PartialMessageReaction, user: User | PartialUser): void => {
      handleReaction(
        {
          kind,
          messageId: reaction.message.id,
          userId: user.id,
          emoji: { id: reaction.emoji.id, name: reaction.emoji.name },
          byBot: user.bot === true || user.id === client.user?.id,
        },
        { feedback, emoji, clock, logger },
      ).catch((error: unknown) => logger.error({ err: error }, 'feedback reaction failed'));
    };
  client.on(Events.MessageReactionAdd, onReaction('add'));
  client.on(Events.MessageReactionRemove, onReaction('remove'));
  client.on(Events.Error, (error) => logger.error({ err: error }, 'discord client error'));
  client.on(Events.Warn, (message) => logger.warn({ message }, 'discord client warning'));

  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    readyResolve = resolve;
  });
  client.once(Events.ClientReady, (c) => {
    logger.info({ user: c.user.id, guilds: c.guilds.cache.size }, 'connected to Discord');
    scheduler.start();
    runner.start().catch((error: unknown) => logger.error({ err: error }, 'resuming persisted jobs failed'));
    readyResolve();
  });

  let stopping: Promise<void> | null = null;
  return {
    client,
    runner,
    scheduler,
    feedback,
    subscriptions,
    poster,
    dispatcher,
    async start() {
      // Fonts and canvas load now, not during the first report while interactions wait.
      await warmUpReports();
      try {
        await client.login(config.token);
      } catch (error) {
        throw loginError(error, config.apiUrl);
      }
      await ready;
    },
    stop() {
      stopping ??= (async () => {
        logger.info({ running: runner.queued }, 'shutting down');
        await scheduler.stop();
        await runner.stop(config.shutdownGraceMs);
        await client.destroy();
        await restAgent?.close().catch(() => undefined);
        logger.info({}, 'stopped');
      })();
      return stopping;
    },
  };
}
