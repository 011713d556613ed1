import { AppError, ErrorCode } from '../analysis/errors.ts';

/** Plain words for the socket errors that mean "Discord cannot be reached". */
const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'the connection was refused',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be looked up (DNS)',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate could not be verified',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is for another host',
};

/** The first `code` in an error's cause chain (discord.js wraps undici's socket errors). */
function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Map a failed login to one sentence naming the Discord host and the error: NETWORK when it cannot
 * be reached, DISCORD when it rejects the token; anything else is returned unchanged.
 */
export function loginError(error: unknown, apiUrl: string | undefined): unknown {
  let host = 'discord.com';
  if (apiUrl) {
    try {
      host = new URL(apiUrl).host;
    } catch {
      host = apiUrl;
    }
  }
  const code = errorCode(error);
  if (code === 'TokenInvalid') {
    const sentence = `Discord at ${host} rejected the bot token: check DISCORD_TOKEN.`;
    return new AppError(ErrorCode.DISCORD, sentence, {
      userMessage: sentence,
      cause: error,
      userFault: true,
    });
  }
  const reason = code ? NETWORK_REASONS[code] : undefined;
  if (!reason) return error;
  const sentence = `Cannot reach Discord at ${host}: ${reason} (${code}).`;
  return new AppError(ErrorCode.NETWORK, sentence, { userMessage: sentence, cause: error });
}
