import { z } from 'zod';
import { extractFeatures } from './detector/features.ts';
import { VERSION_RE } from './detector/frames.ts';
import { defaultDetectorModel } from './detector/model.ts';
import { scanWithModel } from './detector/scan.ts';
import { snippetAround } from './snippet.ts';

/**
 * Finds reports of training-tag errors in descriptions, changelogs, comments and reviews, in nine
 * languages: reports that name the error ("wrong tag", 标签错误) and, more often, reports that
 * describe it (the trigger only works spelled another way, a concept is baked into the trigger, a
 * tag the images do not show, captions mixed up between characters, tag frequencies read from the
 * file, an author admitting an open problem).
 *
 * Scoring: a logistic regression over frame features (caption-domain entity + malfunction, mismatch,
 * correction, leak, mix-up … in one sentence; cancelling cues such as the writer's own resolved
 * mistake, other models, one's own dataset, instructions, an earlier version already fixed),
 * character n-grams and words (src/analysis/text/detector), calibrated by Platt scaling so a score
 * of 0.8 is right about 80 % of the time on held-out texts. A text is flagged at `threshold` (0.5).
 */

export const DEFAULT_TEXT_THRESHOLD = 0.5;
/** A text scoring below this gets no evidence sentence. */
export const DEFAULT_MIN_EVIDENCE_SCORE = 0.1;

export const TextEvidence = z.object({
  /** The sentence that carried the decision, from the original input. */
  span: z.string(),
  /** UTF-16 offsets into the original input, end exclusive. */
  start: z.number().int(),
  end: z.number().int(),
  /** The span with up to 60 characters of whole words on each side (… where cut). */
  context: z.string(),
  score: z.number().min(0).max(1),
  /** The strongest feature of that sentence, e.g. `model:tag/trigger + malfunction`. */
  rule: z.string(),
  /** Features there that lowered the score (instruction, already fixed, other models, …). */
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
  /** Who wrote it (the commenter; the model's creator for its description and changelogs). */
  author: z.string().nullable().optional(),
  /** The version the text belongs to (a changelog's version, the version a comment was left on). */
  versionId: z.number().int().nullable().optional(),
});
export type TextSource = z.infer<typeof TextSource>;

export const ModelTextEvidence = TextEvidence.extend({
  sourceId: z.string(),
  sourceKind: TextSourceKind,
  sourceLabel: z.string(),
  lang: z.string(),
  author: z.string().nullable(),
  /** The version the report concerns (named in the text, else the version it was left on). */
  versionId: z.number().int().nullable(),
  /** Name of the later version whose author text says the problem was fixed, if any. */
  fixedIn: z.string().nullable(),
});
export type ModelTextEvidence = z.infer<typeof ModelTextEvidence>;

export const ModelTextVerdict = z.object({
  flag: z.boolean(),
  score: z.number().min(0).max(1),
  threshold: z.number(),
  evidence: z.array(ModelTextEvidence),
  scannedSources: z.number().int(),
  /** Distinct people (or anonymous sources) with a report at or above the threshold, not fixed later. */
  reporters: z.number().int(),
  /** Reports about versions the author says were fixed later (not counted in `score`). */
  fixedReports: z.number().int(),
  /** One sentence: who reported what, and which reports concern fixed versions. */
  summary: z.string(),
});
export type ModelTextVerdict = z.infer<typeof ModelTextVerdict>;

/**
 * How much one source's score counts in the model score. Authors write about tagging mostly as
 * instructions and notes, so their texts count a little less than an independent user's report.
 */
export const SOURCE_WEIGHTS: Record<TextSourceKind, number> = {
  description: 0.8,
  changelog: 0.8,
  comment: 1,
  review: 1,
};

const round = (x: number): number => Math.round(x * 10000) / 10000;

/**
 * Texts longer than this are scored in windows of whole sentences (cut at white space only inside a
 * longer sentence), and the strongest window decides: the model was trained on comment-sized texts,
 * and one report sentence in a long description must not be diluted by the rest of it.
 */
export const CHUNK_CHARS = 600;
const LOOK_BACK = CHUNK_CHARS / 2;

/** [start, end) pieces of at most CHUNK_CHARS, cut after a sentence end, else at white space. */
export function chunkBounds(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  while (text.length - start > CHUNK_CHARS) {
    let end = start + CHUNK_CHARS;
    const window = text.slice(end - LOOK_BACK, end);
    const sentence = Math.max(
      window.lastIndexOf('. '),
      window.lastIndexOf('\n'),
      window.lastIndexOf('。'),
      window.lastIndexOf('!'),
      window.lastIndexOf('?'),
    );
    const space = window.search(/\s\S*$/u);
    const cut = sentence >= 0 ? sentence + 1 : space;
    if (cut > 0) end = end - LOOK_BACK + cut;
    // Never split a surrogate pair.
    const code = text.charCodeAt(end - 1);
    if (code >= 0xd800 && code <= 0xdbff) end -= 1;
    out.push([start, end]);
    start = end;
  }
  out.push([start, text.length]);
  return out;
}

const CONTEXT_CHARS = 60;

function scanPiece(
  text: string,
  start: number,
  end: number,
  opts: z.output<typeof TextScanOptions>,
): TextScan {
  const piece = start === 0 && end === text.length ? text : text.slice(start, end);
  const scan = scanWithModel(defaultDetectorModel(), piece, opts.minEvidenceScore);
  return {
    flag: scan.score >= opts.threshold,
    score: scan.score,
    lang: scan.lang,
    evidence: scan.evidence.map((ev) => ({
      ...ev,
      start: ev.start + start,
      end: ev.end + start,
      context: snippetAround(text, ev.start + start, ev.end + start, CONTEXT_CHARS),
    })),
  };
}

/** The pieces' verdict: the strongest piece decides (score, evidence); the language is the first's. */
function combine(pieces: TextScan[]): TextScan {
  let best = pieces[0]!;
  for (const p of pieces) if (p.score > best.score) best = p;
  return { ...best, lang: pieces[0]!.lang };
}

let defaults: z.output<typeof TextScanOptions> | undefined;
/** The default options, parsed once (scanText runs per comment). */
function defaultScanOptions(): z.output<typeof TextScanOptions> {
  defaults ??= Object.freeze(TextScanOptions.parse({}));
  return defaults;
}

const EMPTY_SCAN: TextScan = { flag: false, score: 0, lang: 'und', evidence: [] };

/**
 * Scans one text for reports of training-tag errors; never throws (bad options are a zod error:
 * INPUT_INVALID at the caller). Long texts are scanned in pieces of {@link CHUNK_CHARS}.
 */
export function scanText(text: string, options?: TextScanOptions): TextScan {
  const opts = options === undefined ? defaultScanOptions() : TextScanOptions.parse(options);
  if (typeof text !== 'string' || text.trim().length === 0) return { ...EMPTY_SCAN };
  return combine(chunkBounds(text).map(([s, e]) => scanPiece(text, s, e, opts)));
}

/** The async scan gives the event loop a turn at least this often. */
const YIELD_EVERY_MS = 15;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** {@link scanText}, yielding to the event loop between pieces (a bot's gateway keeps running). */
export async function scanTextAsync(text: string, options?: TextScanOptions): Promise<TextScan> {
  const opts = options === undefined ? defaultScanOptions() : TextScanOptions.parse(options);
  if (typeof text !== 'string' || text.trim().length === 0) return { ...EMPTY_SCAN };
  const pieces: TextScan[] = [];
  let since = performance.now();
  for (const [s, e] of chunkBounds(text)) {
    if (performance.now() - since > YIELD_EVERY_MS) {
      await yieldToEventLoop();
      since = performance.now();
    }
    pieces.push(scanPiece(text, s, e, opts));
  }
  return combine(pieces);
}

/** A version name reduced for matching mentions: "V2.0" → "2", "version 3.1" → "3.1". */
export function versionKey(name: string): string {
  return name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\b(?:version|versión|versão|версия|версии|ver\.?|v)\s?(?=\d)|버전|バージョン|版本/gu, '')
    .replace(/\s+/g, '')
    .replace(/(\.0)+$/u, '');
}

export interface VersionInfo {
  id: number;
  name: string;
}

function mentionedVersion(text: string, versions: readonly VersionInfo[]): number | null {
  const keys = new Map(versions.map((v) => [versionKey(v.name), v.id] as const));
  const found = new Set<number>();
  VERSION_RE.lastIndex = 0;
  for (const m of text.matchAll(VERSION_RE)) {
    const id = keys.get(versionKey(m[0]));
    if (id !== undefined) found.add(id);
  }
  return found.size === 1 ? [...found][0]! : null;
}

/**
 * Scans all texts of a model and combines them per person: each reporter counts once, with their
 * strongest report (weighted by {@link SOURCE_WEIGHTS}), and the model score is the noisy-OR over
 * reporters, 1 − Π(1 − uᵣ) — so several weak reports from different users outweigh one strong
 * sentence from one user. `versions` are the model's versions, newest first (Civitai's order): a
 * report about a version that an author text of a later version calls fixed counts against that
 * version, not the latest one, and is left out of the score (but kept as evidence with `fixedIn`).
 */
export interface ScanSourcesOptions {
  threshold?: number;
  versions?: readonly VersionInfo[];
  creator?: string | null;
}

export function scanSources(sources: TextSource[], options?: ScanSourcesOptions): ModelTextVerdict {
  const scans = new Map<TextSource, TextScan>();
  for (const raw of sources) {
    const parsed = TextSource.safeParse(raw);
    if (parsed.success) scans.set(raw, scanText(parsed.data.text));
  }
  return aggregateSources(sources, scans, options);
}

/** {@link scanSources}, yielding to the event loop between texts and pieces of long texts. */
export async function scanSourcesAsync(
  sources: TextSource[],
  options?: ScanSourcesOptions,
): Promise<ModelTextVerdict> {
  const scans = new Map<TextSource, TextScan>();
  for (const raw of sources) {
    const parsed = TextSource.safeParse(raw);
    if (parsed.success) {
      await yieldToEventLoop();
      scans.set(raw, await scanTextAsync(parsed.data.text));
    }
  }
  return aggregateSources(sources, scans, options);
}

function aggregateSources(
  sources: TextSource[],
  scans: ReadonlyMap<TextSource, TextScan>,
  options?: ScanSourcesOptions,
): ModelTextVerdict {
  const threshold = z
    .number()
    .min(0)
    .max(1)
    .default(DEFAULT_TEXT_THRESHOLD)
    .parse(options?.threshold ?? undefined);
  const versions = options?.versions ?? [];
  const order = new Map(versions.map((v, i) => [v.id, i] as const)); // 0 = newest
  const creator = options?.creator ?? null;

  const scanned: Array<{ source: TextSource; scan: TextScan; versionId: number | null }> = [];
  for (const raw of sources) {
    const parsed = TextSource.safeParse(raw);
    if (!parsed.success) continue;
    const source = parsed.data;
    const scan = scans.get(raw) ?? scanText(source.text);
    const versionId = mentionedVersion(source.text, versions) ?? source.versionId ?? null;
    scanned.push({ source, scan, versionId });
  }

  // Versions an author text calls fixed: the newest version whose changelog (or an author comment
  // about it) has a "fixed" frame.
  const fixedAt: Array<{ versionId: number; rank: number }> = [];
  for (const { source, versionId } of scanned) {
    const byAuthor =
      source.kind === 'changelog' ||
      source.kind === 'description' ||
      (creator !== null && source.author === creator);
    // A changelog speaks for its own version ("v1's tags are fixed" in v2's changelog: fixed in v2);
    // an author's comment for the version it names ("fixed in v3").
    const fixVersion = source.kind === 'changelog' ? (source.versionId ?? null) : versionId;
    if (!byAuthor || fixVersion === null || !order.has(fixVersion)) continue;
    if (extractFeatures(source.text).named.has('f:fixed')) {
      fixedAt.push({ versionId: fixVersion, rank: order.get(fixVersion)! });
    }
  }
  const fixedIn = (versionId: number | null): string | null => {
    if (versionId === null || !order.has(versionId)) return null;
    const rank = order.get(versionId)!;
    const later = fixedAt.filter((f) => f.rank < rank).sort((a, b) => b.rank - a.rank)[0];
    return later ? (versions[later.rank]?.name ?? null) : null;
  };

  const perReporter = new Map<string, number>();
  const evidence: ModelTextEvidence[] = [];
  let fixedReports = 0;
  const fixedNames = new Set<string>();
  for (const { source, scan, versionId } of scanned) {
    const author = source.author ?? null;
    const fixed = scan.flag ? fixedIn(versionId) : null;
    const isAuthorText = source.kind === 'description' || source.kind === 'changelog';
    if (fixed) {
      fixedReports += 1;
      fixedNames.add(fixed);
    } else {
      const who = author ?? (isAuthorText && creator ? creator : `source:${source.id}`);
      const u = SOURCE_WEIGHTS[source.kind] * scan.score;
      perReporter.set(who, Math.max(perReporter.get(who) ?? 0, u));
    }
    for (const ev of scan.evidence) {
      evidence.push({
        ...ev,
        sourceId: source.id,
        sourceKind: source.kind,
        sourceLabel: source.label,
        lang: scan.lang,
        author: author ?? (isAuthorText ? creator : null),
        versionId,
        fixedIn: fixed,
      });
    }
  }
  let miss = 1;
  let reporters = 0;
  for (const u of perReporter.values()) {
    miss *= 1 - u;
    if (u >= threshold) reporters += 1;
  }
  const score = round(1 - miss);
  const flag = score >= threshold;
  const parts: string[] = [];
  const weak = [...perReporter.values()].filter((u) => u >= 0.2 && u < threshold).length;
  parts.push(
    reporters === 0 && weak === 0
      ? 'no report of a tag error'
      : `${reporters} reporter(s) above ${threshold}${weak > 0 ? ` and ${weak} weaker` : ''} (combined ${score})`,
  );
  if (fixedReports > 0) {
    parts.push(
      `${fixedReports} report(s) concern a version the author says was fixed in ${[...fixedNames].join(', ')} (not counted against the latest version)`,
    );
  }
  return {
    flag,
    score,
    threshold,
    evidence,
    scannedSources: scanned.length,
    reporters,
    fixedReports,
    summary: parts.join('; '),
  };
}

/** Report columns the audit maps into metrics.csv. */
export function textReportColumns(verdict: ModelTextVerdict): {
  tag_error_text: boolean;
  tag_error_text_score: number;
} {
  return { tag_error_text: verdict.flag, tag_error_text_score: verdict.score };
}
