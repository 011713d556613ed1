import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { CLIP_DEFAULT_BATCH, CLIP_DEFAULT_TEXT_BATCH } from './analysis/clip/defaults.ts';
import { ConfigError } from './analysis/errors.ts';
import { defaultStorageUrl } from './storage/backend.ts';

const optionalNonEmpty = z
  .string()
  .transform((s) => s.trim())
  .pipe(z.string())
  .optional()
  .transform((s) => (s === '' || s === undefined ? undefined : s));

const positiveInt = (name: string, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .positive(`${name} must be greater than 0`)
    .default(fallback);

/** Environment variables shared by the CLI and the bot. */
export const EnvSchema = z.object({
  CIVITAI_BASE_URL: z
    .url({ error: 'CIVITAI_BASE_URL must be a URL such as https://civitai.com' })
    .refine((u) => /^https?:\/\//.test(u), 'CIVITAI_BASE_URL must start with http:// or https://')
    .default('https://civitai.com'),
  CIVITAI_API_KEY: optionalNonEmpty,
  LORALENS_DATA_DIR: z.string().min(1).default(join(homedir(), '.loralens')),
  LORALENS_STORE_URL: optionalNonEmpty.refine(
    (u) => u === undefined || /^(sqlite|redis|rediss):\/\/|^memory:\/\/$/.test(u),
    'LORALENS_STORE_URL must start with sqlite://, redis://, rediss:// or be memory://',
  ),
  /** Shared Redis of a scaled-out deployment: BullMQ audit queue (and the store unless LORALENS_STORE_URL says otherwise). */
  REDIS_URL: optionalNonEmpty.refine(
    (u) => u === undefined || /^rediss?:\/\//.test(u),
    'REDIS_URL must start with redis:// or rediss://',
  ),
  LORALENS_MODELS_DIR: optionalNonEmpty,
  /** An Inception-v3 ONNX (pool3 output) for Inception FID / KID next to the CLIP distances. */
  LORALENS_INCEPTION_MODEL: optionalNonEmpty,
  LORALENS_CLIP_VARIANT: z
    .enum(['fp32', 'quantized'], { error: 'LORALENS_CLIP_VARIANT must be fp32 or quantized' })
    .default('fp32'),
  LORALENS_CLIP_BATCH: positiveInt('LORALENS_CLIP_BATCH', CLIP_DEFAULT_BATCH),
  LORALENS_CLIP_TEXT_BATCH: positiveInt('LORALENS_CLIP_TEXT_BATCH', CLIP_DEFAULT_TEXT_BATCH),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CIVITAI_CONCURRENCY: positiveInt('CIVITAI_CONCURRENCY', 4),
  CIVITAI_RATE_PER_SECOND: positiveInt('CIVITAI_RATE_PER_SECOND', 5),
  CIVITAI_TIMEOUT_MS: positiveInt('CIVITAI_TIMEOUT_MS', 30_000),
  CIVITAI_CACHE_TTL_HOURS: positiveInt('CIVITAI_CACHE_TTL_HOURS', 24),
  /** One cap for every Civitai JSON answer, overriding the per-endpoint defaults (client.ts). */
  CIVITAI_MAX_BODY_MB: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce
      .number({ error: 'CIVITAI_MAX_BODY_MB must be a number' })
      .int('CIVITAI_MAX_BODY_MB must be a whole number')
      .positive('CIVITAI_MAX_BODY_MB must be greater than 0')
      .optional(),
  ),
});

export interface AppConfig {
  civitaiBaseUrl: string;
  civitaiApiKey: string | undefined;
  dataDir: string;
  storeUrl: string;
  /** `redis://…` of the BullMQ audit queue (REDIS_URL, else a redis:// store URL); undefined = in-process. */
  queueUrl: string | undefined;
  modelsDir: string;
  clipVariant: 'fp32' | 'quantized';
  /** Images per onnxruntime run of the vision tower. */
  clipBatchSize: number;
  /** Prompt windows per onnxruntime run of the text tower. */
  clipTextBatchSize: number;
  /** Path of a user-supplied Inception-v3 ONNX; absent = CLIP-embedding distances only. */
  inceptionModel?: string;
  logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  concurrency: number;
  ratePerSecond: number;
  timeoutMs: number;
  cacheTtlMs: number;
  /** CIVITAI_MAX_BODY_MB in bytes; undefined keeps the per-endpoint defaults. */
  maxBodyBytes: number | undefined;
}

/** Parse and validate the environment once; a bad value ends as one clear CONFIG_INVALID sentence. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const e = parseEnv(EnvSchema, env);
  return {
    civitaiBaseUrl: e.CIVITAI_BASE_URL.replace(/\/+$/, ''),
    civitaiApiKey: e.CIVITAI_API_KEY,
    dataDir: e.LORALENS_DATA_DIR,
    storeUrl: e.LORALENS_STORE_URL ?? e.REDIS_URL ?? defaultStorageUrl(e.LORALENS_DATA_DIR),
    queueUrl:
      e.REDIS_URL ?? (/^rediss?:\/\//.test(e.LORALENS_STORE_URL ?? '') ? e.LORALENS_STORE_URL : undefined),
    modelsDir: e.LORALENS_MODELS_DIR ?? fileURLToPath(new URL('../assets/models/', import.meta.url)),
    clipVariant: e.LORALENS_CLIP_VARIANT,
    clipBatchSize: e.LORALENS_CLIP_BATCH,
    clipTextBatchSize: e.LORALENS_CLIP_TEXT_BATCH,
    ...(e.LORALENS_INCEPTION_MODEL ? { inceptionModel: e.LORALENS_INCEPTION_MODEL } : {}),
    logLevel: e.LOG_LEVEL,
    concurrency: e.CIVITAI_CONCURRENCY,
    ratePerSecond: e.CIVITAI_RATE_PER_SECOND,
    timeoutMs: e.CIVITAI_TIMEOUT_MS,
    cacheTtlMs: e.CIVITAI_CACHE_TTL_HOURS * 3_600_000,
    maxBodyBytes: e.CIVITAI_MAX_BODY_MB === undefined ? undefined : e.CIVITAI_MAX_BODY_MB * 1024 * 1024,
  };
}

/** One configuration problem: the variable and a plain sentence about it (never its value). */
export interface EnvProblem {
  variable: string;
  sentence: string;
}

/** What a required variable is, for the "is not set" sentence. */
export type EnvHints = Readonly<Record<string, string>>;

function plainSentence(issue: z.core.$ZodIssue, env: NodeJS.ProcessEnv, hints: EnvHints): EnvProblem {
  const variable = issue.path.map(String).join('.') || 'environment';
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') {
    const state = raw === undefined ? 'is not set' : 'is empty';
    const hint = hints[variable];
    return { variable, sentence: hint ? `${variable} ${state}: ${hint}.` : `${variable} ${state}.` };
  }
  const end = (text: string): string => (/[.!?]$/.test(text) ? text : `${text}.`);
  // Messages the schemas write themselves name the variable and are plain already.
  if (issue.message.includes(variable)) return { variable, sentence: end(issue.message) };
  if (issue.code === 'invalid_value') {
    return { variable, sentence: `${variable} must be one of ${issue.values.map(String).join(', ')}.` };
  }
  return { variable, sentence: `${variable} has a value loralens cannot use.` };
}

/** The problems a schema finds in an environment, one plain sentence each (empty when it is valid). */
export function envProblems(
  schema: z.ZodType,
  env: NodeJS.ProcessEnv,
  hints: EnvHints = {},
): { problems: EnvProblem[]; data: unknown } {
  const parsed = schema.safeParse(env);
  if (parsed.success) return { problems: [], data: parsed.data };
  const problems = new Map<string, EnvProblem>();
  for (const issue of parsed.error.issues) {
    const problem = plainSentence(issue, env, hints);
    // One sentence per variable: the first issue zod reports for it.
    if (!problems.has(problem.variable)) problems.set(problem.variable, problem);
  }
  return { problems: [...problems.values()], data: undefined };
}

/**
 * One CONFIG_INVALID error listing every problem: a single problem is one sentence, several are
 * a short list (one line each). Values are never echoed.
 */
export function configError(problems: readonly EnvProblem[], what = 'configuration'): ConfigError {
  const message =
    problems.length === 1
      ? `Invalid ${what}: ${problems[0]?.sentence}`
      : [`Invalid ${what} (${problems.length} problems):`, ...problems.map((p) => `- ${p.sentence}`)].join(
          '\n',
        );
  return new ConfigError(message, { issues: problems.map((p) => ({ ...p })) });
}

/**
 * Validate environment variables with a zod schema. Every missing or invalid variable is named in a
 * plain sentence (no schema jargon); values are never echoed (a token must not reach logs or
 * terminals). Throws CONFIG_INVALID.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv,
  what = 'configuration',
  hints: EnvHints = {},
): z.infer<S> {
  const { problems, data } = envProblems(schema, env, hints);
  if (problems.length > 0) throw configError(problems, what);
  return data as z.infer<S>;
}
