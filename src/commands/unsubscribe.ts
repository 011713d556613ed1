import { InteractionContextType, PermissionFlagsBits } from 'discord.js';
import { z } from 'zod';
import { t } from '../i18n/index.ts';
import { guildOnly, requirePermission } from './guards.ts';
import { named } from './localize.ts';
import { parseOptions } from './shared.ts';
import { channelOption } from './subscribe.ts';
import type { Command } from './types.ts';

const UnsubscribeOptions = z.object({ channel: z.string().regex(/^\d{17,20}$/) });

export const unsubscribe = {
  data: {
    ...named('cmd.unsubscribe.name', 'cmd.unsubscribe.description'),
    default_member_permissions: String(PermissionFlagsBits.ManageChannels),
    contexts: [InteractionContextType.Guild],
    options: [channelOption('cmd.unsubscribe.opt.channel.description')],
  },
  guards: [guildOnly, requirePermission('ManageChannels')],

  async execute(ctx, deps) {
    const options = await parseOptions(ctx, UnsubscribeOptions);
    if (!options) return;
    const existing = await deps.subscriptions.get(options.channel);
    // Only this server's subscriptions may be removed from here.
    if (!existing || existing.guildId !== ctx.guildId) {
      await ctx.reply({
        content: t(ctx.locale, 'sub.none', { channel: `<#${options.channel}>` }),
        ephemeral: true,
      });
      return;
    }
    await deps.subscriptions.remove(options.channel);
    deps.scheduler.changed();
    deps.logger.info(
      { guild: ctx.guildId, channel: options.channel, by: ctx.userId },
      'subscription removed',
    );
    await ctx.reply({
      content: t(ctx.locale, 'sub.removed', { channel: `<#${options.channel}>` }),
      ephemeral: true,
    });
  },
} satisfies Command;
