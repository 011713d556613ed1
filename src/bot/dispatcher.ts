import type { AutocompleteContext, Command, CommandContext, CommandDeps } from '../commands/types.ts';
import { t } from '../i18n/index.ts';
import { replyError } from './delivery.ts';

export interface Dispatcher {
  handleCommand(ctx: CommandContext): Promise<void>;
  handleAutocomplete(ctx: AutocompleteContext): Promise<void>;
}

/**
 * Routes interactions to commands: guards first (one ephemeral sentence when refused), then
 * `execute` inside the one error boundary. Never rejects.
 */
export function createDispatcher(commands: readonly Command[], deps: CommandDeps): Dispatcher {
  const byName = new Map(commands.map((c) => [c.data.name, c]));
  return {
    async handleCommand(ctx) {
      const command = byName.get(ctx.commandName);
      const log = deps.logger.child({ command: ctx.commandName, sub: ctx.subcommand, user: ctx.userId });
      try {
        if (!command) throw new Error(`Unknown command ${ctx.commandName}`);
        for (const guard of command.guards ?? []) {
          const result = guard(ctx);
          if (!result.ok) {
            log.info({ refused: result.key }, 'guard refused command');
            await ctx.reply({ content: t(ctx.locale, result.key, result.params), ephemeral: true });
            return;
          }
        }
        await command.execute(ctx, deps);
      } catch (error) {
        await replyError(ctx, error, log, deps.clock);
      }
    },
    async handleAutocomplete(ctx) {
      const command = byName.get(ctx.commandName);
      try {
        if (!command?.autocomplete) {
          await ctx.respond([]);
          return;
        }
        await command.autocomplete(ctx, deps);
      } catch (error) {
        deps.logger.warn({ err: error, command: ctx.commandName }, 'autocomplete failed');
        await ctx.respond([]).catch(() => undefined);
      }
    },
  };
}
