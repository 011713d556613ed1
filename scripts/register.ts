import { REST, Routes } from 'discord.js';
import { isAppError } from '../src/analysis/errors.ts';
import { loadBotConfig } from '../src/bot/config.ts';
import { commandDefinitions } from '../src/commands/index.ts';

/**
 * `npm run register [-- --dry-run]`: bulk-overwrite the slash commands, guild-scoped when
 * DISCORD_GUILD_ID is set (instant, for development), global otherwise. `--dry-run` prints the
 * definitions as JSON and contacts nothing (no token needed).
 */
async function main(argv: readonly string[]): Promise<void> {
  const definitions = commandDefinitions();
  if (argv.includes('--dry-run')) {
    process.stdout.write(`${JSON.stringify(definitions, null, 2)}\n`);
    return;
  }
  const config = loadBotConfig(process.env);
  const rest = new REST(config.apiUrl ? { api: config.apiUrl } : {}).setToken(config.token);
  const route = config.guildId
    ? Routes.applicationGuildCommands(config.applicationId, config.guildId)
    : Routes.applicationCommands(config.applicationId);
  const saved = (await rest.put(route, { body: definitions })) as Array<{ name: string; id: string }>;
  const scope = config.guildId ? `guild ${config.guildId}` : 'global';
  process.stdout.write(
    `Registered ${saved.length} commands (${scope}): ${saved.map((c) => `/${c.name}`).join(', ')}\n`,
  );
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const status = (error as { status?: number }).status;
  const message = isAppError(error)
    ? error.userMessage
    : error instanceof Error
      ? error.message
      : String(error);
  console.error(status ? `Discord refused the registration (HTTP ${status}): ${message}` : message);
  process.exitCode = 1;
});
