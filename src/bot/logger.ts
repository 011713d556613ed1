import { type DestinationStream, pino, stdSerializers } from 'pino';
import type { Logger } from '../analysis/ports.ts';

/** Paths pino blanks in every log line, wherever a token could travel. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'config.token',
  'DISCORD_TOKEN',
  '*.DISCORD_TOKEN',
  'authorization',
  'headers.authorization',
  '*.headers.authorization',
  'interaction.token',
];

export interface BotLoggerOptions {
  level: string;
  /** Secret strings to scrub from free-text messages and error strings (the bot token). */
  secrets?: readonly string[];
  destination?: DestinationStream;
}

/** A pino logger that redacts token fields and scrubs known secrets from messages and errors. */
export function createBotLogger(options: BotLoggerOptions): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 8);
  const scrub = (text: string): string =>
    secrets.reduce((acc, secret) => acc.split(secret).join('[REDACTED]'), text);
  const base = pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<typeof method>,
          );
        },
      },
      formatters: {
        log(object) {
          if (secrets.length === 0) return object;
          const prepared = Object.fromEntries(
            Object.entries(object).map(([k, v]) => [k, v instanceof Error ? stdSerializers.err(v) : v]),
          );
          const json = JSON.stringify(prepared, (_k, v: unknown) =>
            typeof v === 'bigint' ? v.toString() : v,
          );
          return JSON.parse(scrub(json)) as typeof object;
        },
      },
      serializers: { err: stdSerializers.err },
    },
    options.destination,
  );
  return base as Logger;
}
