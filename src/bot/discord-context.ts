import {
  ApplicationCommandOptionType,
  AttachmentBuilder,
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  type CommandInteractionOption,
  MessageFlags,
} from 'discord.js';
import { DiscordLimits } from '../commands/discord-limits.ts';
import type {
  AutocompleteContext,
  CommandContext,
  OptionValue,
  OutgoingMessage,
  ReplyState,
  ResolvedChannel,
  SentMessage,
} from '../commands/types.ts';
import type { ChannelPoster } from './channel-poster.ts';

function flatten(data: readonly CommandInteractionOption[]): {
  subcommand: string | null;
  options: Record<string, OptionValue>;
  channels: Record<string, ResolvedChannel>;
} {
  let subcommand: string | null = null;
  let list = data;
  const first = data[0];
  if (first && first.type === ApplicationCommandOptionType.SubcommandGroup) {
    list = first.options?.[0]?.options ?? [];
    subcommand = `${first.name} ${first.options?.[0]?.name ?? ''}`.trim();
  } else if (first && first.type === ApplicationCommandOptionType.Subcommand) {
    subcommand = first.name;
    list = first.options ?? [];
  }
  const options: Record<string, OptionValue> = {};
  const channels: Record<string, ResolvedChannel> = {};
  for (const option of list) {
    if (option.value === undefined) continue;
    options[option.name] = option.value;
    if (option.type === ApplicationCommandOptionType.Channel && option.channel) {
      const ch = option.channel;
      channels[String(option.value)] = {
        id: ch.id,
        type: ch.type,
        guildId: 'guildId' in ch && typeof ch.guildId === 'string' ? ch.guildId : null,
      };
    }
  }
  return { subcommand, options, channels };
}

function toDiscord(message: OutgoingMessage) {
  return {
    content: message.content,
    embeds: message.embeds ?? [],
    files: (message.files ?? []).map((f) => new AttachmentBuilder(f.data, { name: f.name })),
    allowedMentions: { parse: [], users: message.mentionUserIds ?? [] },
  };
}

/** Adapt a discord.js chat-input interaction to the {@link CommandContext} port. */
export function commandContext(
  interaction: ChatInputCommandInteraction,
  poster: ChannelPoster,
): CommandContext {
  const { subcommand, options, channels } = flatten(interaction.options.data);
  const channel = interaction.channel;
  const nsfw = channel !== null && 'nsfw' in channel ? Boolean(channel.nsfw) : isThreadOfNsfw(interaction);
  let state: ReplyState = 'fresh';
  const sent = (m: { id: string; channelId: string }): SentMessage => ({ id: m.id, channelId: m.channelId });
  return {
    commandName: interaction.commandName,
    subcommand,
    options,
    resolvedChannels: channels,
    locale: interaction.locale,
    guildLocale: interaction.guildLocale,
    userId: interaction.user.id,
    guildId: interaction.guildId,
    channelId: interaction.channelId,
    channelNsfw: nsfw,
    memberPermissions: interaction.inGuild() ? (interaction.memberPermissions?.bitfield ?? 0n) : null,
    createdAt: interaction.createdTimestamp,
    attachmentSizeLimit: interaction.attachmentSizeLimit || DiscordLimits.defaultAttachmentBytes,
    get state() {
      return state;
    },
    async deferReply(opts = {}) {
      await interaction.deferReply(opts.ephemeral ? { flags: MessageFlags.Ephemeral } : {});
      state = opts.ephemeral ? 'deferred-ephemeral' : 'deferred';
    },
    async reply(message) {
      await interaction.reply({
        ...toDiscord(message),
        ...(message.ephemeral ? { flags: MessageFlags.Ephemeral } : {}),
      });
      state = 'replied';
    },
    async editReply(message) {
      return sent(await interaction.editReply(toDiscord(message)));
    },
    async deleteReply() {
      await interaction.deleteReply();
    },
    async followUp(message) {
      return sent(
        await interaction.followUp({
          ...toDiscord(message),
          ...(message.ephemeral ? { flags: MessageFlags.Ephemeral } : {}),
        }),
      );
    },
    sendChannelMessage: (message) => poster.send(interaction.channelId, message),
  };
}

function isThreadOfNsfw(interaction: ChatInputCommandInteraction): boolean {
  const channel = interaction.channel;
  if (channel?.isThread()) return Boolean(channel.parent && 'nsfw' in channel.parent && channel.parent.nsfw);
  return false;
}

/** Adapt an autocomplete interaction to the {@link AutocompleteContext} port. */
export function autocompleteContext(interaction: AutocompleteInteraction): AutocompleteContext {
  const focused = interaction.options.getFocused(true);
  return {
    commandName: interaction.commandName,
    subcommand: interaction.options.getSubcommand(false),
    focused: { name: focused.name, value: String(focused.value) },
    locale: interaction.locale,
    respond: (choices) => interaction.respond(choices.slice(0, DiscordLimits.autocompleteChoices)),
  };
}
