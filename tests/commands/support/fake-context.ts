import type {
  CommandContext,
  OptionValue,
  OutgoingMessage,
  ReplyState,
  ResolvedChannel,
  SentMessage,
} from '../../../src/commands/types.ts';

export type Sent = { verb: string; message?: OutgoingMessage & { ephemeral?: boolean } };

/** A real {@link CommandContext} that records what the command sent (no discord.js involved). */
export class FakeContext implements CommandContext {
  readonly sent: Sent[] = [];
  state: ReplyState = 'fresh';
  commandName: string;
  subcommand: string | null;
  options: Record<string, OptionValue>;
  resolvedChannels: Record<string, ResolvedChannel>;
  locale: string;
  guildLocale: string | null = 'en-US';
  userId = '300000000000000001';
  guildId: string | null;
  channelId = '400000000000000001';
  channelNsfw = false;
  memberPermissions: bigint | null;
  createdAt = Date.now();
  attachmentSizeLimit = 10 * 1024 * 1024;
  #next = 0;

  constructor(init: {
    commandName: string;
    subcommand?: string | null;
    options?: Record<string, OptionValue>;
    resolvedChannels?: Record<string, ResolvedChannel>;
    locale?: string;
    guildId?: string | null;
    memberPermissions?: bigint | null;
  }) {
    this.commandName = init.commandName;
    this.subcommand = init.subcommand ?? null;
    this.options = init.options ?? {};
    this.resolvedChannels = init.resolvedChannels ?? {};
    this.locale = init.locale ?? 'en-US';
    this.guildId = init.guildId === undefined ? '500000000000000001' : init.guildId;
    this.memberPermissions = init.memberPermissions === undefined ? 0n : init.memberPermissions;
  }

  #msg(): SentMessage {
    this.#next++;
    return { id: `m${this.#next}`, channelId: this.channelId };
  }

  async deferReply(options: { ephemeral?: boolean } = {}): Promise<void> {
    this.sent.push({ verb: 'defer' });
    this.state = options.ephemeral ? 'deferred-ephemeral' : 'deferred';
  }
  async reply(message: OutgoingMessage & { ephemeral?: boolean }): Promise<void> {
    this.sent.push({ verb: 'reply', message });
    this.state = 'replied';
  }
  async editReply(message: OutgoingMessage): Promise<SentMessage> {
    this.sent.push({ verb: 'edit', message });
    return this.#msg();
  }
  async deleteReply(): Promise<void> {
    this.sent.push({ verb: 'delete' });
  }
  async followUp(message: OutgoingMessage & { ephemeral?: boolean }): Promise<SentMessage> {
    this.sent.push({ verb: 'followUp', message });
    return this.#msg();
  }
  async sendChannelMessage(message: OutgoingMessage): Promise<SentMessage> {
    this.sent.push({ verb: 'channel', message });
    return this.#msg();
  }

  /** The single reply, asserting there was exactly one thing sent. */
  soleReply(): Sent {
    if (this.sent.length !== 1)
      throw new Error(`expected one response, got ${this.sent.map((s) => s.verb).join(', ')}`);
    return this.sent[0] as Sent;
  }
}
