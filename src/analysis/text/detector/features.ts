/**
 * Features of one text for the tag-error report detector: frame terms and their combinations
 * within a sentence (see frames.ts), character 2–4-grams and words of the normalised text, the
 * detected language. Every feature keeps the normalised offset where it occurred, so a score can
 * be explained by a sentence and the features that fired. Linear in the text length.
 */
import { detectLanguage, type SupportedLanguage } from '../language.ts';
import { type NormalizedText, normalizeForMatching } from '../normalize.ts';
import {
  CANCEL_KINDS,
  type FrameKind,
  firstTagLike,
  firstVersion,
  frameHits,
  REPORT_KINDS,
} from './frames.ts';

export interface Sentence {
  start: number;
  end: number;
  question: boolean;
}

export interface TextFeatures {
  norm: NormalizedText;
  lang: SupportedLanguage | 'und';
  sentences: Sentence[];
  /** Named features (language, frames, frame combinations) → value 1, with the sentence index. */
  named: Map<string, number>;
  /**
   * Character 2–4-grams and words as numeric keys ({@link gramKey}), one entry per occurrence,
   * with the normalised offset and length; each counts 1/√(number of occurrences).
   */
  grams: { keys: Int32Array; pos: Int32Array; len: Uint16Array; kinds: Uint8Array };
  gramScale: number;
}

/** n-gram kinds: 2, 3, 4 characters; 5 for a word. */
const WORD_KIND = 5;

/**
 * A gram's key: its 32-bit FNV-1a hash mixed with its kind, folded to 30 bits so V8 keeps it a small
 * integer (fast Map keys). Colliding grams share a weight; at tens of thousands of weights that
 * touches a handful of them, by a small amount.
 */
function keyOf(kind: number, hash: number): number {
  return (Math.imul(hash ^ Math.imul(kind, 0x9e3779b1), 0x85ebca6b) >>> 2) | 0;
}

function fnv(text: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The numeric key of a feature name `c:<2–4 chars>` or `w:<word>` (undefined for other names). */
export function gramKey(name: string): number | undefined {
  if (name.startsWith('w:')) return keyOf(WORD_KIND, fnv(name, 2, name.length));
  if (name.startsWith('c:') && name.length >= 4 && name.length <= 6) {
    return keyOf(name.length - 2, fnv(name, 2, name.length));
  }
  return undefined;
}

/** The feature name of the gram at `pos`/`len` in the folded text of `features`. */
export function gramName(features: TextFeatures, index: number): string {
  const pos = features.grams.pos[index]!;
  const len = features.grams.len[index]!;
  const kind = features.grams.kinds[index]!;
  let text = '';
  for (let i = pos; i < pos + len; i++) {
    const c = features.norm.text.charCodeAt(i);
    text += isSpace(c) ? ' ' : String.fromCharCode(c);
  }
  return `${kind === WORD_KIND ? 'w' : 'c'}:${text}`;
}

/** . ! ? 。 ！ ？ line feed … */
function isSentenceEnd(code: number): boolean {
  return (
    code === 46 ||
    code === 33 ||
    code === 63 ||
    code === 10 ||
    code === 0x3002 ||
    code === 0xff01 ||
    code === 0xff1f ||
    code === 0x2026
  );
}

/** Sentence bounds by a single left-to-right pass (a '.' ends a sentence only before space or end). */
export function splitSentences(text: string): Sentence[] {
  const out: Sentence[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isSentenceEnd(code)) continue;
    if (code === 46 && i + 1 < text.length && !/\s/u.test(text[i + 1]!)) continue;
    let end = i + 1;
    while (end < text.length && isSentenceEnd(text.charCodeAt(end))) end++;
    const mark = text.slice(i, end);
    if (text.slice(start, i).trim().length > 0) {
      out.push({ start, end, question: mark.includes('?') || mark.includes('？') });
    }
    start = end;
    i = end - 1;
  }
  if (text.slice(start).trim().length > 0) out.push({ start, end: text.length, question: false });
  return out;
}

export function sentenceIndexAt(sentences: readonly Sentence[], pos: number): number {
  // Binary search: sentences are ordered and disjoint.
  let lo = 0;
  let hi = sentences.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = sentences[mid]!;
    if (pos < s.start) hi = mid - 1;
    else if (pos >= s.end) lo = mid + 1;
    else return mid;
  }
  return Math.max(0, Math.min(sentences.length - 1, lo));
}

const LANGUAGE_PREFIX = 4000;
const CJK_RE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const WORD_RE = /[\p{L}\p{N}_]+/gu;

function isSpace(code: number): boolean {
  return (
    code === 32 || code === 10 || code === 9 || code === 13 || code === 0xa0 || code === 0x3000 || code === 12
  );
}

/** Feature names of the sentence-level combinations, built once (scoring runs per comment). */
const ENTITY_WITH = new Map<string, string>(
  [...REPORT_KINDS, ...CANCEL_KINDS].map((k) => [k, `s:entity+${k}`]),
);
const NEXT_ENTITY_WITH = new Map<string, string>(
  [...REPORT_KINDS, ...CANCEL_KINDS].map((k) => [k, `n:entity+${k}`]),
);
const REPORT_WITH = new Map<string, string>(CANCEL_KINDS.map((k) => [k, `s:report+${k}`]));
const FRAME_NAME = new Map<string, string>();
const frameName = (kind: string): string => {
  let name = FRAME_NAME.get(kind);
  if (name === undefined) {
    name = `f:${kind}`;
    FRAME_NAME.set(kind, name);
  }
  return name;
};

/** Scratch space for the folded text (code units and their offsets), grown as needed and reused. */
let foldedCodes = new Uint16Array(1024);
let foldedAt = new Int32Array(1024);

/** Extracts the features of `text`; `text` is raw (HTML and entities are handled by normalisation). */
export function extractFeatures(text: string): TextFeatures {
  const norm = normalizeForMatching(text);
  const t = norm.text;
  // The language of a long text is read from its start: enough words, and linear time.
  const lang = detectLanguage(t.length > LANGUAGE_PREFIX ? t.slice(0, LANGUAGE_PREFIX) : t);
  const sentences = splitSentences(t);
  const named = new Map<string, number>();
  const add = (name: string, pos: number): void => {
    if (!named.has(name)) named.set(name, sentences.length === 0 ? 0 : sentenceIndexAt(sentences, pos));
  };

  // Frames: kinds present, and kinds sharing a sentence with a caption-domain entity.
  const perSentence = new Map<number, Map<FrameKind, number>>();
  for (const h of frameHits(t)) {
    add(frameName(h.kind), h.start);
    const si = sentences.length === 0 ? 0 : sentenceIndexAt(sentences, h.start);
    let kinds = perSentence.get(si);
    if (!kinds) {
      kinds = new Map();
      perSentence.set(si, kinds);
    }
    if (!kinds.has(h.kind)) kinds.set(h.kind, h.start);
  }
  for (const [si, kinds] of perSentence) {
    const pos = kinds.get('entity');
    if (pos === undefined) continue;
    let reportKinds = 0;
    for (const k of REPORT_KINDS) {
      if (kinds.has(k)) {
        add(ENTITY_WITH.get(k)!, pos);
        reportKinds++;
      }
    }
    const question = sentences[si]?.question ?? false;
    if (reportKinds > 0) {
      add('s:entity+report', pos);
      if (reportKinds > 1) add('s:entity+report2', pos);
      for (const k of CANCEL_KINDS) if (kinds.has(k)) add(REPORT_WITH.get(k)!, pos);
      if (question) add('s:report?', pos);
    }
    for (const k of CANCEL_KINDS) if (kinds.has(k)) add(ENTITY_WITH.get(k)!, pos);
    if (question) add('s:entity?', pos);
  }
  // The same frames across a sentence boundary: an entity in one sentence and a report predicate in
  // the next or the previous one ("The trigger is `x`. Does nothing."), and cancelling cues there.
  for (const [si, kinds] of perSentence) {
    const pos = kinds.get('entity');
    if (pos === undefined) continue;
    for (const sj of [si - 1, si + 1]) {
      const near = perSentence.get(sj);
      if (!near) continue;
      let reportKinds = 0;
      for (const k of REPORT_KINDS) {
        if (near.has(k) && !kinds.has(k)) {
          add(NEXT_ENTITY_WITH.get(k)!, pos);
          reportKinds++;
        }
      }
      if (reportKinds > 0) add('n:entity+report', pos);
      for (const k of CANCEL_KINDS) if (near.has(k)) add(NEXT_ENTITY_WITH.get(k)!, pos);
    }
  }
  const tagLike = firstTagLike(t);
  if (tagLike >= 0) add('x:tag-like', tagLike);
  const version = firstVersion(t);
  if (version >= 0) add('x:version', version);
  if (sentences.some((s) => s.question)) add('x:question', 0);

  // Character n-grams over the text with runs of white space read as one space: the folded text
  // is kept as its code units and their offsets, and each gram is hashed in place.
  if (foldedCodes.length < t.length) {
    foldedCodes = new Uint16Array(t.length * 2);
    foldedAt = new Int32Array(t.length * 2);
  }
  const codes = foldedCodes;
  const at = foldedAt;
  let m = 0;
  let lastSpace = true;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    const space = isSpace(c);
    if (space && lastSpace) continue;
    codes[m] = space ? 32 : c;
    at[m] = i;
    m++;
    lastSpace = space;
  }
  let words = 0;
  WORD_RE.lastIndex = 0;
  const wordMatches: Array<[number, number]> = [];
  for (const w of t.matchAll(WORD_RE)) {
    if (CJK_RE.test(w[0])) continue;
    wordMatches.push([w.index ?? 0, w[0].length]);
    words++;
  }
  const capacity = 3 * m + words;
  // One allocation for the four gram arrays (4 + 4 + 2 + 1 bytes a gram).
  const buffer = new ArrayBuffer(capacity * 11 + 8);
  const keys = new Int32Array(buffer, 0, capacity);
  const gramPos = new Int32Array(buffer, capacity * 4, capacity);
  const gramLen = new Uint16Array(buffer, capacity * 8, capacity);
  const kinds = new Uint8Array(buffer, capacity * 10, capacity);
  let g = 0;
  for (let k = 0; k < m; k++) {
    let h = 0x811c9dc5;
    const start = at[k]!;
    for (let n = 1; n <= 4 && k + n <= m; n++) {
      h = Math.imul(h ^ codes[k + n - 1]!, 0x01000193) >>> 0;
      if (n < 2) continue;
      // Grams are named by the normalised text they cover; skip the rare one spanning folded spaces.
      if (at[k + n - 1]! + 1 - start !== n) continue;
      keys[g] = keyOf(n, h);
      gramPos[g] = start;
      gramLen[g] = n;
      kinds[g] = n;
      g++;
    }
  }
  for (const [start, length] of wordMatches) {
    keys[g] = keyOf(WORD_KIND, fnv(t, start, start + length));
    gramPos[g] = start;
    gramLen[g] = Math.min(length, 65_535);
    kinds[g] = WORD_KIND;
    g++;
  }
  const gramScale = g === 0 ? 0 : 1 / Math.sqrt(g);
  return {
    norm,
    lang,
    sentences,
    named,
    grams: {
      keys: keys.subarray(0, g),
      pos: gramPos.subarray(0, g),
      len: gramLen.subarray(0, g),
      kinds: kinds.subarray(0, g),
    },
    gramScale,
  };
}
