import type { SupportedLanguage } from './language.ts';
import { CUE_FACTORS, CUES, type CueKind, type ReportRule } from './patterns.ts';

/**
 * The cue pass of the tag-error detector: for one match, the sentence and clause around it and the cues
 * found there (see tag-error-reports.ts for the scoring). One scanner serves every match of one text,
 * in time linear in the text: sentence bounds come from tables built once, clause words from one scan
 * of the whole text, and the sentence-wide cue patterns run once per sentence and language instead of
 * once per match (a long text without sentence punctuation used to be re-read for every match).
 */

/** Sentence punctuation (a '.' only before whitespace or the end), as the detector has always read it. */
const TERMINATORS = new Set(['!', '?', '。', '！', '？', '\n']);
const WHITESPACE_RE = /\s/u;
const CLAUSE_RE =
  /[,;:，、；：]|(?<![\p{L}])(?:but|pero|mas|но|aber|mais|however)(?![\p{L}])|但是|但|不过|しかし|でも|하지만|그런데/gu;
/**
 * A clause-word match reads at most one code point before it and 8 code units from its start
 * ("however" and the look-ahead); 16 leaves room for surrogate pairs.
 */
const CLAUSE_READ_MARGIN = 16;
/** Closer than this to its sentence start, a match's clause is found by reading the sentence directly. */
const CLAUSE_DIRECT_MAX = 64;

const isLead = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isTrail = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

type Cue = CueKind | 'questionAboutThis';

interface SentenceCues {
  general: boolean;
  notQuestion: boolean;
  thisModel: boolean;
  otherModel: boolean;
  self: boolean;
  resolved: boolean;
}

/** Work done by a scanner, in code units read: tests check it grows linearly with the text. */
export interface CueScannerWork {
  units: number;
}

/** Cue finder for all matches in one normalised text; see the module comment. */
export class CueScanner {
  readonly work: CueScannerWork = { units: 0 };
  readonly #text: string;
  /** sentenceStart[i]: the start of the sentence holding position i. */
  #sentenceStart: Int32Array | null = null;
  /** nextEnd[i]: the first sentence end at or after i (text.length when none). */
  #nextEnd: Int32Array | null = null;
  #clauseStarts: number[] | null = null;
  #clauseEnds: number[] | null = null;
  readonly #sentenceCues = new Map<string, SentenceCues>();
  readonly #clauseRe = new RegExp(CLAUSE_RE.source, CLAUSE_RE.flags);

  constructor(text: string) {
    this.#text = text;
  }

  #isEnd(i: number): boolean {
    const text = this.#text;
    const ch = text[i] as string;
    if (TERMINATORS.has(ch)) return true;
    return ch === '.' && (i + 1 >= text.length || WHITESPACE_RE.test(text[i + 1] ?? ''));
  }

  #buildSentences(): { starts: Int32Array; ends: Int32Array } {
    if (this.#sentenceStart && this.#nextEnd) return { starts: this.#sentenceStart, ends: this.#nextEnd };
    const n = this.#text.length;
    const starts = new Int32Array(n + 1);
    const ends = new Int32Array(n + 1);
    let start = 0;
    for (let i = 0; i <= n; i++) {
      if (i > 0 && this.#isEnd(i - 1)) start = i;
      starts[i] = start;
    }
    let next = n;
    ends[n] = n;
    for (let i = n - 1; i >= 0; i--) {
      if (this.#isEnd(i)) next = i;
      ends[i] = next;
    }
    this.work.units += 2 * n;
    this.#sentenceStart = starts;
    this.#nextEnd = ends;
    return { starts, ends };
  }

  /** The sentence around [start, end): its start, the index of its end mark and that mark ('' at the end). */
  sentenceBounds(start: number, end: number): { s: number; e: number; endChar: string } {
    const { starts, ends } = this.#buildSentences();
    const s = starts[start] ?? 0;
    const e = ends[end] ?? this.#text.length;
    return { s, e, endChar: e < this.#text.length ? (this.#text[e] as string) : '' };
  }

  #buildClauses(): { starts: number[]; ends: number[] } {
    if (this.#clauseStarts && this.#clauseEnds) return { starts: this.#clauseStarts, ends: this.#clauseEnds };
    const starts: number[] = [];
    const ends: number[] = [];
    // No clause word contains sentence punctuation, so a scan of the whole text passes every sentence
    // start in the state a scan of that sentence alone starts in: the matches inside a sentence agree.
    for (const m of this.#text.matchAll(CLAUSE_RE)) {
      starts.push(m.index);
      ends.push(m.index + m[0].length);
    }
    this.work.units += this.#text.length;
    this.#clauseStarts = starts;
    this.#clauseEnds = ends;
    return { starts, ends };
  }

  /** End of the last clause word in text[from, to), scanning it as a string of its own from `at`. */
  #lastClauseEnd(from: number, to: number, at: number): number {
    const sub = this.#text.slice(from, to);
    this.work.units += to - at;
    const re = this.#clauseRe;
    re.lastIndex = at - from;
    let last = -1;
    for (let m = re.exec(sub); m !== null; m = re.exec(sub)) last = from + m.index + m[0].length;
    return last;
  }

  /**
   * Start of the clause holding a match at `matchStart`: after the last clause word (comma, "but", 但是…)
   * of its sentence before it, at most 40 code units back; as if that part of the sentence were read as
   * a string of its own.
   */
  clauseStart(sentenceStart: number, matchStart: number): number {
    if (matchStart - sentenceStart <= CLAUSE_DIRECT_MAX) {
      const last = this.#lastClauseEnd(sentenceStart, matchStart, sentenceStart);
      return Math.max(last === -1 ? sentenceStart : last, matchStart - 40);
    }
    // Clause words that start well before the match were read without reaching it, so the whole-text
    // scan found them exactly as a scan of text[sentenceStart, matchStart) does. The last few code units
    // are scanned again as the cut-off string.
    const { starts, ends } = this.#buildClauses();
    const limit = matchStart - CLAUSE_READ_MARGIN;
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((starts[mid] as number) < limit) lo = mid + 1;
      else hi = mid;
    }
    const k = lo - 1;
    const before = k >= 0 && (starts[k] as number) >= sentenceStart ? (ends[k] as number) : -1;
    let resume = limit;
    if (isTrail(this.#text.charCodeAt(resume)) && isLead(this.#text.charCodeAt(resume - 1))) resume -= 1;
    resume = Math.max(resume, before);
    const tail = this.#lastClauseEnd(Math.max(sentenceStart, resume - 2), matchStart, resume);
    const last = tail !== -1 ? tail : before;
    return Math.max(last === -1 ? sentenceStart : last, matchStart - 40);
  }

  #cuesOfSentence(s: number, e: number, lang: SupportedLanguage): SentenceCues {
    const key = `${s}:${e}:${lang}`;
    const known = this.#sentenceCues.get(key);
    if (known) return known;
    const text = this.#text;
    const sentence = text.slice(s, Math.min(text.length, e + 1));
    const c = CUES[lang];
    this.work.units += sentence.length;
    const cues: SentenceCues = {
      general: c.general?.test(sentence) ?? false,
      notQuestion: c.notQuestion?.test(sentence) ?? false,
      thisModel: c.thisModel?.test(sentence) ?? false,
      otherModel: c.otherModel?.test(sentence) ?? false,
      self: c.self?.test(sentence) ?? false,
      resolved: c.resolved?.test(sentence) ?? false,
    };
    this.#sentenceCues.set(key, cues);
    return cues;
  }

  /** Score of a match of `rule` at [nStart, nEnd) after the cues of `langs`, and the cues found. */
  score(
    rule: ReportRule,
    nStart: number,
    nEnd: number,
    langs: readonly SupportedLanguage[],
  ): { score: number; cues: string[] } {
    const text = this.#text;
    const { s, e, endChar } = this.sentenceBounds(nStart, nEnd);
    const before = text.slice(Math.max(s, nStart - 80), nStart);
    const clause = text.slice(this.clauseStart(s, nStart), nStart);
    const span = text.slice(nStart, nEnd);
    const after = text.slice(nEnd, Math.min(e, nEnd + 60));
    this.work.units += before.length + clause.length + span.length + after.length;
    const found = new Set<Cue>();
    for (const lang of langs) {
      const c = CUES[lang];
      const sentence = this.#cuesOfSentence(s, e, lang);
      if (c.negationBefore?.test(clause)) found.add('negation');
      if (!rule.negInPattern && c.negationInSpan?.test(span)) found.add('negation');
      if (c.negationAfter?.test(after)) found.add('negation');
      if (c.instructionBefore?.test(before) || c.instructionAfter?.test(after)) found.add('instruction');
      if (c.conditionalBefore?.test(before) || c.conditionalAfter?.test(after)) found.add('conditional');
      if (sentence.otherModel) found.add('otherModel');
      if (sentence.self) found.add('selfAttribution');
      if (sentence.resolved) found.add('resolved');
      const isQuestion = (endChar === '?' || endChar === '？') && !sentence.notQuestion;
      if (sentence.general) found.add('generalQuestion');
      else if (isQuestion) found.add(sentence.thisModel ? 'questionAboutThis' : 'question');
    }
    if (found.has('generalQuestion')) {
      found.delete('question');
      found.delete('questionAboutThis');
    }
    if (found.has('question')) found.delete('questionAboutThis');
    let score = rule.weight;
    for (const cue of found) score *= CUE_FACTORS[cue];
    return { score, cues: [...found].sort() };
  }
}
