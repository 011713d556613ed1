import { HTML5_ENTITY_DATA } from './html5-entities.ts';

/**
 * CLIP's text cleaning (`basic_clean` + `whitespace_clean` in openai/CLIP simple_tokenizer.py):
 * ftfy.fix_text with its defaults, `html.unescape` twice, whitespace collapsing.
 *
 * ftfy is reproduced for the steps that matter for prompts: HTML entities (skipped when the text
 * contains `<`, like ftfy's 'auto'), Latin ligatures, full-width/half-width forms, curly quotes,
 * line breaks, control characters and the BOM, NFC; repeated until stable. Not reproduced:
 * ftfy's mojibake repair (`fix_encoding`, `fix_c1_controls`), a heuristic that rarely fires on
 * prompts typed by people.
 */

const NAMED = HTML5_ENTITY_DATA.named;
const INVALID_CHARREFS = HTML5_ENTITY_DATA.invalidCharrefs;
const INVALID_CODEPOINTS = new Set(HTML5_ENTITY_DATA.invalidCodepoints);

// Python html.unescape's pattern: numeric (dec/hex) or up to 32 name characters, optional ';'.
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
    const prefix = body.slice(0, x);
    const hit = NAMED[prefix];
    if (hit !== undefined) return hit + body.slice(x);
  }
  return `&${body}`;
}

/** Exactly Python's `html.unescape` (HTML5 named references, numeric references, invalid-codepoint rules). */
export function unescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(PY_CHARREF_RE, (_m, body: string) => replaceCharref(body));
}

// ftfy's own entity pattern (chardata.HTML_ENTITY_RE); each match is decoded as html.unescape would.
const FTFY_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};?/g;

const LIGATURES = new Map<string, string>(
  [...'ĲĳŉǅǆǇǈǉǊǋǌﬀﬁﬂﬃﬄﬅﬆ'].map((c) => [c, c.normalize('NFKC')] as const),
);

const WIDTH_MAP = (() => {
  const map = new Map<string, string>([['\u3000', ' ']]);
  for (let i = 0xff01; i < 0xfff0; i++) {
    const ch = String.fromCharCode(i);
    const alt = ch.normalize('NFKC');
    if (alt !== ch) map.set(ch, alt);
  }
  return map;
})();

function isFtfyControl(cp: number): boolean {
  return (
    (cp >= 0x00 && cp <= 0x08) ||
    cp === 0x0b ||
    (cp >= 0x0e && cp <= 0x1f) ||
    cp === 0x7f ||
    (cp >= 0x206a && cp <= 0x206f) ||
    cp === 0xfeff ||
    (cp >= 0xfff9 && cp <= 0xfffc)
  );
}

function translateChars(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (isFtfyControl(cp)) continue;
    out += LIGATURES.get(ch) ?? WIDTH_MAP.get(ch) ?? ch;
  }
  return out;
}

/** The subset of `ftfy.fix_text` described in this module's header, applied until the text is stable. */
export function fixText(input: string): string {
  const unescapeEntities = !input.includes('<');
  let text = input;
  for (let i = 0; i < 16; i++) {
    const orig = text;
    if (unescapeEntities) text = text.replace(FTFY_ENTITY_RE, (m) => unescapeHtml(m));
    // Ligatures and width first, then quotes, line breaks, controls, NFC: ftfy's order.
    text = translateChars(text).replace(/[\u201c-\u201f]/g, '"');
    text = text.replace(/[\u02bc\u2018-\u201b]/g, "'");
    text = text.replace(/\r\n|[\r\u2028\u2029\u0085]/g, '\n');
    text = text.normalize('NFC');
    if (text === orig) return text;
  }
  return text;
}

// Python's str.strip() / regex `\s` (Unicode White_Space plus the ASCII separators 0x1c-0x1f).
const PY_WS =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WS_RUN = new RegExp(`[${PY_WS}]+`, 'g');
const WS_EDGES = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, 'g');

/** `whitespace_clean(basic_clean(text))`: ftfy, html.unescape twice, strip, collapse whitespace runs. */
export function clipCleanText(text: string): string {
  const fixed = unescapeHtml(unescapeHtml(fixText(text)));
  return fixed.replace(WS_EDGES, '').replace(WS_RUN, ' ').replace(WS_EDGES, '');
}
