/**
 * Text detector on the frozen blind set (tests/fixtures/text-blind, written by someone who never
 * saw the detector) beside the development set (tests/fixtures/text-eval), with the bare
 * keyword-regex baseline on the same texts. Only aggregates are printed: P, R, F1 per language,
 * recall per positive phenomenon and false positives per hard-negative kind — never a text, so
 * the figures can go back to whoever tunes the detector without unblinding the set.
 * Also: scan-text throughput (comments/s) on one core.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  compileModel,
  type DetectorModel,
  DetectorModelFile,
  defaultDetectorModel,
  scoreWithModel,
} from '../../src/analysis/text/detector/model.ts';
import { chunkBounds, DEFAULT_TEXT_THRESHOLD, scanText } from '../../src/analysis/text/tag-error-reports.ts';
import type { BenchSection } from './types.ts';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const blindDir = join(root, 'tests', 'fixtures', 'text-blind');
const devDir = join(root, 'tests', 'fixtures', 'text-eval');
const trainDir = join(root, 'tests', 'fixtures', 'text-dev');

/** The baseline: a bare keyword regex, nothing else. */
export const KEYWORD_BASELINE =
  /wrong tag|incorrect (tag|class)|mislabel|标签错|标签错误|标注错误|タグミス|タグ間違/i;

const DevItem = z.object({
  id: z.string(),
  lang: z.string(),
  text: z.string(),
  label: z.union([z.literal(0), z.literal(1)]),
});

const BlindItem = z.object({
  id: z.string(),
  lang: z.string(),
  source: z.string(),
  text: z.string(),
  label: z.union([z.literal(0), z.literal(1)]),
  phenomenon: z.string(),
});

interface Scored {
  lang: string;
  label: 0 | 1;
  group: string;
  detector: boolean;
  /** The n-gram-only logistic regression baseline's flag (undefined when it was not trained). */
  ngram?: boolean;
  /** The calibrated score (the flag is score ≥ 0.5). */
  score: number;
  baseline: boolean;
}

/**
 * Reliability of the calibrated scores: per tenth of the score range, how many texts, their mean
 * score and the share that are reports; plus the expected calibration error (the n-weighted mean gap).
 */
function reliabilityRows(set: string, items: readonly Scored[]): { rows: BenchSection['rows']; ece: number } {
  const rows: BenchSection['rows'] = [];
  let ece = 0;
  for (let b = 0; b < 10; b++) {
    const inBin = items.filter(
      (s) => s.score >= b / 10 && (s.score < (b + 1) / 10 || (b === 9 && s.score <= 1)),
    );
    if (inBin.length === 0) continue;
    const mean = inBin.reduce((a, s) => a + s.score, 0) / inBin.length;
    const observed = inBin.reduce((a, s) => a + s.label, 0) / inBin.length;
    ece += (inBin.length / items.length) * Math.abs(mean - observed);
    rows.push({
      set: `${set} reliability`,
      lang: `${(b / 10).toFixed(1)}-${((b + 1) / 10).toFixed(1)}`,
      n: inBin.length,
      'mean score': Number(mean.toFixed(3)),
      'observed rate': Number(observed.toFixed(3)),
    });
  }
  return { rows, ece };
}

/** Reads a frozen set and refuses it when its sha256 is not the committed one. */
function readFrozen(file: string): string {
  const text = readFileSync(join(blindDir, file), 'utf8');
  const sums = readFileSync(join(blindDir, 'SHA256SUMS'), 'utf8');
  const pinned = sums
    .split('\n')
    .find((l) => l.trim().endsWith(file))
    ?.split(/\s+/)[0];
  const actual = createHash('sha256').update(text).digest('hex');
  if (pinned !== actual) throw new Error(`${file} does not match its frozen sha256 (${pinned} vs ${actual})`);
  return text;
}

function prf(items: readonly Scored[], pick: (s: Scored) => boolean) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const s of items) {
    const flag = pick(s);
    if (flag && s.label === 1) tp++;
    else if (flag) fp++;
    else if (s.label === 1) fn++;
  }
  const p = tp + fp === 0 ? 1 : tp / (tp + fp);
  const r = tp + fn === 0 ? 1 : tp / (tp + fn);
  const f1 = p + r === 0 ? 0 : (2 * p * r) / (p + r);
  return { p: Number(p.toFixed(3)), r: Number(r.toFixed(3)), f1: Number(f1.toFixed(3)) };
}

function score(set: string, items: readonly Scored[]): BenchSection['rows'] {
  const langs = [...new Set(items.map((s) => s.lang))].sort();
  return [...langs, 'all'].map((lang) => {
    const inLang = lang === 'all' ? items : items.filter((s) => s.lang === lang);
    const d = prf(inLang, (s) => s.detector);
    const b = prf(inLang, (s) => s.baseline);
    const g = inLang[0]?.ngram === undefined ? undefined : prf(inLang, (s) => s.ngram === true);
    return {
      set,
      lang,
      n: inLang.length,
      pos: inLang.filter((s) => s.label === 1).length,
      P: d.p,
      R: d.r,
      F1: d.f1,
      'baseline P': b.p,
      'baseline R': b.r,
      'baseline F1': b.f1,
      ...(g ? { 'ngram-LR P': g.p, 'ngram-LR R': g.r, 'ngram-LR F1': g.f1 } : {}),
    };
  });
}

function readBlind(file: string) {
  return readFrozen(file)
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => BlindItem.parse(JSON.parse(l)));
}

function phenomenonRows(set: string, scored: readonly Scored[]): BenchSection['rows'] {
  return [...new Set(scored.map((s) => s.group))].sort().map((ph) => {
    const inPh = scored.filter((s) => s.group === ph);
    const positive = inPh[0]!.label === 1;
    const hits = inPh.filter((s) => s.detector).length;
    const baseHits = inPh.filter((s) => s.baseline).length;
    const ngramHits = inPh.filter((s) => s.ngram === true).length;
    const withNgram = inPh[0]!.ngram !== undefined;
    return {
      set: `${set} phenomenon`,
      lang: ph,
      n: inPh.length,
      pos: positive ? inPh.length : 0,
      R: positive ? Number((hits / inPh.length).toFixed(3)) : null,
      'baseline R': positive ? Number((baseHits / inPh.length).toFixed(3)) : null,
      'false positives': positive ? null : hits,
      'baseline false positives': positive ? null : baseHits,
      ...(withNgram
        ? {
            'ngram-LR R': positive ? Number((ngramHits / inPh.length).toFixed(3)) : null,
            'ngram-LR false positives': positive ? null : ngramHits,
          }
        : {}),
    };
  });
}

/**
 * The strongest simple baseline: the same logistic regression, training data and calibration on the
 * character n-grams and words alone (no frames or cues), trained here by the training script into a
 * temporary file (about a minute; LORALENS_BENCH_TEXT_NGRAM=0 skips it).
 */
function trainNgramBaseline(): DetectorModel | undefined {
  if (process.env.LORALENS_BENCH_TEXT_NGRAM === '0') return undefined;
  const out = join(mkdtempSync(join(tmpdir(), 'loralens-ngram-')), 'model.json');
  execFileSync(
    process.execPath,
    ['--import', 'tsx', join(root, 'scripts', 'train-text-detector.ts'), '--out', out],
    {
      cwd: root,
      env: { ...process.env, LORALENS_TRAIN_FEATURES: 'ngrams' },
      stdio: 'ignore',
    },
  );
  return compileModel(DetectorModelFile.parse(JSON.parse(readFileSync(out, 'utf8'))));
}

/** A model's flag for `text` as scanText decides it: windows of long texts, the strongest decides. */
function flagWith(model: DetectorModel, text: string): boolean {
  if (text.trim().length === 0) return false;
  let best = 0;
  for (const [a, b] of chunkBounds(text))
    best = Math.max(best, scoreWithModel(model, text.slice(a, b), false).score);
  return best >= DEFAULT_TEXT_THRESHOLD;
}

export async function run(): Promise<BenchSection> {
  const ngramModel = trainNgramBaseline();
  const judge = (text: string) => {
    const scan = scanText(text);
    return {
      detector: scan.flag,
      score: scan.score,
      baseline: KEYWORD_BASELINE.test(text),
      ...(ngramModel ? { ngram: flagWith(ngramModel, text) } : {}),
    };
  };
  const devFiles = [devDir, trainDir].flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .sort()
      .map((f) => join(dir, f)),
  );
  const dev = devFiles.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => DevItem.parse(JSON.parse(l))),
  );
  const devScored: Scored[] = dev.map((d) => ({
    lang: d.lang,
    label: d.label,
    group: 'dev',
    ...judge(d.text),
  }));
  const rows: BenchSection['rows'] = score('development (in-sample)', devScored);
  // The honest development figure: the model file's 5-fold cross-validated P/R/F1.
  const cv = defaultDetectorModel().file.training.crossValidated as Record<
    string,
    { P: number; R: number; F1: number }
  >;
  const ngramCv = ngramModel?.file.training.crossValidated as
    | Record<string, { P: number; R: number; F1: number }>
    | undefined;
  for (const [lang, v] of Object.entries(cv)) {
    const g = ngramCv?.[lang];
    rows.push({
      set: 'development (5-fold CV)',
      lang,
      P: v.P,
      R: v.R,
      F1: v.F1,
      ...(g ? { 'ngram-LR P': g.P, 'ngram-LR R': g.R, 'ngram-LR F1': g.F1 } : {}),
    });
  }
  // The same per phenomenon (corpora that name one), out-of-fold, for both models.
  type ByPhenomenon = Record<string, { n: number; positive: boolean; flagged: number; rate: number }>;
  const byPh = defaultDetectorModel().file.training.crossValidatedByPhenomenon as ByPhenomenon | undefined;
  const ngramByPh = ngramModel?.file.training.crossValidatedByPhenomenon as ByPhenomenon | undefined;
  for (const [ph, v] of Object.entries(byPh ?? {})) {
    const g = ngramByPh?.[ph];
    rows.push({
      set: 'development (5-fold CV) phenomenon',
      lang: ph,
      n: v.n,
      pos: v.positive ? v.n : 0,
      R: v.positive ? v.rate : null,
      'false positives': v.positive ? null : v.flagged,
      ...(g
        ? {
            'ngram-LR R': g.positive ? g.rate : null,
            'ngram-LR false positives': g.positive ? null : g.flagged,
          }
        : {}),
    });
  }
  const notes: string[] = [];
  const sets = ['blind-set-1.jsonl', 'blind-set-2.jsonl', 'blind-set-3.jsonl', 'blind-set-4.jsonl'];
  let lastBlind: ReturnType<typeof readBlind> = [];
  for (const [k, file] of sets.entries()) {
    const items = readBlind(file);
    lastBlind = items;
    const scored: Scored[] = items.map((b) => ({
      lang: b.lang,
      label: b.label,
      group: b.phenomenon,
      ...judge(b.text),
    }));
    const name = `blind-${k + 1}`;
    const reliability = reliabilityRows(name, scored);
    rows.push(...score(name, scored), ...phenomenonRows(name, scored), ...reliability.rows);
    notes.push(`${name}: expected calibration error ${reliability.ece.toFixed(3)} (10 bins)`);
    const perLang = score(name, scored).filter((r) => r.lang !== 'all');
    const short = perLang
      .filter((r) => !((r.P as number) >= 0.9 && (r.R as number) >= 0.85))
      .map((r) => r.lang);
    notes.push(
      `${name}: ${items.length} texts; languages short of P >= 0.9 and R >= 0.85: ${short.join(', ') || 'none'}`,
    );
  }

  // Throughput on one core: the last blind set's texts scanned repeatedly, three rounds of about two
  // seconds; comments per second of wall time and per second of this process's CPU time (the second
  // is what one core gives when other processes share the machine), min/median/max of the rounds.
  const texts = lastBlind.map((b) => b.text);
  for (const t of texts) scanText(t);
  const wallRates: number[] = [];
  const cpuRates: number[] = [];
  const load = loadavg()[0]!;
  for (let round = 0; round < 3; round++) {
    let scanned = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    while (performance.now() - t0 < 2000) {
      for (const t of texts) scanText(t);
      scanned += texts.length;
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    wallRates.push(scanned / wall);
    cpuRates.push(scanned / ((cpu.user + cpu.system) / 1e6));
  }
  const fmt = (xs: number[]): string => {
    const s = [...xs].sort((a, b) => a - b).map((x) => Math.round(x));
    return `${s[0]} / ${s[1]} / ${s[2]}`;
  };
  const perSecond = Math.round([...cpuRates].sort((a, b) => a - b)[1]!);
  rows.push({
    set: 'throughput',
    lang: 'all',
    n: texts.length,
    'comments/s wall (min/med/max)': fmt(wallRates),
    'comments/s CPU (min/med/max)': fmt(cpuRates),
    goal: '>= 20000',
    met: perSecond >= 20_000 ? 'yes' : 'no',
  });
  notes.push(
    `throughput: ${texts.length} blind-set texts (mean ${Math.round(texts.reduce((a, t) => a + t.length, 0) / texts.length)} chars, about half of them reports, so most get an explained evidence span) scanned with scanText on one thread; load average ${load.toFixed(2)} at start on ${cpus().length} cores`,
  );

  return {
    name: 'text-blind: detector vs keyword baseline, development and blind sets',
    rows,
    notes: [
      ...notes,
      'blind sets: written from a brief of the phenomena by helpers who never saw the code (a new pair of helpers for each set), frozen by sha256 before their first score. blind-1 guided round-2 tuning and blind-3 round-4 tuning (aggregates only: P/R per language and phenomenon, no text); blind-2 was the final set of round 2 and blind-3 of round 3; blind-4 is the final set of the current model (round 4), scored once the model was fixed. Seen sets are kept as rows, but only the last is a fresh figure',
      'development: tests/fixtures/text-eval (written by the first detector author) and tests/fixtures/text-dev (corpora A–E written by five helpers from the same brief, plus 105 short explicit texts by the detector author; see its README); the model is trained on all of it, so the in-sample row checks the pipeline and the 5-fold CV row is the development figure',
      `baseline: ${KEYWORD_BASELINE.source}`,
      ngramModel
        ? 'ngram-LR: the strongest simple baseline, the same logistic regression and calibration on character 2–4-grams and words alone (no frames, cues or language), trained on the same development data; what the detector adds over it is the frames'
        : 'ngram-LR baseline skipped (LORALENS_BENCH_TEXT_NGRAM=0)',
      `scan-text throughput ${perSecond} comments per CPU-second on one core, median of 3 rounds (goal 20 000)`,
    ],
  };
}
