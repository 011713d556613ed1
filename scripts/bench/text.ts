/**
 * Text tag-error detector benchmark (`npm run bench` section, or `tsx scripts/bench/text.ts` alone):
 * precision, recall and F1 per language and overall on tests/fixtures/text-eval/*.jsonl, by its
 * dev and test splits. Since the learnt detector (issue #11) both splits are part of its training
 * data, so these figures are in-sample: a regression check of the pipeline, not an accuracy figure.
 * The accuracy figures are `npm run bench text-blind` (cross-validated and blind).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { evaluate, parseEvalJsonl } from '../../src/analysis/text/evaluation.ts';
import { DEFAULT_TEXT_THRESHOLD } from '../../src/analysis/text/tag-error-reports.ts';
import type { BenchSection } from './types.ts';

const evalDir = resolve(fileURLToPath(new URL('../..', import.meta.url)), 'tests', 'fixtures', 'text-eval');

export async function run(): Promise<BenchSection> {
  const files = readdirSync(evalDir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort();
  const items = files.flatMap((f) => parseEvalJsonl(readFileSync(join(evalDir, f), 'utf8'), f));
  const t0 = performance.now();
  const result = evaluate(items);
  const ms = performance.now() - t0;
  const rows = result.rows.map((r) => ({
    split: r.split,
    lang: r.lang,
    n: r.n,
    positives: r.positives,
    tp: r.tp,
    fp: r.fp,
    fn: r.fn,
    precision: r.precision,
    recall: r.recall,
    f1: r.f1,
  }));
  const test = result.rows.find((r) => r.split === 'test' && r.lang === 'all');
  const notes = [
    `${items.length} labelled texts in ${files.length} files; threshold ${DEFAULT_TEXT_THRESHOLD}; ${(ms / items.length).toFixed(2)} ms per text`,
    `in-sample: the detector is trained on both splits of this set (scripts/train-text-detector.ts), so P ${test?.precision ?? '?'} / R ${test?.recall ?? '?'} on the test split checks the pipeline, not accuracy; see the text-blind section for cross-validated and blind figures`,
    'the texts were written by the engineer who wrote the first, rule-based detector',
    `misclassified test texts: ${result.errors
      .filter((e) => e.split === 'test')
      .map((e) => e.id)
      .join(', ')}`,
  ];
  return { name: 'text', rows, notes };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const section = await run();
  console.table(section.rows);
  for (const note of section.notes) console.log(`- ${note}`);
}
