import { z } from 'zod';
import { scanText } from './tag-error-reports.ts';

/** Labelled evaluation texts (tests/fixtures/text-eval/*.jsonl) and precision/recall over them. */

export const EvalItem = z.object({
  id: z.string(),
  lang: z.string(),
  split: z.enum(['dev', 'test']),
  label: z.union([z.literal(0), z.literal(1)]),
  text: z.string(),
  note: z.string().optional(),
});
export type EvalItem = z.infer<typeof EvalItem>;

export interface EvalRow {
  split: 'dev' | 'test';
  lang: string;
  n: number;
  positives: number;
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
  f1: number;
}

export interface EvalResult {
  rows: EvalRow[];
  errors: Array<{ id: string; split: string; label: 0 | 1; score: number; text: string }>;
}

/** Parses JSONL text into evaluation items; a bad line throws with its line number. */
export function parseEvalJsonl(jsonl: string, file = 'eval'): EvalItem[] {
  const items: EvalItem[] = [];
  jsonl.split('\n').forEach((line, i) => {
    if (line.trim().length === 0) return;
    const parsed = EvalItem.safeParse(JSON.parse(line));
    if (!parsed.success) throw new Error(`${file}:${i + 1}: ${parsed.error.message}`);
    items.push(parsed.data);
  });
  return items;
}

const ratio = (a: number, b: number): number => (b === 0 ? 1 : Math.round((a / b) * 1000) / 1000);

function row(split: 'dev' | 'test', lang: string, results: Array<{ label: 0 | 1; flag: boolean }>): EvalRow {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const r of results) {
    if (r.flag && r.label === 1) tp += 1;
    else if (r.flag && r.label === 0) fp += 1;
    else if (!r.flag && r.label === 1) fn += 1;
  }
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  const f1 =
    precision + recall === 0
      ? 0
      : Math.round(((2 * precision * recall) / (precision + recall)) * 1000) / 1000;
  const positives = results.filter((r) => r.label === 1).length;
  return { split, lang, n: results.length, positives, tp, fp, fn, precision, recall, f1 };
}

/** Runs the detector on every item: rows per (split, language) and per split overall ('all'). */
export function evaluate(items: readonly EvalItem[], threshold?: number): EvalResult {
  const scored = items.map((item) => {
    const scan = scanText(item.text, threshold === undefined ? {} : { threshold });
    return { item, flag: scan.flag, score: scan.score };
  });
  const rows: EvalRow[] = [];
  for (const split of ['dev', 'test'] as const) {
    const inSplit = scored.filter((s) => s.item.split === split);
    const langs = [...new Set(inSplit.map((s) => s.item.lang))].sort();
    for (const lang of langs) {
      rows.push(
        row(
          split,
          lang,
          inSplit.filter((s) => s.item.lang === lang).map((s) => ({ label: s.item.label, flag: s.flag })),
        ),
      );
    }
    rows.push(
      row(
        split,
        'all',
        inSplit.map((s) => ({ label: s.item.label, flag: s.flag })),
      ),
    );
  }
  const errors = scored
    .filter((s) => s.flag !== (s.item.label === 1))
    .map((s) => ({
      id: s.item.id,
      split: s.item.split,
      label: s.item.label,
      score: s.score,
      text: s.item.text,
    }));
  return { rows, errors };
}
