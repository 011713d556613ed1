import { z } from 'zod';
import { CueScanner } from './cue-scanner.ts';
import { detectLanguage, type SupportedLanguage } from './language.ts';
import { type NormalizedText, normalizeForMatching, originalRange } from './normalize.ts';
import { REPORT_RULES, type ReportRule } from './patterns.ts';

/**
 * Finds user reports of training-tag errors ("mislabeled", "wrong trigger word", 标签错误, タグミス,
 * 태그 오류, etiqueta incorrecta, неправильный тег, falsche Tags, mauvais tags, …) in descriptions,
 * changelogs, comments and reviews.
 *
 * Scoring: every pattern match starts at its rule weight (0.45–0.85) and is multiplied by the factor of
 * each cue found around it (negation 0.1, general question 0.12, author instruction 0.1, conditional 0.25,
 * other model 0.2, writer's own mistake 0.15, already fixed 0.2, question 0.5, question about this model
 * 0.9). Overlapping matches keep the strongest. A text's score is the noisy-OR of its evidence,
 * 1 − Π(1 − sᵢ), and it is flagged at `threshold` (0.5).
 */

export const DEFAULT_TEXT_THRESHOLD = 0.5;
/** Evidence weaker than this (e.g. a negated match, 0.08) is not reported. */
export const DEFAULT_MIN_EVIDENCE_SCORE = 0.1;
const CONTEXT_CHARS = 60;

export const TextEvidence = z.object({
  /** The matched text, from the original input. */
  span: z.string(),
  /** UTF-16 offsets into the original input, end exclusive. */
  start: z.number().int(),
  end: z.number().int(),
  /** The original text ±60 characters around the span. */
  context: z.string(),
  score: z.number().min(0).max(1),
  /** Pattern id such as `en.mislabel` or `zh.noun-pred`. */
  rule: z.string(),
  /** Cues that lowered the score (negation, instruction, …). */
  cues: z.array(z.string()),
});
export type TextEvidence = z.infer<typeof TextEvidence>;

export const TextScan = z.object({
  flag: z.boolean(),
  score: z.number().min(0).max(1),
  /** ISO 639-1 code of the text ('zh' for Chinese, 'und' when unknown). */
  lang: z.string(),
  evidence: z.array(TextEvidence),
});
export type TextScan = z.infer<typeof TextScan>;

export const TextScanOptions = z.object({
  threshold: z.number().min(0).max(1).default(DEFAULT_TEXT_THRESHOLD),
  minEvidenceScore: z.number().min(0).max(1).default(DEFAULT_MIN_EVIDENCE_SCORE),
});
export type TextScanOptions = z.input<typeof TextScanOptions>;

export const TextSourceKind = z.enum(['description', 'changelog', 'comment', 'review']);
export type TextSourceKind = z.infer<typeof TextSourceKind>;

export const TextSource = z.object({
  kind: TextSourceKind,
  /** Stable id: 'description', 'version:123', 'comment:456', 'review:789'. */
  id: z.string(),
  /** For people: 'description', 'version v2 changelog', 'comment 456', 'review 789'. */
  label: z.string(),
  text: z.string(),
});
export type TextSource = z.infer<typeof TextSource>;

export const ModelTextEvidence = TextEvidence.extend({
  sourceId: z.string(),
  sourceKind: TextSourceKind,
  sourceLabel: z.string(),
  lang: z.string(),
});
export type ModelTextEvidence = z.infer<typeof ModelTextEvidence>;

export const ModelTextVerdict = z.object({
  flag: z.boolean(),
  score: z.number().min(0).max(1),
  threshold: z.number(),
  evidence: z.array(ModelTextEvidence),
  scannedSources: z.number().int(),
});
export type ModelTextVerdict = z.infer<typeof ModelTextVerdict>;

/**
 * How much one source's score counts in the model score. Authors write about tagging mostly as
 * instructions and notes, which the cues catch only partly, so their texts count a little less than an
 * independent user's report.
 */
export const SOURCE_WEIGHTS: Record<TextSourceKind, number> = {
  description: 0.8,
  changelog: 0.8,
  comment: 1,
  review: 1,
};

interface Candidate {
  rule: ReportRule;
  nStart: number;
  nEnd: number;
  score: number;
  cues: string[];
}

function collectCandidates(norm: NormalizedText, textLang: SupportedLanguage | 'und'): Candidate[] {
  const out: Candidate[] = [];
  const cues = new CueScanner(norm.text);
  for (const rule of REPORT_RULES) {
    rule.re.lastIndex = 0;
    for (const m of norm.text.matchAll(rule.re)) {
      if (m[0].length === 0) continue;
      const nStart = m.index ?? 0;
      const nEnd = nStart + m[0].length;
      const langs: SupportedLanguage[] = [rule.lang];
      if (textLang !== 'und' && textLang !== rule.lang) langs.push(textLang);
      out.push({ rule, nStart, nEnd, ...cues.score(rule, nStart, nEnd, langs) });
    }
  }
  return out;
}

/** Counts covered positions in [0, size) with range queries in O(log size). */
class CoverageTree {
  readonly #tree: Int32Array;

  constructor(size: number) {
    this.#tree = new Int32Array(size + 1);
  }

  #prefix(end: number): number {
    let sum = 0;
    for (let i = end; i > 0; i -= i & -i) sum += this.#tree[i] as number;
    return sum;
  }

  /** Covered positions in [start, end). */
  count(start: number, end: number): number {
    return this.#prefix(end) - this.#prefix(start);
  }

  /** Marks [start, end) as covered; the caller never covers a position twice. */
  cover(start: number, end: number): void {
    for (let p = start; p < end; p++) {
      for (let i = p + 1; i < this.#tree.length; i += i & -i) this.#tree[i] = (this.#tree[i] as number) + 1;
    }
  }
}

/** Keeps the strongest of overlapping matches. */
function dedupe(candidates: Candidate[], textLang: string): Candidate[] {
  const own = (c: Candidate): number => (c.rule.lang === textLang ? 1 : 0);
  const sorted = [...candidates].sort(
    (a, b) => b.score - a.score || own(b) - own(a) || b.nEnd - b.nStart - (a.nEnd - a.nStart),
  );
  const kept: Candidate[] = [];
  // Kept spans never overlap, so the positions they cover are counted in a Fenwick tree: each overlap
  // test is a range count, each position is added once (O((n + k) log n), not k² comparisons).
  const covered = new CoverageTree(sorted.reduce((max, c) => Math.max(max, c.nEnd), 0));
  for (const c of sorted) {
    if (covered.count(c.nStart, c.nEnd) > 0) continue;
    covered.cover(c.nStart, c.nEnd);
    kept.push(c);
  }
  return kept.sort((a, b) => a.nStart - b.nStart);
}

const round = (x: number): number => Math.round(x * 10000) / 10000;

/** Scans one text for reports of training-tag errors; never throws (bad options are a zod error: INPUT_INVALID at the caller). */
export function scanText(text: string, options?: TextScanOptions): TextScan {
  const opts = TextScanOptions.parse(options ?? {});
  if (typeof text !== 'string' || text.trim().length === 0) {
    return { flag: false, score: 0, lang: 'und', evidence: [] };
  }
  const norm = normalizeForMatching(text);
  const lang = detectLanguage(norm.text);
  const kept = dedupe(collectCandidates(norm, lang), lang).filter((c) => c.score >= opts.minEvidenceScore);
  let miss = 1;
  const evidence: TextEvidence[] = kept.map((c) => {
    miss *= 1 - c.score;
    const { start, end } = originalRange(norm, c.nStart, c.nEnd);
    return {
      span: text.slice(start, end),
      start,
      end,
      context: text.slice(Math.max(0, start - CONTEXT_CHARS), Math.min(text.length, end + CONTEXT_CHARS)),
      score: round(c.score),
      rule: c.rule.id,
      cues: c.cues,
    };
  });
  const score = round(1 - miss);
  return { flag: score >= opts.threshold, score, lang, evidence };
}

/**
 * Scans all texts of a model and combines them: model score = 1 − Π(1 − wₖ·sᵢ) over sources, with wₖ
 * from {@link SOURCE_WEIGHTS}; flagged at `threshold` (0.5). Every kept piece of evidence is returned
 * with its source.
 */
export function scanSources(sources: TextSource[], options?: { threshold?: number }): ModelTextVerdict {
  const threshold = z
    .number()
    .min(0)
    .max(1)
    .default(DEFAULT_TEXT_THRESHOLD)
    .parse(options?.threshold ?? undefined);
  let miss = 1;
  const evidence: ModelTextEvidence[] = [];
  let scanned = 0;
  for (const raw of sources) {
    const parsed = TextSource.safeParse(raw);
    if (!parsed.success) continue;
    const source = parsed.data;
    scanned += 1;
    const scan = scanText(source.text);
    miss *= 1 - SOURCE_WEIGHTS[source.kind] * scan.score;
    for (const ev of scan.evidence) {
      evidence.push({
        ...ev,
        sourceId: source.id,
        sourceKind: source.kind,
        sourceLabel: source.label,
        lang: scan.lang,
      });
    }
  }
  const score = round(1 - miss);
  return { flag: score >= threshold, score, threshold, evidence, scannedSources: scanned };
}

/** Report columns the audit maps into metrics.csv. */
export function textReportColumns(verdict: ModelTextVerdict): {
  tag_error_text: boolean;
  tag_error_text_score: number;
} {
  return { tag_error_text: verdict.flag, tag_error_text_score: verdict.score };
}
