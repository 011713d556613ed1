import pino from 'pino';
import type { Logger } from '../analysis/ports.ts';

/** Paths never written to logs (the bot token and API keys), wherever they appear. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'DISCORD_TOKEN',
  '*.DISCORD_TOKEN',
  'CIVITAI_API_KEY',
  '*.CIVITAI_API_KEY',
];

/** A pino logger writing JSON lines to stderr (stdout stays free for command output). */
export function createLogger(level: string, secrets: ReadonlyArray<string | undefined> = []): Logger {
  const known = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8);
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: {
        // Belt and braces: a secret that slips into a message string is masked too.
        logMethod(args, method) {
          if (known.length > 0) {
            for (let i = 0; i < args.length; i++) {
              const a = args[i];
              if (typeof a === 'string') args[i] = known.reduce((s, k) => s.split(k).join('[redacted]'), a);
            }
          }
          method.apply(this, args as Parameters<typeof method>);
        },
      },
    },
    pino.destination(2),
  ) as unknown as Logger;
}
