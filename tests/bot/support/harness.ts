import type { AuditService } from '../../../src/analysis/audit/service.ts';
import type { Logger } from '../../../src/analysis/ports.ts';
import { silentLogger } from '../../../src/analysis/ports.ts';
import { type Bot, type BotDeps, createBot } from '../../../src/bot/bot.ts';
import type { BotConfig } from '../../../src/bot/config.ts';
import { openStorage, type StorageBackend } from '../../../src/storage/backend.ts';
import { type FakeDiscord, startFakeDiscord } from '../../support/fake-discord/server.ts';
import { FakeAuditService } from './fake-audit-service.ts';
import { ManualClock } from './manual-clock.ts';

export const TOKEN = 'MTEx.fake-token.for-tests-only-0123456789';
export const APP_ID = '200000000000000001';

export interface Harness {
  discord: FakeDiscord;
  bot: Bot;
  service: FakeAuditService;
  clock: ManualClock;
  storage: StorageBackend;
  /** SFW text channel. */
  general: string;
  /** Age-restricted channel. */
  adult: string;
  close(): Promise<void>;
}

export interface HarnessOptions {
  service?: FakeAuditService;
  /** A real service instead of the fake (wiring tests); `service` then stays an unused fake. */
  auditService?: AuditService;
  clock?: ManualClock;
  storage?: StorageBackend;
  discord?: FakeDiscord;
  config?: Partial<BotConfig>;
  logger?: Logger;
  /** Keep the storage open on close (restart tests). */
  keepStorage?: boolean;
  /** Run the bot on a shared BullMQ queue at this Redis (tests/scale); unset: the in-process queue. */
  queueUrl?: string;
  queueOptions?: BotDeps['queueOptions'];
}

export function botConfig(apiUrl: string, overrides: Partial<BotConfig> = {}): BotConfig {
  return {
    token: TOKEN,
    applicationId: APP_ID,
    guildId: undefined,
    apiUrl,
    feedbackEmoji: '❌',
    disputeVotes: 2,
    jobConcurrency: 1,
    feedbackItems: 5,
    progressIntervalMs: 2_000,
    shutdownGraceMs: 1_000,
    queuePerUser: 3,
    queuePerGuild: 10,
    queueTotal: 100,
    ...overrides,
  };
}

/** Fake Discord + the real bot (discord.js) logged in to it, with a fake audit service and manual clock. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const discord = options.discord ?? (await startFakeDiscord({ token: TOKEN, applicationId: APP_ID }));
  const service = options.service ?? new FakeAuditService();
  const clock = options.clock ?? new ManualClock();
  const storage = options.storage ?? openStorage('memory://');
  const bot = createBot({
    config: botConfig(discord.apiUrl, options.config),
    service: options.auditService ?? service,
    storage,
    logger: options.logger ?? silentLogger,
    clock,
    ...(options.queueUrl ? { queueUrl: options.queueUrl } : {}),
    ...(options.queueOptions ? { queueOptions: options.queueOptions } : {}),
  });
  await bot.start();
  const general = discord.channels.find((c) => !c.nsfw)?.id ?? '';
  const adult = discord.channels.find((c) => c.nsfw)?.id ?? '';
  return {
    discord,
    bot,
    service,
    clock,
    storage,
    general,
    adult,
    async close() {
      await bot.stop();
      if (!options.discord) await discord.close();
      if (!options.keepStorage) await storage.close();
    },
  };
}
