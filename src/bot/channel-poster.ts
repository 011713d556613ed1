import type { REST } from 'discord.js';
import { Routes } from 'discord.js';
import { z } from 'zod';
import type { OutgoingMessage, SentMessage } from '../commands/types.ts';
import { emojiRoute, type FeedbackEmoji } from './emoji.ts';

/** Channel-level Discord operations with the bot token (no interaction needed). */
export interface ChannelPoster {
  send(channelId: string, message: OutgoingMessage): Promise<SentMessage>;
  addReaction(channelId: string, messageId: string, emoji: FeedbackEmoji): Promise<void>;
  channelInfo(channelId: string): Promise<{ id: string; nsfw: boolean; guildId: string | null }>;
}

const MessageResponse = z.object({ id: z.string(), channel_id: z.string() });
const ChannelResponse = z.object({
  id: z.string(),
  nsfw: z.boolean().optional(),
  guild_id: z.string().optional(),
});

/** Message body in Discord's wire format, shared by every send path. */
export function messageBody(message: OutgoingMessage): Record<string, unknown> {
  return {
    content: message.content,
    embeds: message.embeds ?? [],
    allowed_mentions: { parse: [], users: message.mentionUserIds ?? [] },
    attachments: (message.files ?? []).map((f, id) => ({ id, filename: f.name })),
  };
}

/** {@link ChannelPoster} over discord.js's REST client. */
export function restChannelPoster(rest: REST): ChannelPoster {
  return {
    async send(channelId, message) {
      const raw = await rest.post(Routes.channelMessages(channelId), {
        body: messageBody(message),
        files: (message.files ?? []).map((f) => ({ name: f.name, data: f.data })),
      });
      const parsed = MessageResponse.parse(raw);
      return { id: parsed.id, channelId: parsed.channel_id };
    },
    async addReaction(channelId, messageId, emoji) {
      await rest.put(Routes.channelMessageOwnReaction(channelId, messageId, emojiRoute(emoji)));
    },
    async channelInfo(channelId) {
      const parsed = ChannelResponse.parse(await rest.get(Routes.channel(channelId)));
      return { id: parsed.id, nsfw: parsed.nsfw ?? false, guildId: parsed.guild_id ?? null };
    },
  };
}
