import type { z } from 'zod';
import { t } from '../i18n/index.ts';
import type { CommandContext } from './types.ts';

/** Parse options with zod; on failure reply with one ephemeral sentence and resolve undefined. */
export async function parseOptions<S extends z.ZodType>(
  ctx: CommandContext,
  schema: S,
): Promise<z.infer<S> | undefined> {
  const parsed = schema.safeParse(ctx.options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const detail = issue ? `${issue.path.join('.') || 'options'}: ${issue.message}` : 'options';
  await ctx.reply({ content: t(ctx.locale, 'input.invalid', { detail }), ephemeral: true });
  return undefined;
}

/** Discord timestamp markup, rendered in each reader's own time zone. */
export function discordTime(epochMs: number): string {
  return `<t:${Math.floor(epochMs / 1000)}:F>`;
}
