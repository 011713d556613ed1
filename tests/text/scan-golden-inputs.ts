import { readdirSync, readFileSync } from 'node:fs';
import { parseEvalJsonl } from '../../src/analysis/text/evaluation.ts';
import { scanText, type TextScan } from '../../src/analysis/text/tag-error-reports.ts';

/**
 * Inputs for the scanText golden file (tests/fixtures/text-scan/golden.jsonl): every text of the
 * labelled set (tests/fixtures/text-eval) plus long synthetic texts built from them with a seeded
 * generator (sentence punctuation stripped, clause words and markup between texts), so that sentence
 * and clause boundaries far from a match are exercised. The golden file was written by the detector as
 * it was before the linear-time rewrite (scripts: `tsx tests/text/scan-golden-inputs.ts --write`).
 */

const evalDir = new URL('../fixtures/text-eval/', import.meta.url);
export const GOLDEN_FILE = new URL('../fixtures/text-scan/golden.jsonl', import.meta.url);

export interface GoldenInput {
  id: string;
  text: string;
}

/** xorshift32: a small seeded PRNG so the synthetic texts are the same on every run. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

const SEPARATORS = [
  ' ',
  ', ',
  '. ',
  '\n',
  '但是',
  ' but ',
  'しかし',
  '...',
  '? ',
  ' ',
  ' ',
  '<br>',
  '&amp; ',
  '；',
  ' aber ',
];

export function goldenInputs(): GoldenInput[] {
  const files = readdirSync(evalDir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort();
  const items = files.flatMap((f) => parseEvalJsonl(readFileSync(new URL(f, evalDir), 'utf8'), f));
  const out: GoldenInput[] = items.map((i) => ({ id: i.id, text: i.text }));
  const strip = (t: string): string => t.replace(/[.!?。！？\n]/gu, ' ');
  const langs = [...new Set(items.map((i) => i.lang))].sort();
  for (const lang of langs) {
    const texts = items.filter((i) => i.lang === lang).map((i) => i.text);
    out.push({ id: `joined-${lang}`, text: texts.join(' ') });
    out.push({ id: `unpunctuated-${lang}`, text: strip(texts.join(' ')) });
  }
  const rand = prng(20240514);
  for (let k = 0; k < 40; k++) {
    const parts: string[] = [];
    const count = 5 + Math.floor(rand() * 40);
    const stripAll = rand() < 0.5;
    for (let j = 0; j < count; j++) {
      const item = items[Math.floor(rand() * items.length)];
      if (!item) continue;
      parts.push(stripAll || rand() < 0.3 ? strip(item.text) : item.text);
      parts.push(SEPARATORS[Math.floor(rand() * SEPARATORS.length)] ?? ' ');
    }
    out.push({ id: `mix-${k}`, text: parts.join('') });
  }
  return out;
}

/** The compact form stored in the golden file (span and context follow from start/end). */
export function compactScan(scan: TextScan): unknown {
  return [
    scan.flag,
    scan.score,
    scan.lang,
    scan.evidence.map((e) => [e.start, e.end, e.score, e.rule, e.cues]),
  ];
}

if (process.argv.includes('--write')) {
  const { writeFileSync } = await import('node:fs');
  const lines = goldenInputs().map((i) => JSON.stringify({ id: i.id, out: compactScan(scanText(i.text)) }));
  writeFileSync(GOLDEN_FILE, `${lines.join('\n')}\n`);
}
