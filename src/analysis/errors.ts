/**
 * One error base for the whole project: every failure carries a stable string `code`
 * (from {@link ErrorCode}), structured `details` for logs, and a forwarded ES2022 `cause`.
 * `userMessage` is the one clear sentence a person sees; `message` is for logs.
 */
export const ErrorCode = {
  CIVITAI_HTTP: 'CIVITAI_HTTP',
  CIVITAI_SCHEMA: 'CIVITAI_SCHEMA',
  CIVITAI_NOT_FOUND: 'CIVITAI_NOT_FOUND',
  CIVITAI_UNAUTHORIZED: 'CIVITAI_UNAUTHORIZED',
  CIVITAI_TOO_LARGE: 'CIVITAI_TOO_LARGE',
  RATE_LIMITED: 'RATE_LIMITED',
  NETWORK: 'NETWORK',
  TIMEOUT: 'TIMEOUT',
  HOST_NOT_ALLOWED: 'HOST_NOT_ALLOWED',
  SAFETENSORS_INVALID: 'SAFETENSORS_INVALID',
  SAFETENSORS_TOO_LARGE: 'SAFETENSORS_TOO_LARGE',
  INPUT_INVALID: 'INPUT_INVALID',
  CONFIG_INVALID: 'CONFIG_INVALID',
  STORAGE_IO: 'STORAGE_IO',
  IMAGE_DECODE: 'IMAGE_DECODE',
  IMAGE_REFUSED: 'IMAGE_REFUSED',
  MODEL_MISSING: 'MODEL_MISSING',
  MODEL_INVALID: 'MODEL_INVALID',
  DISCORD: 'DISCORD',
  PERMISSION: 'PERMISSION',
  ABORTED: 'ABORTED',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface AppErrorOptions {
  /** The one sentence a user sees; defaults to a generic sentence for the code. */
  userMessage?: string;
  details?: Record<string, unknown>;
  cause?: unknown;
  /** True when the user caused it (bad input): CLI exit 2, ephemeral reply, no stack trace. */
  userFault?: boolean;
}

const BRAND = Symbol.for('loralens.AppError');

const DEFAULT_SENTENCES: Record<ErrorCode, string> = {
  CIVITAI_HTTP: 'Civitai answered with an error.',
  CIVITAI_SCHEMA: 'Civitai sent data in a shape loralens does not understand.',
  CIVITAI_NOT_FOUND: 'Civitai has no such model or version.',
  CIVITAI_UNAUTHORIZED: 'Civitai refused the request: an API key is needed (set CIVITAI_API_KEY).',
  CIVITAI_TOO_LARGE: 'Civitai sent a response larger than loralens accepts.',
  RATE_LIMITED: 'Civitai is rate-limiting requests; try again in a few minutes.',
  NETWORK: 'Could not reach Civitai.',
  TIMEOUT: 'Civitai did not answer in time.',
  HOST_NOT_ALLOWED: 'A link pointed to a host that loralens does not trust.',
  SAFETENSORS_INVALID: 'The model file is not a valid safetensors file.',
  SAFETENSORS_TOO_LARGE: 'The model file header is larger than loralens accepts.',
  INPUT_INVALID: 'That input is not valid.',
  CONFIG_INVALID: 'The configuration is not valid.',
  STORAGE_IO: 'The cache could not be read or written.',
  IMAGE_DECODE: 'An image could not be decoded.',
  IMAGE_REFUSED: 'An image was refused.',
  MODEL_MISSING: 'A model file is missing: run `npm run models`.',
  MODEL_INVALID: 'A model file does not match what loralens expects.',
  DISCORD: 'Discord refused the request.',
  PERMISSION: 'You do not have permission to do that.',
  ABORTED: 'The job was cancelled.',
  INTERNAL: 'Something went wrong inside loralens.',
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly userMessage: string;
  readonly userFault: boolean;
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
    this.userMessage = options.userMessage ?? DEFAULT_SENTENCES[code];
    this.userFault = options.userFault ?? false;
  }
}

/** Brand check that works across module copies, unlike `instanceof`. */
export function isAppError(value: unknown): value is AppError {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

export function hasCode(value: unknown, code: ErrorCode): value is AppError {
  return isAppError(value) && value.code === code;
}

/** Bad input from a person: shown as one sentence, exit code 2 in the CLI. */
export class UserInputError extends AppError {
  constructor(userMessage: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.INPUT_INVALID, userMessage, { userMessage, details, userFault: true });
  }
}

export class ConfigError extends AppError {
  constructor(userMessage: string, details: Record<string, unknown> = {}) {
    super(ErrorCode.CONFIG_INVALID, userMessage, { userMessage, details, userFault: true });
  }
}

/** Wrap anything thrown into an AppError (INTERNAL unless it already is one). */
export function toAppError(value: unknown): AppError {
  if (isAppError(value)) return value;
  if (value instanceof Error) {
    return new AppError(ErrorCode.INTERNAL, value.message, { cause: value });
  }
  return new AppError(ErrorCode.INTERNAL, String(value), { cause: value });
}
