/**
 * Text normalisation for matching, with a map back to the original offsets: HTML tags become spaces or
 * line breaks, HTML entities are decoded, every code point goes through NFKC (full/half width) and lower
 * case, curly quotes become straight ones and Traditional Chinese characters are folded to Simplified
 * (OpenCC's one-to-one table, trad-simp.ts). `starts[i]`/`ends[i]` give the original UTF-16 range of
 * normalised char `i`.
 */
import { TRAD_TO_SIMP_PAIRS } from './trad-simp.ts';

export interface NormalizedText {
  text: string;
  starts: number[];
  ends: number[];
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  hellip: '…',
  mdash: '—',
  ndash: '–',
  rsquo: "'",
  lsquo: "'",
  ldquo: '"',
  rdquo: '"',
  laquo: '«',
  raquo: '»',
  middot: '·',
  bull: '•',
  times: '×',
  eacute: 'é',
  egrave: 'è',
  agrave: 'à',
  ccedil: 'ç',
  ntilde: 'ñ',
  uuml: 'ü',
  ouml: 'ö',
  auml: 'ä',
  szlig: 'ß',
};

const BLOCK_TAGS = /^<\/?(?:p|br|div|li|ul|ol|h[1-6]|tr|td|blockquote|pre|hr|section|article|table)\b/i;
const HTML_ELEMENT_RE = /^<\/?[a-z][a-z0-9-]*(?:\s[^<>]{0,500})?\/?>/i;
/** An HTML comment is markup when its `-->` comes within this many characters of `<!--`. */
const COMMENT_MAX_BODY = 2000;
const ENTITY_RE = /^&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|([a-z]{2,8}));/i;

/** Traditional → Simplified, every character OpenCC folds one to one (offsets kept): see trad-simp.ts. */
const TRAD_TO_SIMP = TRAD_TO_SIMP_PAIRS;

function decodeEntity(match: RegExpExecArray): string | null {
  const [, dec, hex, name] = match;
  if (dec !== undefined || hex !== undefined) {
    const cp = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16);
    if (!Number.isFinite(cp) || cp <= 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
    return String.fromCodePoint(cp);
  }
  return NAMED_ENTITIES[(name ?? '').toLowerCase()] ?? null;
}

function foldChar(ch: string): string {
  if (ch === '\u2019' || ch === '\u2018' || ch === '\u02bc' || ch === '`') return "'";
  if (ch === '\u201c' || ch === '\u201d' || ch === '\u201e') return '"';
  return TRAD_TO_SIMP.get(ch) ?? ch;
}

/** Applies the Traditional → Simplified folding to a string (used on pattern sources too). */
export function foldTraditional(value: string): string {
  let out = '';
  for (const ch of value) out += TRAD_TO_SIMP.get(ch) ?? ch;
  return out;
}

/** NFKC + lower case + folding per code point, memoised: the same few thousand characters recur. */
const FOLD_CACHE = new Map<number, string>();
const FOLD_CACHE_MAX = 65_536;

function foldCodePoint(cp: number, raw: string): string {
  if (cp < 0x80) {
    if (cp >= 65 && cp <= 90) return String.fromCharCode(cp + 32);
    return cp === 0x60 ? "'" : raw;
  }
  let out = FOLD_CACHE.get(cp);
  if (out === undefined) {
    out = '';
    for (const c of raw.normalize('NFKC').toLowerCase()) out += foldChar(c);
    if (FOLD_CACHE.size < FOLD_CACHE_MAX) FOLD_CACHE.set(cp, out);
  }
  return out;
}

/** Normalises text for matching and keeps, for each output char, the original range it came from. */
export function normalizeForMatching(input: string): NormalizedText {
  const starts: number[] = [];
  const ends: number[] = [];
  const parts: string[] = [];
  const push = (out: string, start: number, end: number): void => {
    parts.push(out);
    for (let k = 0; k < out.length; k++) {
      starts.push(start);
      ends.push(end);
    }
  };
  // The first `-->` at or after `closeFrom`, reused while the scan has not passed it: a search from
  // every `<!--` made a run of unclosed comments cost 2000 characters each.
  let closeFrom = -1;
  let closeAt = -1;
  const commentLength = (i: number): number => {
    if (!input.startsWith('<!--', i)) return 0;
    const from = i + 4;
    if (closeFrom === -1 || (closeAt !== -1 && closeAt < from)) {
      closeAt = input.indexOf('-->', from);
      closeFrom = from;
    }
    return closeAt !== -1 && closeAt - from <= COMMENT_MAX_BODY ? closeAt + 3 - i : 0;
  };
  let i = 0;
  while (i < input.length) {
    const code = input.charCodeAt(i);
    if (code === 60 /* < */) {
      const element = HTML_ELEMENT_RE.exec(input.slice(i, i + 2100))?.[0];
      const length = element?.length ?? commentLength(i);
      if (length > 0) {
        push(element !== undefined && BLOCK_TAGS.test(element) ? '\n' : ' ', i, i + length);
        i += length;
        continue;
      }
    }
    if (code === 38 /* & */) {
      const entity = ENTITY_RE.exec(input.slice(i, i + 12));
      const decoded = entity ? decodeEntity(entity) : null;
      if (entity && decoded !== null) {
        push(decoded.normalize('NFKC').toLowerCase(), i, i + entity[0].length);
        i += entity[0].length;
        continue;
      }
    }
    const cp = input.codePointAt(i) ?? 0;
    const width = cp > 0xffff ? 2 : 1;
    push(foldCodePoint(cp, width === 1 ? input[i]! : input.slice(i, i + 2)), i, i + width);
    i += width;
  }
  return { text: parts.join(''), starts, ends };
}

/** Maps a normalised [start, end) range back to the original text. */
export function originalRange(
  norm: NormalizedText,
  start: number,
  end: number,
): { start: number; end: number } {
  if (norm.starts.length === 0) return { start: 0, end: 0 };
  const s = norm.starts[Math.min(start, norm.starts.length - 1)] ?? 0;
  const e = norm.ends[Math.max(0, Math.min(end, norm.ends.length) - 1)] ?? s;
  return { start: s, end: Math.max(s, e) };
}
