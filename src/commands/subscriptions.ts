import { InteractionContextType } from 'discord.js';
import { t } from '../i18n/index.ts';
import { DiscordLimits, truncate } from './discord-limits.ts';
import { guildOnly } from './guards.ts';
import { named } from './localize.ts';
import { describeSubscription } from './subscribe.ts';
import type { Command } from './types.ts';

export const subscriptions = {
  data: {
    ...named('cmd.subscriptions.name', 'cmd.subscriptions.description'),
    contexts: [InteractionContextType.Guild],
  },
  guards: [guildOnly],

  async execute(ctx, deps) {
    const list = ctx.guildId === null ? [] : await deps.subscriptions.listGuild(ctx.guildId);
    if (list.length === 0) {
      await ctx.reply({ content: t(ctx.locale, 'sub.list.empty'), ephemeral: true });
      return;
    }
    const lines = list
      .sort((a, b) => a.nextRunAt - b.nextRunAt)
      .map((sub) => `• ${t(ctx.locale, 'sub.list.line', describeSubscription(ctx.locale, sub))}`);
    const content = truncate([t(ctx.locale, 'sub.list.header'), ...lines].join('\n'), DiscordLimits.content);
    await ctx.reply({ content, ephemeral: true });
  },
} satisfies Command;
