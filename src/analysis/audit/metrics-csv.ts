import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';

export const Cell = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type Cell = z.infer<typeof Cell>;

/** The fixed leading columns of metrics.csv; analyses append theirs after these. */
export const MODEL_COLUMNS = [
  'row_type',
  'model_id',
  'model_name',
  'type',
  'creator',
  'version_count',
  'published_at',
  'updated_at',
  'download_count',
  'image_count',
  'comment_count',
  'comments_read',
  'has_training_tags',
  'verdict',
  'verdict_reason',
] as const;

/** A model's overall verdict: flagged by any analysis, clean when measured and not flagged, else unknown. */
export const Verdict = z.enum(['flagged', 'clean', 'unknown']);
export type Verdict = z.infer<typeof Verdict>;

/** A model row (row_type=model) as validated before it is written. */
export const ModelRow = z.object({
  row_type: z.literal('model'),
  model_id: z.number().int(),
  model_name: z.string(),
  type: z.string(),
  creator: z.string().nullable(),
  version_count: z.number().int().nonnegative(),
  published_at: z.string().nullable(),
  updated_at: z.string().nullable(),
  download_count: z.number().nonnegative(),
  image_count: z.number().int().nonnegative(),
  /** Civitai's own comment count (model stats). */
  comment_count: z.number().int().nonnegative(),
  /** Comments, reviews and replies loralens read; null when they were not read. */
  comments_read: z.number().int().nonnegative().nullable(),
  has_training_tags: z.boolean(),
  verdict: Verdict,
  /** One sentence: which analyses flagged or cleared the model, and why the others measured nothing. */
  verdict_reason: z.string().min(1),
});
export type ModelRow = z.infer<typeof ModelRow>;

export type CsvRow = { row_type: string } & Record<string, Cell>;

/**
 * Render rows as RFC 4180 CSV with a header that is the union of the fixed model columns, then
 * every other column in first-seen order. Booleans are written as true/false, null as empty;
 * text that starts like a spreadsheet formula is prefixed with an apostrophe.
 */
export function renderMetricsCsv(rows: readonly CsvRow[], extraColumns: readonly string[] = []): string {
  const seen = new Set<string>(MODEL_COLUMNS);
  const columns: string[] = [...MODEL_COLUMNS];
  const add = (c: string): void => {
    if (!seen.has(c)) {
      seen.add(c);
      columns.push(c);
    }
  };
  for (const c of extraColumns) add(c);
  for (const row of rows) for (const c of Object.keys(row)) add(c);
  const records = rows.map((row) =>
    columns.map((c) => {
      // Own cells only: a column named `valueOf` or `__proto__` must not read Object.prototype.
      const v = Object.hasOwn(row, c) ? row[c] : undefined;
      if (v === null || v === undefined) return '';
      if (typeof v === 'boolean') return v ? 'true' : 'false';
      // Text cells that a spreadsheet would run as a formula get a leading apostrophe.
      if (typeof v === 'string' && /^[=+\-@\t\r]/.test(v)) return `'${v}`;
      return String(v);
    }),
  );
  return stringify([columns, ...records], { eof: true });
}

/**
 * One image row per image: image rows (row_type=image) with the same model, version and image id
 * are merged into the first one (later analyses add their cells to CLIP's row instead of writing a
 * second row; a cell already set is kept unless it is empty). Rows without those ids stay as they are.
 */
export function mergeImageRows(rows: readonly CsvRow[]): CsvRow[] {
  const out: CsvRow[] = [];
  const byImage = new Map<string, CsvRow>();
  for (const row of rows) {
    const { model_id: m, version_id: v, image_id: i } = row;
    if (row.row_type !== 'image' || m == null || i == null) {
      out.push(row);
      continue;
    }
    const key = `${m}:${v ?? ''}:${i}`;
    const first = byImage.get(key);
    if (!first) {
      const copy = { ...row };
      byImage.set(key, copy);
      out.push(copy);
      continue;
    }
    for (const [c, value] of Object.entries(row)) {
      if (!Object.hasOwn(first, c) || first[c] === null || first[c] === undefined) first[c] = value;
    }
  }
  return out;
}
