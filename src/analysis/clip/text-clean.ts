import { fixText, pythonHtmlUnescape } from './ftfy.ts';

/**
 * CLIP's text cleaning (`basic_clean` + `whitespace_clean` in openai/CLIP simple_tokenizer.py):
 * `ftfy.fix_text` with its defaults (the port in ftfy.ts, mojibake repair included), Python's
 * `html.unescape` twice, strip, whitespace collapsing.
 */

export { fixText };

/** Exactly Python's `html.unescape` (HTML5 named references, numeric references, invalid-codepoint rules). */
export const unescapeHtml = pythonHtmlUnescape;

// Python's str.strip() / regex `\s` (Unicode White_Space plus the ASCII separators 0x1c-0x1f).
const PY_WS =
  '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WS_RUN = new RegExp(`[${PY_WS}]+`, 'g');

/** `whitespace_clean(basic_clean(text))`: ftfy, html.unescape twice, strip, collapse whitespace runs. */
export function clipCleanText(text: string): string {
  const fixed = unescapeHtml(unescapeHtml(fixText(text)));
  // Collapse first, then drop the single space left at each edge: same result as strip-then-collapse,
  // and linear (a `[ws]+$` alternative is retried from every position of an inner run: quadratic).
  const collapsed = fixed.replace(WS_RUN, ' ');
  const start = collapsed.startsWith(' ') ? 1 : 0;
  const end = collapsed.length > start && collapsed.endsWith(' ') ? collapsed.length - 1 : collapsed.length;
  return collapsed.slice(start, end);
}
