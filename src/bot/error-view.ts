import { randomBytes } from 'node:crypto';
import { type AppError, ErrorCode, isAppError, toAppError } from '../analysis/errors.ts';
import { type MessageKey, resolveLocale, t } from '../i18n/index.ts';

/** Codes whose own sentence is the whole story for a user: expected, no reference needed. */
const EXPECTED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.CIVITAI_NOT_FOUND,
  ErrorCode.CIVITAI_UNAUTHORIZED,
  ErrorCode.CIVITAI_HTTP,
  ErrorCode.RATE_LIMITED,
  ErrorCode.NETWORK,
  ErrorCode.TIMEOUT,
  ErrorCode.HOST_NOT_ALLOWED,
  ErrorCode.INPUT_INVALID,
  ErrorCode.PERMISSION,
  ErrorCode.ABORTED,
]);

export interface ErrorView {
  /** The one sentence the user sees (localized). */
  sentence: string;
  /** Present for unexpected failures: the id the user can quote and the log line carries. */
  reference: string | null;
  error: AppError;
}

/** Map anything thrown to the sentence a user sees; unexpected failures get a reference id. */
export function describeError(value: unknown, locale: string): ErrorView {
  const error = toAppError(value);
  const expected = isAppError(value) && (value.userFault || EXPECTED.has(value.code));
  if (expected) return { sentence: expectedSentence(error, locale), reference: null, error };
  const reference = randomBytes(4).toString('hex');
  if (error.code === ErrorCode.INTERNAL) {
    return { sentence: t(locale, 'error.internal', { reference }), reference, error };
  }
  const base = t(locale, `error.${error.code}` as MessageKey);
  return { sentence: `${base} ${t(locale, 'error.internal', { reference })}`, reference, error };
}

function expectedSentence(error: AppError, locale: string): string {
  // The core writes English sentences; English users get the specific one as is.
  if (resolveLocale(locale) === 'en') return error.userMessage;
  const generic = t(locale, `error.${error.code}` as MessageKey);
  const specific = error.userFault && error.userMessage !== t('en', `error.${error.code}` as MessageKey);
  return specific ? `${generic} (${error.userMessage})` : generic;
}
