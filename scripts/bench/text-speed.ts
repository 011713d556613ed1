/**
 * scanText throughput (`npm run bench text-speed`): MB/s on a 1 MB comment built from the labelled
 * texts of one language (tests/fixtures/text-eval), with its sentence punctuation and with all of it
 * removed (the case that was quadratic), min/median/max of 3 runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseEvalJsonl } from '../../src/analysis/text/evaluation.ts';
import { scanText } from '../../src/analysis/text/tag-error-reports.ts';
import type { BenchSection } from './types.ts';

const evalDir = resolve(fileURLToPath(new URL('../..', import.meta.url)), 'tests', 'fixtures', 'text-eval');
const SIZE = 1_000_000;
const RUNS = 3;

function comment(texts: string[], punctuation: boolean): string {
  const joined = texts.join(punctuation ? '\n' : ' ');
  const unit = punctuation ? joined : joined.replace(/[.!?。！？\n]/gu, ' ');
  return unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE);
}

export async function run(): Promise<BenchSection> {
  const items = readdirSync(evalDir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()
    .flatMap((f) => parseEvalJsonl(readFileSync(join(evalDir, f), 'utf8'), f));
  const langs = ['en', 'zh', 'ja', 'ru', 'all'];
  const rows: BenchSection['rows'] = [];
  for (const lang of langs) {
    const texts = items.filter((i) => lang === 'all' || i.lang === lang).map((i) => i.text);
    for (const punctuation of [true, false]) {
      const text = comment(texts, punctuation);
      const rates: number[] = [];
      let evidence = 0;
      for (let r = 0; r < RUNS; r++) {
        const t0 = performance.now();
        evidence = scanText(text).evidence.length;
        rates.push(text.length / 1e6 / ((performance.now() - t0) / 1000));
      }
      rates.sort((a, b) => a - b);
      rows.push({
        lang,
        punctuation: punctuation ? 'yes' : 'none',
        chars: text.length,
        evidence,
        'MB/s min': Number((rates[0] ?? 0).toFixed(3)),
        'MB/s median': Number((rates[1] ?? 0).toFixed(3)),
        'MB/s max': Number((rates[2] ?? 0).toFixed(3)),
      });
    }
  }
  return {
    name: 'text-speed',
    rows,
    notes: [
      `scanText on a ${SIZE / 1e6} MB comment made of the labelled texts of one language (all: every language), ${RUNS} runs; MB = 10^6 UTF-16 code units`,
      'before the linear-time rewrite, text without sentence punctuation was quadratic: 17 KB 1.1 s, 34 KB 4.3 s, 68 KB 17 s',
    ],
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const section = await run();
  console.table(section.rows);
  for (const note of section.notes) console.log(`- ${note}`);
}
