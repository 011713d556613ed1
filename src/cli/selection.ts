import {
  type AuditModelType,
  type AuditSelection,
  type BiasReference,
  DEFAULT_MODEL_TYPES,
  type ModelSort,
  AuditSelection as SelectionSchema,
} from '../analysis/audit/types.ts';
import { UserInputError } from '../analysis/errors.ts';

/** Raw commander options shared by `crawl` and `audit`. */
export interface SelectionFlags {
  model?: string;
  top?: string;
  hash?: string;
  file?: string;
  types?: string;
  sort?: string;
  period?: string;
  from?: string;
  to?: string;
  nsfw?: boolean;
  baseModel?: string[];
}

/** Every selection flag, in the order errors name them. */
export const SELECTION_FLAG_KEYS = [
  'model',
  'top',
  'hash',
  'file',
  'types',
  'sort',
  'period',
  'from',
  'to',
  'nsfw',
  'baseModel',
] as const satisfies ReadonlyArray<keyof SelectionFlags>;

/** Flags that shape the `--top` listing; with one model they would be silently ignored. */
const LISTING_FLAGS = ['types', 'sort', 'period', 'from', 'to', 'nsfw', 'baseModel'] as const;

const flagName = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

const TYPE_ALIASES: Record<string, AuditModelType> = {
  lora: 'LORA',
  locon: 'LoCon',
  lycoris: 'LoCon',
  dora: 'DoRA',
};

const SORT_ALIASES: Record<string, ModelSort> = {
  'most downloaded': 'Most Downloaded',
  downloads: 'Most Downloaded',
  downloaded: 'Most Downloaded',
  'highest rated': 'Highest Rated',
  rating: 'Highest Rated',
  rated: 'Highest Rated',
  newest: 'Newest',
  new: 'Newest',
};

const PERIODS = ['AllTime', 'Year', 'Month', 'Week', 'Day'] as const;

/** A real calendar date as YYYY-MM-DD, or INPUT_INVALID naming the flag. */
export function parseDateFlag(value: string, flag: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim());
  const date = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !date || date.toISOString().slice(0, 10) !== value.trim()) {
    throw new UserInputError(`${flag} must be a real date written YYYY-MM-DD, not "${value}".`);
  }
  return value.trim();
}

/**
 * Turn the CLI flags into one validated AuditSelection; exactly one selector must be given, and
 * listing flags only with `--top`. `flags` holds only what the user gave (no commander defaults).
 * Errors: INPUT_INVALID.
 */
export function selectionFromFlags(flags: SelectionFlags): AuditSelection {
  const given = (['model', 'top', 'hash', 'file'] as const).filter((k) => flags[k] !== undefined);
  if (given.length === 0)
    throw new UserInputError(
      'Say what to audit: --model <id|URL>, --top <N>, --hash <SHA256> or --file <path.safetensors>.',
    );
  if (given.length > 1)
    throw new UserInputError(
      `Use only one of --model, --top, --hash, --file (got ${given.map((g) => `--${g}`).join(', ')}).`,
    );
  const selector = given[0] as string;
  if (selector !== 'top') {
    const listing = LISTING_FLAGS.filter((k) => flags[k] !== undefined).map(flagName);
    if (listing.length > 0) {
      const one = listing.length === 1;
      throw new UserInputError(
        `${listing.join(', ')} only ${one ? 'applies' : 'apply'} to --top (a listing); ${one ? 'it' : 'they'} cannot be used with --${selector}.`,
      );
    }
  }
  // `--model ""` or `--hash=` is given but says nothing: name the flag, not the schema field.
  if (flags.model !== undefined) {
    if (flags.model.trim() === '')
      throw new UserInputError('--model needs a model id or a Civitai model URL, not an empty value.');
    return { kind: 'model', ref: flags.model };
  }
  if (flags.hash !== undefined) {
    if (flags.hash.trim() === '')
      throw new UserInputError('--hash needs a file hash (SHA256 or AutoV2), not an empty value.');
    return { kind: 'hash', hash: flags.hash };
  }
  if (flags.file !== undefined) {
    if (flags.file === '')
      throw new UserInputError('--file needs the path of a .safetensors file, not an empty value.');
    return { kind: 'file', path: flags.file };
  }

  const topText = String(flags.top).trim();
  if (!/^-?\d+$/.test(topText)) throw new UserInputError(`--top must be a whole number, not "${flags.top}".`);
  const n = Number(topText);
  if (n <= 0) throw new UserInputError(`--top must be greater than 0 (got ${n}).`);
  if (!Number.isSafeInteger(n)) throw new UserInputError(`--top ${topText} is too large.`);

  const types = flags.types
    ? flags.types.split(',').map((t) => {
        const type = TYPE_ALIASES[t.trim().toLowerCase()];
        if (!type)
          throw new UserInputError(`Unknown model type "${t.trim()}": use LORA, LoCon (LyCORIS) or DoRA.`);
        return type;
      })
    : [...DEFAULT_MODEL_TYPES];
  let sort: ModelSort = 'Most Downloaded';
  if (flags.sort !== undefined) {
    const s = SORT_ALIASES[flags.sort.trim().toLowerCase()];
    if (!s)
      throw new UserInputError(
        `Unknown sort "${flags.sort}": use "Most Downloaded", "Highest Rated" or "Newest".`,
      );
    sort = s;
  }
  let period: (typeof PERIODS)[number] = 'AllTime';
  if (flags.period !== undefined) {
    const p = PERIODS.find((x) => x.toLowerCase() === flags.period?.trim().toLowerCase());
    if (!p) throw new UserInputError(`Unknown period "${flags.period}": use ${PERIODS.join(', ')}.`);
    period = p;
  }
  const from = flags.from === undefined ? '2023-01-01' : parseDateFlag(flags.from, '--from');
  const to = flags.to === undefined ? '2025-12-31' : parseDateFlag(flags.to, '--to');
  if (from > to) throw new UserInputError(`--from ${from} is after --to ${to}.`);
  const baseModels = (flags.baseModel ?? []).map((b) => b.trim());
  if (baseModels.some((b) => b === ''))
    throw new UserInputError('--base-model needs a name such as "SDXL 1.0" or Pony.');
  const parsed = SelectionSchema.safeParse({
    kind: 'top',
    n,
    types: [...new Set(types)],
    sort,
    period,
    from,
    to,
    nsfw: flags.nsfw ?? false,
    baseModels,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserInputError(
      `Invalid selection: ${issue?.path.join('.') || 'value'} — ${issue?.message ?? 'invalid'}.`,
    );
  }
  return parsed.data;
}

/** The bias-reference flags of `audit`. */
export interface BiasFlags {
  reference?: string;
  referenceModel?: string;
  seed?: string;
}

/**
 * The bias reference and seed from `--reference DIR`, `--reference-model ID|URL` and `--seed N`:
 * the two references exclude each other, DIR must be an existing folder, the seed a whole number
 * from 0 to 2³¹ − 1. Without a reference flag the reference is the population (leave-one-out).
 * Errors: INPUT_INVALID (one sentence naming the flag).
 */
export async function biasOptionsFromFlags(
  flags: BiasFlags,
  isDirectory: (path: string) => Promise<boolean>,
): Promise<{ reference: BiasReference; seed?: number }> {
  if (flags.reference !== undefined && flags.referenceModel !== undefined) {
    throw new UserInputError(
      'Use only one of --reference (a folder of images) and --reference-model (a Civitai model).',
    );
  }
  let reference: BiasReference = { kind: 'population' };
  if (flags.reference !== undefined) {
    if (flags.reference.trim() === '') throw new UserInputError('--reference needs a folder of images.');
    if (!(await isDirectory(flags.reference))) {
      throw new UserInputError(`--reference ${flags.reference} is not an existing folder.`);
    }
    reference = { kind: 'dir', path: flags.reference };
  } else if (flags.referenceModel !== undefined) {
    if (flags.referenceModel.trim() === '')
      throw new UserInputError('--reference-model needs a model id or a Civitai model URL.');
    reference = { kind: 'model', ref: flags.referenceModel.trim() };
  }
  if (flags.seed === undefined) return { reference };
  const text = flags.seed.trim();
  const seed = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(seed) || seed > 2 ** 31 - 1) {
    throw new UserInputError(`--seed must be a whole number from 0 to 2147483647, not "${flags.seed}".`);
  }
  return { reference, seed };
}
