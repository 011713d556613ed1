import {
  type APIApplicationCommandChannelOption,
  ApplicationCommandOptionType,
  ChannelType,
  InteractionContextType,
  PermissionFlagsBits,
} from 'discord.js';
import { z } from 'zod';
import { t } from '../i18n/index.ts';
import { type Subscription, Weekday } from '../storage/subscriptions-store.ts';
import { nOption, typesFor, typesOption } from './audit.ts';
import { guildOnly, requirePermission } from './guards.ts';
import { choice, named } from './localize.ts';
import { discordTime, parseOptions } from './shared.ts';
import type { Command, CommandContext } from './types.ts';
import { isValidTimezone, nextWeeklyRun } from './weekly-slot.ts';

const SubscribeOptions = z.object({
  channel: z.string().regex(/^\d{17,20}$/),
  day: Weekday.default('mon'),
  hour: z.number().int().min(0).max(23).default(9),
  n: z.number().int().min(1).max(200).default(20),
  types: z.enum(['all', 'LORA', 'LoCon', 'DoRA']).default('all'),
  // No min(1): a blank time zone gets the time-zone sentence (sub.badTimezone) below.
  timezone: z.string().trim().max(64).default('UTC'),
});

const TEXT_CHANNELS: readonly number[] = [ChannelType.GuildText, ChannelType.GuildAnnouncement];

/** Channel option limited to text channels of this server. */
export const channelOption = (
  descriptionKey: 'opt.channel.description' | 'cmd.unsubscribe.opt.channel.description',
): APIApplicationCommandChannelOption => ({
  type: ApplicationCommandOptionType.Channel,
  ...named('opt.channel.name', descriptionKey),
  required: true,
  channel_types: [ChannelType.GuildText, ChannelType.GuildAnnouncement],
});

/** Whether the channel option points at a text channel of the invoking server. */
export function channelInThisGuild(ctx: CommandContext, channelId: string): boolean {
  const resolved = ctx.resolvedChannels[channelId];
  if (!resolved) return false;
  if (!TEXT_CHANNELS.includes(resolved.type)) return false;
  return resolved.guildId === null || resolved.guildId === ctx.guildId;
}

/** One line describing a subscription, shared with /subscriptions. */
export function describeSubscription(locale: string, sub: Subscription): Record<string, string | number> {
  return {
    channel: `<#${sub.channelId}>`,
    n: sub.n,
    types: sub.types.join(' + '),
    day: t(locale, `day.${sub.day}`),
    hour: String(sub.hour).padStart(2, '0'),
    timezone: sub.timezone,
    next: discordTime(sub.nextRunAt),
  };
}

export const subscribe = {
  data: {
    ...named('cmd.subscribe.name', 'cmd.subscribe.description'),
    default_member_permissions: String(PermissionFlagsBits.ManageChannels),
    contexts: [InteractionContextType.Guild],
    options: [
      channelOption('opt.channel.description'),
      {
        type: ApplicationCommandOptionType.String,
        ...named('opt.day.name', 'opt.day.description'),
        required: false,
        choices: Weekday.options.map((d) => choice(`day.${d}`, d)),
      },
      {
        type: ApplicationCommandOptionType.Integer,
        ...named('opt.hour.name', 'opt.hour.description'),
        required: false,
        min_value: 0,
        max_value: 23,
      },
      nOption(false),
      typesOption,
      {
        type: ApplicationCommandOptionType.String,
        ...named('opt.timezone.name', 'opt.timezone.description'),
        required: false,
        max_length: 64,
      },
    ],
  },
  guards: [guildOnly, requirePermission('ManageChannels')],

  async execute(ctx, deps) {
    const options = await parseOptions(ctx, SubscribeOptions);
    if (!options) return;
    if (!channelInThisGuild(ctx, options.channel) || ctx.guildId === null) {
      await ctx.reply({ content: t(ctx.locale, 'sub.badChannel'), ephemeral: true });
      return;
    }
    if (!isValidTimezone(options.timezone)) {
      await ctx.reply({
        content: t(ctx.locale, 'sub.badTimezone', { timezone: options.timezone }),
        ephemeral: true,
      });
      return;
    }
    const now = deps.clock.now();
    const subscription: Subscription = {
      guildId: ctx.guildId,
      channelId: options.channel,
      day: options.day,
      hour: options.hour,
      timezone: options.timezone,
      n: options.n,
      types: typesFor(options.types),
      locale: ctx.guildLocale ?? ctx.locale,
      createdBy: ctx.userId,
      createdAt: now,
      nextRunAt: nextWeeklyRun({ day: options.day, hour: options.hour, timezone: options.timezone }, now),
      lastRunAt: null,
    };
    const replaced = await deps.subscriptions.put(subscription);
    deps.scheduler.changed();
    deps.logger.info(
      { guild: ctx.guildId, channel: options.channel, by: ctx.userId, replaced },
      'subscription saved',
    );
    await ctx.reply({
      content: t(
        ctx.locale,
        replaced ? 'sub.updated' : 'sub.created',
        describeSubscription(ctx.locale, subscription),
      ),
      ephemeral: true,
    });
  },
} satisfies Command;
