import { z } from 'zod';
import { type AppConfig, configError, EnvSchema, envProblems, loadConfig, parseEnv } from '../config.ts';

const snowflake = (name: string) =>
  z.string().regex(/^\d{17,20}$/, `${name} must be a Discord id (17–20 digits)`);
const optional = (schema: z.ZodType<string>) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());
const intIn = (name: string, min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`)
    .default(fallback);

/** What the required bot variables are, for the "is not set" sentence. */
const BOT_HINTS = {
  DISCORD_TOKEN: 'the bot token from the Discord Developer Portal (your application → Bot → Reset Token)',
  DISCORD_APPLICATION_ID:
    'the application id from the Discord Developer Portal (your application → General Information)',
};

/** Environment of the Discord bot (on top of the shared env in src/config.ts). */
export const BotEnvSchema = z.object({
  DISCORD_TOKEN: z.string().trim().min(1, 'DISCORD_TOKEN is required'),
  DISCORD_APPLICATION_ID: snowflake('DISCORD_APPLICATION_ID'),
  DISCORD_GUILD_ID: optional(snowflake('DISCORD_GUILD_ID')),
  DISCORD_API_URL: optional(
    z
      .url({ error: 'DISCORD_API_URL must be a URL such as https://discord.com/api' })
      .refine((u) => /^https?:\/\//.test(u), 'DISCORD_API_URL must start with http:// or https://'),
  ),
  LORALENS_FEEDBACK_EMOJI: z.string().trim().min(1).default('❌'),
  LORALENS_DISPUTE_VOTES: intIn('LORALENS_DISPUTE_VOTES', 1, 1000, 3),
  LORALENS_JOB_CONCURRENCY: intIn('LORALENS_JOB_CONCURRENCY', 1, 16, 1),
  LORALENS_FEEDBACK_ITEMS: intIn('LORALENS_FEEDBACK_ITEMS', 0, 20, 5),
  LORALENS_PROGRESS_INTERVAL_MS: intIn('LORALENS_PROGRESS_INTERVAL_MS', 500, 60_000, 2_000),
  LORALENS_SHUTDOWN_GRACE_MS: intIn('LORALENS_SHUTDOWN_GRACE_MS', 0, 600_000, 20_000),
  LORALENS_QUEUE_PER_USER: intIn('LORALENS_QUEUE_PER_USER', 1, 1_000, 3),
  LORALENS_QUEUE_PER_GUILD: intIn('LORALENS_QUEUE_PER_GUILD', 1, 10_000, 10),
  LORALENS_QUEUE_TOTAL: intIn('LORALENS_QUEUE_TOTAL', 1, 100_000, 100),
});

export interface BotConfig {
  token: string;
  applicationId: string;
  guildId: string | undefined;
  /** REST base such as `https://discord.com/api` (discord.js `rest.api`); undefined = Discord's. */
  apiUrl: string | undefined;
  /** Unicode emoji (`❌`) or custom emoji id/name (`<:nope:123…>` or `123…`). */
  feedbackEmoji: string;
  disputeVotes: number;
  jobConcurrency: number;
  feedbackItems: number;
  progressIntervalMs: number;
  shutdownGraceMs: number;
  /** Most unfinished /audit jobs one user may have (duplicates of a queued job do not count). */
  queuePerUser: number;
  /** Most unfinished /audit jobs one server may have. */
  queuePerGuild: number;
  /** Most unfinished jobs in all. */
  queueTotal: number;
}

/**
 * Parse the bot's environment; a bad value is one CONFIG_INVALID sentence that names the variable
 * but never echoes its value (so the token cannot leak into logs or terminals).
 */
export function loadBotConfig(env: NodeJS.ProcessEnv = process.env): BotConfig {
  const e = parseEnv(BotEnvSchema, env, 'bot configuration', BOT_HINTS);
  return {
    token: e.DISCORD_TOKEN,
    applicationId: e.DISCORD_APPLICATION_ID,
    guildId: e.DISCORD_GUILD_ID,
    apiUrl: e.DISCORD_API_URL?.replace(/\/+$/, ''),
    feedbackEmoji: e.LORALENS_FEEDBACK_EMOJI,
    disputeVotes: e.LORALENS_DISPUTE_VOTES,
    jobConcurrency: e.LORALENS_JOB_CONCURRENCY,
    feedbackItems: e.LORALENS_FEEDBACK_ITEMS,
    progressIntervalMs: e.LORALENS_PROGRESS_INTERVAL_MS,
    shutdownGraceMs: e.LORALENS_SHUTDOWN_GRACE_MS,
    queuePerUser: e.LORALENS_QUEUE_PER_USER,
    queuePerGuild: e.LORALENS_QUEUE_PER_GUILD,
    queueTotal: e.LORALENS_QUEUE_TOTAL,
  };
}

/**
 * Parse the shared and the bot environment together, so every missing or invalid variable of
 * either is listed at once (one CONFIG_INVALID error, one plain sentence per variable).
 */
export function loadBotEnvironment(env: NodeJS.ProcessEnv = process.env): { app: AppConfig; bot: BotConfig } {
  const problems = [
    ...envProblems(BotEnvSchema, env, BOT_HINTS).problems,
    ...envProblems(EnvSchema, env).problems,
  ];
  if (problems.length > 0) throw configError(problems);
  return { app: loadConfig(env), bot: loadBotConfig(env) };
}
