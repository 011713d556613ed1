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

const CENSOR = '[redacted]';

/** Characters a token may contain in a URL path or query (stops at `/`, `?`, `&`, quotes, space). */
const TOKEN_CHARS = String.raw`[^/?&#"'\s\\]+`;

/**
 * Token-bearing shapes, matched on the serialized line so nested errors, causes and stringified
 * JSON are covered at any depth: Discord webhook / interaction tokens in URL paths, secret query
 * parameters, Authorization schemes, and secret-named JSON keys (plain or escaped quotes).
 */
const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  [new RegExp(String.raw`(/webhooks/\d+/)${TOKEN_CHARS}`, 'g'), `$1${CENSOR}`],
  [new RegExp(String.raw`(/interactions/\d+/)${TOKEN_CHARS}`, 'g'), `$1${CENSOR}`],
  [
    /([?&](?:token|access_token|refresh_token|api_key|apikey|key|secret|password|signature|sig)=)[^&#"'\s\\]+/gi,
    `$1${CENSOR}`,
  ],
  // A credential has digits or punctuation; "Bot configuration" in a sentence is left alone.
  [/\b(Bot|Bearer|Basic)\s+(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=])[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${CENSOR}`],
  [
    /(\\?"(?:token|interactionToken|webhookToken|accessToken|access_token|apiKey|api_key|password|secret|authorization|DISCORD_TOKEN|CIVITAI_API_KEY)\\?"\s*:\s*\\?")((?:[^"\\]|\\[^"])*)(\\?")/gi,
    `$1${CENSOR}$3`,
  ],
];

/**
 * Mask secrets in a text (a log line): each known secret anywhere, then every token-shaped
 * substring (see {@link PATTERNS}). Text without secrets is returned unchanged.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(CENSOR);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A pino logger writing JSON lines to stderr (stdout stays free for command output), or to
 * `destination`. Every line is scrubbed just before it is written, so secrets are masked wherever
 * they appear: in messages, error URLs, causes, headers and serialized payloads.
 */
export function createLogger(
  level: string,
  secrets: ReadonlyArray<string | undefined> = [],
  destination: pino.DestinationStream = pino.destination(2),
): Logger {
  const known = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 8);
  // A secret as it appears inside a JSON string (quotes and backslashes escaped).
  const variants = [...new Set(known.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))];
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      hooks: { streamWrite: (line) => redactSecrets(line, variants) },
    },
    destination,
  ) as unknown as Logger;
}
