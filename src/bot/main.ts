import { isAppError } from '../analysis/errors.ts';
import { createAuditService } from '../app/create-audit-service.ts';
import { createLogger } from '../app/logger.ts';
import { openStorage } from '../storage/backend.ts';
import { createBot } from './bot.ts';
import { loadBotEnvironment } from './config.ts';

/** `npm start`: the composition root of the Discord bot. */
async function main(): Promise<void> {
  const { app: appConfig, bot: botConfig } = loadBotEnvironment(process.env);
  const logger = createLogger(appConfig.logLevel, [botConfig.token, appConfig.civitaiApiKey]);
  const storage = openStorage(appConfig.storeUrl);
  // Face and composition metrics block the event loop for seconds per image: off in the bot.
  const service = createAuditService({ config: appConfig, storage, logger, faceAnalysis: false });
  const bot = createBot({ config: botConfig, service, storage, logger });

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

main().catch((error: unknown) => {
  // Only the sentence: a config error must not echo values (the token) to the terminal.
  console.error(
    isAppError(error) ? error.userMessage : error instanceof Error ? error.message : String(error),
  );
  process.exit(1);
});
