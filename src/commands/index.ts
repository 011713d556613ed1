import { audit } from './audit.ts';
import { subscribe } from './subscribe.ts';
import { subscriptions } from './subscriptions.ts';
import { type Command, CommandShape } from './types.ts';
import { unsubscribe } from './unsubscribe.ts';

/** Every slash command, validated once at load (shape, unique names). */
export const commands: readonly Command[] = loadCommands([audit, subscribe, unsubscribe, subscriptions]);

function loadCommands(list: readonly Command[]): readonly Command[] {
  const names = new Set<string>();
  for (const command of list) {
    const parsed = CommandShape.safeParse(command);
    if (!parsed.success) throw new Error(`Invalid command definition: ${parsed.error.issues[0]?.message}`);
    if (names.has(command.data.name)) throw new Error(`Duplicate command name: ${command.data.name}`);
    names.add(command.data.name);
  }
  return list;
}

/** The JSON Discord's bulk-overwrite endpoint receives. */
export function commandDefinitions(): Command['data'][] {
  return commands.map((c) => c.data);
}

export function findCommand(name: string): Command | undefined {
  return commands.find((c) => c.data.name === name);
}
