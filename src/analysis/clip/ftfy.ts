/**
 * `ftfy.fix_text` as CLIP's tokenizer runs it (default `TextFixerConfig`), ported to TypeScript.
 *
 * Port of ftfy 6.3.1 by Robyn Speer (https://github.com/rspeer/python-ftfy), licensed under the
 * Apache License 2.0 (tests/fixtures/ftfy/LICENSE-ftfy.txt); modified: translated from Python, the
 * explanation plans, non-default options, `guess_bytes` and `fix_file` are left out. Sources ported:
 * `ftfy/__init__.py` (fix_text, fix_and_explain, fix_encoding_and_explain), `badness.py` (BADNESS_RE,
 * is_bad), `chardata.py` (possible_encoding, ALTERED_UTF8_RE, LOSSY_UTF8_RE, C1_CONTROL_RE,
 * UTF8_DETECTOR_RE, HTML_ENTITIES), `fixes.py` (every fixer fix_text uses) and `bad_codecs/`
 * (sloppy-* codecs, utf-8-variants). Character data is generated from ftfy itself into
 * `ftfy-data.ts`. Byte strings are JS "binary strings" (one char per byte, 0x00–0xFF).
 */

import {
  MOJIBAKE_CATEGORIES as C,
  CHARMAP_ENCODINGS,
  type CharmapEncoding,
  CONTROL_CHARS,
  DECODING_TABLES,
  LIGATURES,
  UTF8_CLUES as U,
  WIDTH_MAP,
} from './ftfy-data.ts';
import { HTML5_ENTITY_DATA } from './html5-entities.ts';

// ---------------------------------------------------------------------------------------------
// Python's html.unescape (CLIP runs it twice after ftfy; ftfy uses it for numeric references)

const NAMED = HTML5_ENTITY_DATA.named;
const INVALID_CHARREFS = HTML5_ENTITY_DATA.invalidCharrefs;
const INVALID_CODEPOINTS = new Set(HTML5_ENTITY_DATA.invalidCodepoints);
const PY_CHARREF_RE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/g;

function replaceCharref(body: string): string {
  if (body.startsWith('#')) {
    const hex = body[1] === 'x' || body[1] === 'X';
    const digits = body.slice(hex ? 2 : 1).replace(/;$/, '');
    const num = Number.parseInt(digits, hex ? 16 : 10);
    // Python ints are unbounded: anything past the Unicode range maps to U+FFFD.
    if (!Number.isFinite(num) || digits.length > 16) return '\uFFFD';
    const invalid = INVALID_CHARREFS[String(num)];
    if (invalid !== undefined) return invalid;
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\uFFFD';
    if (INVALID_CODEPOINTS.has(num)) return '';
    return String.fromCodePoint(num);
  }
  const direct = NAMED[body];
  if (direct !== undefined) return direct;
  for (let x = body.length - 1; x > 1; x--) {
    const hit = NAMED[body.slice(0, x)];
    if (hit !== undefined) return hit + body.slice(x);
  }
  return `&${body}`;
}

/** Exactly Python's `html.unescape` (HTML5 named references, numeric references, invalid-codepoint rules). */
export function pythonHtmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(PY_CHARREF_RE, (_m, body: string) => replaceCharref(body));
}

// ---------------------------------------------------------------------------------------------
// Codecs: single-byte charmaps (incl. ftfy's sloppy-*), strict UTF-8, ftfy's utf-8-variants

const ENCODE_TABLES = new Map<CharmapEncoding, Map<string, string>>(
  CHARMAP_ENCODINGS.map((enc) => {
    const table = DECODING_TABLES[enc];
    const map = new Map<string, string>();
    for (let b = 0; b < 256; b++) map.set(table[b]!, String.fromCharCode(b));
    return [enc, map] as const;
  }),
);

/** chardata.possible_encoding: can every character of `text` be encoded (possibly sloppily)? */
const ENCODABLE = new Map<CharmapEncoding | 'ascii', (cp: number, ch: string) => boolean>([
  ['ascii', (cp) => cp < 0x80],
  ...CHARMAP_ENCODINGS.map((enc) => {
    // Bytes 0x00-0x19 and 0x1B-0x7F stand for themselves; 0x1A and 0x80-0xFF as the table says.
    const high = new Set([...DECODING_TABLES[enc].slice(0x80), DECODING_TABLES[enc][0x1a]!]);
    const test = (cp: number, ch: string): boolean => (cp < 0x80 && cp !== 0x1a) || high.has(ch);
    return [enc, test] as const;
  }),
]);

export function possibleEncoding(text: string, encoding: CharmapEncoding | 'ascii'): boolean {
  const test = ENCODABLE.get(encoding)!;
  for (const ch of text) if (!test(ch.codePointAt(0)!, ch)) return false;
  return true;
}

function encodeCharmap(text: string, encoding: CharmapEncoding): string {
  const table = ENCODE_TABLES.get(encoding)!;
  let out = '';
  for (const ch of text) out += table.get(ch)!;
  return out;
}

function binaryToBytes(bytes: string): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = bytes.charCodeAt(i);
  return out;
}

// Python's strict UTF-8 decoder keeps a leading BOM as U+FEFF, hence ignoreBOM.
const UTF8_STRICT = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `bytes.decode('utf-8')`; null where Python raises UnicodeDecodeError. */
function decodeUtf8(bytes: string): string | null {
  try {
    return UTF8_STRICT.decode(binaryToBytes(bytes));
  } catch {
    return null;
  }
}

const CESU8_BODY = /^\xed[\xa0-\xaf][\x80-\xbf]\xed[\xb0-\xbf][\x80-\xbf]/;

/**
 * ftfy's `utf-8-variants` codec: UTF-8 plus CESU-8 surrogate pairs and Java's C0 80 for U+0000.
 * Null where Python raises. Python's `$` in the codec's patterns also matches before a final "\n",
 * so a C0 or a 5-byte CESU-8 prefix directly before a final newline swallows it; kept on purpose.
 */
function decodeUtf8Variants(bytes: string): string | null {
  let out = '';
  let runStart = 0;
  const flush = (end: number): boolean => {
    if (end <= runStart) return true;
    const part = decodeUtf8(bytes.slice(runStart, end));
    if (part === null) return false;
    out += part;
    return true;
  };
  const n = bytes.length;
  const finalNewlineAt = (k: number): boolean => k === n - 1 && bytes[k] === '\n';
  let i = 0;
  while (i < n) {
    const b = bytes.charCodeAt(i);
    if (b === 0xc0 && i + 1 < n && (bytes.charCodeAt(i + 1) === 0x80 || finalNewlineAt(i + 1))) {
      if (!flush(i)) return null;
      out += '\u0000';
      i += 2;
      runStart = i;
      continue;
    }
    if (b === 0xed && n - i >= 6) {
      const six = bytes.slice(i, i + 6);
      const five = bytes.slice(i, i + 5);
      if (
        CESU8_BODY.test(six) ||
        (finalNewlineAt(i + 5) && /^\xed[\xa0-\xaf][\x80-\xbf]\xed[\xb0-\xbf]$/.test(five))
      ) {
        if (!flush(i)) return null;
        const c = (k: number): number => bytes.charCodeAt(i + k);
        const cp =
          ((c(1) & 0x0f) << 16) + ((c(2) & 0x3f) << 10) + ((c(4) & 0x0f) << 6) + (c(5) & 0x3f) + 0x10000;
        out += String.fromCodePoint(cp);
        i += 6;
        runStart = i;
        continue;
      }
    }
    i += 1;
  }
  // Anything else (lone surrogate bytes, a lone C0) is invalid strict UTF-8 in its run.
  return flush(n) ? out : null;
}

/** Python's strict `windows-1252` (five bytes undefined), used after a latin-1 encode. */
function decodeStrictWindows1252(bytes: string): string | null {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes.charCodeAt(i);
    if (b === 0x81 || b === 0x8d || b === 0x8f || b === 0x90 || b === 0x9d) return null;
    out += b >= 0x80 && b <= 0x9f ? DECODING_TABLES['sloppy-windows-1252'][b] : bytes[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// badness.py

// Python's `\s` (str patterns) and `\w` (Unicode alphanumerics and "_"); Python's `.` is "not \n".
const PY_S =
  '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_W = '[\\p{L}\\p{N}_]';

const BADNESS_SOURCE = [
  `[${C.c1}]`,
  `[${C.bad}${C.lower_accented}${C.upper_accented}${C.box}${C.start_punctuation}${C.end_punctuation}${C.currency}${C.numeric}${C.law}][${C.bad}]`,
  `[a-zA-Z][${C.lower_common}${C.upper_common}][${C.bad}]`,
  `[${C.bad}][${C.lower_accented}${C.upper_accented}${C.box}${C.start_punctuation}${C.end_punctuation}${C.currency}${C.numeric}${C.law}]`,
  `[${C.lower_accented}${C.lower_common}${C.box}${C.end_punctuation}${C.currency}${C.numeric}][${C.upper_accented}]`,
  `[${C.box}${C.end_punctuation}${C.currency}${C.numeric}][${C.lower_accented}]`,
  `[${C.lower_accented}${C.box}${C.end_punctuation}][${C.currency}]`,
  `${PY_S}[${C.upper_accented}][${C.currency}]`,
  `[${C.upper_accented}${C.box}][${C.numeric}${C.law}]`,
  `[${C.lower_accented}${C.upper_accented}${C.box}${C.currency}${C.end_punctuation}][${C.start_punctuation}][${C.numeric}]`,
  `[${C.lower_accented}${C.upper_accented}${C.currency}${C.numeric}${C.box}${C.law}][${C.end_punctuation}][${C.start_punctuation}]`,
  `[${C.currency}${C.numeric}${C.box}][${C.start_punctuation}]`,
  `[a-z][${C.upper_accented}][${C.start_punctuation}${C.currency}]`,
  `[${C.box}][${C.kaomoji}]`,
  `[${C.lower_accented}${C.upper_accented}${C.currency}${C.numeric}${C.start_punctuation}${C.end_punctuation}${C.law}][${C.box}]`,
  `[${C.box}][${C.end_punctuation}]`,
  `[${C.lower_accented}${C.upper_accented}][${C.start_punctuation}${C.end_punctuation}]${PY_W}`,
  // The ligature œ when not followed by an unaccented Latin letter
  '[Œœ][^A-Za-z]',
  // Degree signs after capital letters
  `[${C.upper_accented}]°`,
  // Common Windows-1252 2-character mojibake that isn't covered by the cases above
  `[ÂÃÎÐ][€œŠš¢£Ÿž\\xa0\\xad®©°·»${C.start_punctuation}${C.end_punctuation}–—´]`,
  '×[²³]',
  // Windows-1252 mojibake of Arabic words needs the 'common' characters: require four characters.
  `[ØÙ][${C.common}${C.currency}${C.bad}${C.numeric}${C.start_punctuation}ŸŠ®°µ»][ØÙ][${C.common}${C.currency}${C.bad}${C.numeric}${C.start_punctuation}ŸŠ®°µ»]`,
  // Windows-1252 mojibake that starts 3-character sequences for some South Asian alphabets
  'à[²µ¹¼½¾]',
  // MacRoman mojibake that isn't covered by the cases above
  '√[±∂†≠®™´≤≥¥µø]',
  '≈[°¢]',
  '‚Ä[ìîïòôúùû†°¢π]',
  '‚[âó][àä°ê]',
  // Windows-1251 mojibake of characters in the U+2000 range
  'вЂ',
  // Windows-1251 mojibake of Latin-1 characters and/or the Cyrillic alphabet (3 characters)
  `[ВГРС][${C.c1}${C.bad}${C.start_punctuation}${C.end_punctuation}${C.currency}°µ][ВГРС]`,
  // Windows-1251 on top of Latin-1 mojibake of Windows-1252 characters, near a Latin letter
  'ГўВЂВ[^\\n][A-Za-z ]',
  // Windows-1252 encodings of 'à' and 'á', as well as \xa0 itself
  'Ã[\\xa0¡]',
  `[a-z]${PY_S}?[ÃÂ][ ]`,
  '^[ÃÂ][ ]',
  // Â preceding a character as an encoding of exactly the same, common enough character
  `[a-z.,?!${C.end_punctuation}]Â[ ${C.start_punctuation}${C.end_punctuation}]`,
  // Windows-1253 mojibake of characters in the U+2000 range
  'β€[™\\xa0Ά\\xad®°]',
  // Windows-1253 mojibake of Latin-1 characters and/or the Greek alphabet
  `[ΒΓΞΟ][${C.c1}${C.bad}${C.start_punctuation}${C.end_punctuation}${C.currency}°][ΒΓΞΟ]`,
  // Windows-1257 mojibake of characters in the U+2000 range
  'ā€',
].join('|');

/** ftfy badness.BADNESS_RE, exported for the equivalence check against ftfy's own pattern. */
export const BADNESS_RE_SOURCE = BADNESS_SOURCE;
const BADNESS_RE = new RegExp(BADNESS_SOURCE, 'u');
const BADNESS_RE_G = new RegExp(BADNESS_SOURCE, 'gu');

/** Number of unlikely character sequences (ftfy `badness.badness`). */
export function badness(text: string): number {
  return text.match(BADNESS_RE_G)?.length ?? 0;
}

/** Whether the text looks like it contains mojibake (ftfy `badness.is_bad`). */
export function isBad(text: string): boolean {
  return BADNESS_RE.test(text);
}

// ---------------------------------------------------------------------------------------------
// chardata.py patterns

// UTF-8 sequences that would be valid but for a 0xA0 byte turned into a space.
const ALTERED_UTF8_RE =
  /[\xc2\xc3\xc5\xce\xd0\xd9][ ]|[\xe2\xe3][ ][\x80-\x84\x86-\x9f\xa1-\xbf]|[\xe0-\xe3][\x80-\x84\x86-\x9f\xa1-\xbf][ ]|[\xf0][ ][\x80-\xbf][\x80-\xbf]|[\xf0][\x80-\xbf][ ][\x80-\xbf]|[\xf0][\x80-\xbf][\x80-\xbf][ ]/g;

// UTF-8 / CESU-8 sequences with lost continuation bytes (0x1A stands for a byte that became U+FFFD).
const LOSSY_UTF8_RE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: byte 0x1A is ftfy's marker for a lost byte
  /[\xc2-\xdf][\x1a]|[\xc2-\xc3][?]|\xed[\xa0-\xaf][\x1a?]\xed[\xb0-\xbf][\x1a?\x80-\xbf]|\xed[\xa0-\xaf][\x1a?\x80-\xbf]\xed[\xb0-\xbf][\x1a?]|[\xe0-\xef][\x1a?][\x1a\x80-\xbf]|[\xe0-\xef][\x1a\x80-\xbf][\x1a?]|[\xf0-\xf4][\x1a?][\x1a\x80-\xbf][\x1a\x80-\xbf]|[\xf0-\xf4][\x1a\x80-\xbf][\x1a?][\x1a\x80-\xbf]|[\xf0-\xf4][\x1a\x80-\xbf][\x1a\x80-\xbf][\x1a?]|\x1a/g;

const ALTERED_UTF8_TEST = new RegExp(ALTERED_UTF8_RE.source);
const C1_CONTROL_RE = /[\x80-\x9f]/u;

const UTF8_DETECTOR_SOURCE =
  `(?<![${U.utf8_continuation_strict}])` +
  `(?:[${U.utf8_first_of_2}][${U.utf8_continuation}]` +
  `|[${U.utf8_first_of_3}][${U.utf8_continuation}]{2}` +
  `|[${U.utf8_first_of_4}][${U.utf8_continuation}]{3})+`;
export const UTF8_DETECTOR_RE_SOURCE = UTF8_DETECTOR_SOURCE;
const UTF8_DETECTOR_RE = new RegExp(UTF8_DETECTOR_SOURCE, 'u');
const UTF8_DETECTOR_RE_G = new RegExp(UTF8_DETECTOR_SOURCE, 'gu');

// ftfy HTML_ENTITIES: HTML5 names ending in ';', plus upper-cased variants of the lower-case ones
// where the upper-case spelling means nothing to html.unescape (so "&EACUTE;" is "É").
const HTML_ENTITIES = (() => {
  const map = new Map<string, string>();
  for (const [name, char] of Object.entries(NAMED)) {
    if (!name.endsWith(';')) continue;
    map.set(`&${name}`, char);
    if (name === name.toLowerCase()) {
      const upper = `&${name.toUpperCase()}`;
      if (pythonHtmlUnescape(upper) === upper) map.set(upper, char.toUpperCase());
    }
  }
  return map;
})();
const HTML_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;

// ---------------------------------------------------------------------------------------------
// fixes.py

/** fixes.unescape_html: HTML5 references ending in ';' (and upper-cased Latin ones), numeric ones. */
export function unescapeHtmlEntities(text: string): string {
  return text.replace(HTML_ENTITY_RE, (m) => {
    const named = HTML_ENTITIES.get(m);
    if (named !== undefined) return named;
    if (m.startsWith('&#')) {
      const unescaped = pythonHtmlUnescape(m);
      return unescaped.includes(';') ? m : unescaped;
    }
    return m;
  });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the terminal escapes this removes
const ANSI_RE = /\x1b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;
export function removeTerminalEscapes(text: string): string {
  return text.replace(ANSI_RE, '');
}

export function uncurlQuotes(text: string): string {
  return text.replace(/[\u201c-\u201f]/g, '"').replace(/[\u02bc\u2018-\u201b]/g, "'");
}

const LIGATURE_MAP = new Map(LIGATURES);
const WIDTH = new Map(WIDTH_MAP);
const CONTROL = new Set(CONTROL_CHARS);

function translate(text: string, map: ReadonlyMap<string, string>): string {
  let out = '';
  for (const ch of text) out += map.get(ch) ?? ch;
  return out;
}

export function fixLatinLigatures(text: string): string {
  return translate(text, LIGATURE_MAP);
}

export function fixCharacterWidth(text: string): string {
  return translate(text, WIDTH);
}

export function fixLineBreaks(text: string): string {
  return text.replace(/\r\n|[\r\u2028\u2029\u0085]/g, '\n');
}

/** JS strings hold surrogate pairs as one code point already; a lone surrogate becomes U+FFFD. */
export function fixSurrogates(text: string): string {
  return text.replace(/[\ud800-\udfff]/gu, '\uFFFD');
}

export function removeControlChars(text: string): string {
  let out = '';
  for (const ch of text) if (!CONTROL.has(ch.codePointAt(0)!)) out += ch;
  return out;
}

const A_GRAVE_WORD_RE = /\xc3 (?! |quele|quela|quilo|s )/g;

/** fixes.restore_byte_a0 (on a binary string): put back 0xA0 bytes that became spaces. */
export function restoreByteA0(bytes: string): string {
  return bytes
    .replace(A_GRAVE_WORD_RE, '\xc3\xa0 ')
    .replace(ALTERED_UTF8_RE, (m) => m.replaceAll(' ', '\xa0'));
}

/** fixes.replace_lossy_sequences (on a binary string): lossy UTF-8 sequences become U+FFFD's bytes. */
export function replaceLossySequences(bytes: string): string {
  return bytes.replace(LOSSY_UTF8_RE, '\xef\xbf\xbd');
}

/** fixes.decode_inconsistent_utf8: fix UTF-8 mojibake embedded in otherwise different text. */
export function decodeInconsistentUtf8(text: string): string {
  return text.replace(UTF8_DETECTOR_RE_G, (m) => (m.length < text.length && isBad(m) ? fixEncoding(m) : m));
}

/** fixes.fix_c1_controls: remaining C1 controls are read as Windows-1252, as browsers do. */
export function fixC1Controls(text: string): string {
  return text.replace(/[\x80-\x9f]/gu, (ch) => DECODING_TABLES['sloppy-windows-1252'][ch.charCodeAt(0)]!);
}

// ---------------------------------------------------------------------------------------------
// __init__.py

/** One step of an ftfy "explanation" plan. */
export type FtfyStep = readonly [action: 'encode' | 'decode' | 'transcode' | 'apply', parameter: string];

function fixEncodingOneStep(text: string): { text: string; steps: FtfyStep[] } {
  const unchanged = { text, steps: [] };
  if (text.length === 0) return unchanged;
  if (possibleEncoding(text, 'ascii') || !isBad(text)) return unchanged;

  const possible1Byte: string[] = [];
  for (const encoding of CHARMAP_ENCODINGS) {
    if (!possibleEncoding(text, encoding)) continue;
    possible1Byte.push(encoding);
    let bytes = encodeCharmap(text, encoding);
    const steps: FtfyStep[] = [['encode', encoding]];
    if (encoding !== 'macroman' && ALTERED_UTF8_TEST.test(bytes)) {
      const replaced = restoreByteA0(bytes);
      if (replaced !== bytes) {
        steps.push(['transcode', 'restore_byte_a0']);
        bytes = replaced;
      }
    }
    if (encoding.startsWith('sloppy')) {
      const replaced = replaceLossySequences(bytes);
      if (replaced !== bytes) {
        steps.push(['transcode', 'replace_lossy_sequences']);
        bytes = replaced;
      }
    }
    const variants = bytes.includes('\xed') || bytes.includes('\xc0');
    const fixed = variants ? decodeUtf8Variants(bytes) : decodeUtf8(bytes);
    if (fixed !== null) {
      steps.push(['decode', variants ? 'utf-8-variants' : 'utf-8']);
      return { text: fixed, steps };
    }
  }

  if (UTF8_DETECTOR_RE.test(text)) {
    const fixed = decodeInconsistentUtf8(text);
    if (fixed !== text) return { text: fixed, steps: [['apply', 'decode_inconsistent_utf8']] };
  }

  if (possible1Byte.includes('latin-1')) {
    // ftfy checks for 'windows-1252' here, which its list never holds (it has the sloppy one),
    // so this always goes on to the Latin-1 → Windows-1252 reading; kept as ftfy does it.
    if (possible1Byte.includes('windows-1252')) return unchanged;
    const fixed = decodeStrictWindows1252(encodeCharmap(text, 'latin-1'));
    if (fixed !== null && fixed !== text) {
      return {
        text: fixed,
        steps: [
          ['encode', 'latin-1'],
          ['decode', 'windows-1252'],
        ],
      };
    }
  }

  if (C1_CONTROL_RE.test(text))
    return { text: fixC1Controls(text), steps: [['transcode', 'fix_c1_controls']] };
  return unchanged;
}

/** `ftfy.fix_encoding_and_explain`: repair mojibake until stable, with the plan that did it. */
export function fixEncodingAndExplain(text: string): { text: string; explanation: FtfyStep[] } {
  const plan: FtfyStep[] = [];
  let current = text;
  for (;;) {
    const prev = current;
    const step = fixEncodingOneStep(current);
    plan.push(...step.steps);
    current = step.text;
    if (current === prev) return { text: current, explanation: plan };
  }
}

/** `ftfy.fix_encoding`: only the mojibake repair (decoding text that was read in the wrong encoding). */
export function fixEncoding(text: string): string {
  return fixEncodingAndExplain(text).text;
}

function fixSegment(input: string, unescapeHtml: boolean): string {
  let text = input;
  for (;;) {
    const orig = text;
    if (unescapeHtml) text = unescapeHtmlEntities(text);
    text = fixEncoding(text);
    text = fixC1Controls(text);
    text = fixLatinLigatures(text);
    text = fixCharacterWidth(text);
    text = uncurlQuotes(text);
    text = fixLineBreaks(text);
    text = fixSurrogates(text);
    text = removeTerminalEscapes(text);
    text = removeControlChars(text);
    text = text.normalize('NFC');
    if (text === orig) return text;
  }
}

const MAX_DECODE_LENGTH = 1_000_000;

/** Index just past `count` code points of `text` from `start` (or the end of the text). */
function advanceCodePoints(text: string, start: number, count: number): number {
  let i = start;
  for (let n = 0; n < count && i < text.length; n++) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
  }
  return i;
}

/**
 * `ftfy.fix_text` with the default TextFixerConfig: line by line, HTML entities (until a line
 * contains '<'), mojibake repair, C1 controls, Latin ligatures, character width, curly quotes, line
 * breaks, surrogates, terminal escapes, control characters, NFC; each line repeated until stable.
 */
export function fixText(text: string): string {
  let out = '';
  let unescapeHtml = true;
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos) + 1;
    if (end === 0) end = text.length;
    if (end - pos > MAX_DECODE_LENGTH) end = Math.min(end, advanceCodePoints(text, pos, MAX_DECODE_LENGTH));
    const segment = text.slice(pos, end);
    if (unescapeHtml && segment.includes('<')) unescapeHtml = false;
    out += fixSegment(segment, unescapeHtml);
    pos = end;
  }
  return out;
}
