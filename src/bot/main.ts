import { parseArgs } from 'node:util';
import { isAppError } from '../analysis/errors.ts';
import { createAuditService } from '../app/create-audit-service.ts';
import { createLogger } from '../app/logger.ts';
import { openStorage } from '../storage/backend.ts';
import { createBot } from './bot.ts';
import { loadBotEnvironment } from './config.ts';
import { parseShardCount, startShards } from './sharding.ts';

/**
 * `npm start [-- --shards auto|N]`: the composition root of the Discord bot. With `--shards` this
 * process becomes the shard manager and each shard runs this file again as its own process.
 */
async function main(): Promise<void> {
  const { values: args } = parseArgs({
    args: process.argv.slice(2),
    options: { shards: { type: 'string' }, 'shard-delay': { type: 'string' } },
    strict: true,
  });
  const { app: appConfig, bot: botConfig } = loadBotEnvironment(process.env);
  const logger = createLogger(appConfig.logLevel, [botConfig.token, appConfig.civitaiApiKey]);
  // A shard process (SHARDS set by the manager) runs the ordinary bot below.
  if (args.shards !== undefined && process.env.SHARDS === undefined) {
    await manageShards(args.shards, args['shard-delay'], botConfig, logger);
    return;
  }
  const storage = openStorage(appConfig.storeUrl);
  // Face detection runs in its own worker thread (the anime cascade is seconds of synchronous work per
  // large image), so the gateway, progress edits and downloads keep running during an audit.
  const service = createAuditService({ config: appConfig, storage, logger });
  const bot = createBot({
    config: botConfig,
    service,
    storage,
    logger,
    ...(appConfig.queueUrl ? { queueUrl: appConfig.queueUrl } : {}),
  });

  // One failing command must not take the bot down.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
  process.on('uncaughtException', (error) => logger.error({ err: error }, 'uncaught exception'));

  let shuttingDown = false;
  const shutdown = (signal: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutdown requested');
    const hardStop = setTimeout(() => process.exit(1), botConfig.shutdownGraceMs + 15_000);
    hardStop.unref();
    void (async () => {
      try {
        await bot.stop();
        await service.close();
        await storage.close();
        process.exit(0);
      } catch (error) {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      }
    })();
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));

  await bot.start();
  logger.info({ api: botConfig.apiUrl ?? 'discord.com' }, 'loralens bot ready');
}

async function manageShards(
  shards: string,
  delay: string | undefined,
  botConfig: ReturnType<typeof loadBotEnvironment>['bot'],
  logger: ReturnType<typeof createLogger>,
): Promise<void> {
  const sharded = await startShards({
    token: botConfig.token,
    apiUrl: botConfig.apiUrl,
    shards: parseShardCount(shards),
    spawnDelayMs: delay === undefined ? 5_500 : Math.max(0, Number(delay) || 0),
    logger,
  });
  logger.info({ shards: sharded.count }, 'loralens shards ready');
  const stop = (signal: string): void => {
    logger.info({ signal }, 'shutdown requested');
    void sharded.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  // Only the sentence: a config error must not echo values (the token) to the terminal.
  console.error(
    isAppError(error) ? error.userMessage : error instanceof Error ? error.message : String(error),
  );
  process.exit(1);
});
