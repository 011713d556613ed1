/**
 * A bot process for the multi-process tests: the real bot (discord.js against the fake Discord) on
 * the shared BullMQ queue and a Redis store. It never runs audits itself (workers do). Env:
 * REDIS_URL, DISCORD_API_URL. Prints `ready` once connected; SIGTERM stops it cleanly.
 */
import { createLogger } from '../../../src/app/logger.ts';
import { createBot } from '../../../src/bot/bot.ts';
import { openStorage } from '../../../src/storage/backend.ts';
import { FakeAuditService } from '../../bot/support/fake-audit-service.ts';
import { botConfig } from '../../bot/support/harness.ts';

const redisUrl = process.env.REDIS_URL ?? '';
const storage = openStorage(redisUrl);
const bot = createBot({
  config: botConfig(process.env.DISCORD_API_URL ?? '', {
    progressIntervalMs: 500,
    queuePerUser: 100,
    queuePerGuild: 1_000,
    queueTotal: 1_000,
  }),
  service: new FakeAuditService(),
  storage,
  // Warnings and errors (a failed delivery, a failed sweep) reach stderr: the test shows them on failure.
  logger: createLogger('warn'),
  queueUrl: redisUrl,
  queueOptions: { heartbeatTtlMs: 1_500, sweepIntervalMs: 250, repairAfterMs: 2_000 },
});
process.once('SIGTERM', () => {
  void bot
    .stop()
    .then(() => storage.close())
    .then(() => process.exit(0));
});
await bot.start();
process.stdout.write('ready\n');
