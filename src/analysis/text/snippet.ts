/**
 * Cutting text for display: at word boundaries (Intl.Segmenter, so Chinese, Japanese and Thai cut
 * between words or characters, never inside one), with an ellipsis where text was left out. A cut
 * never splits a surrogate pair or a grapheme cluster (emoji ZWJ sequences, flags, combining marks).
 * Lengths are UTF-16 code units (what `String.length` and Discord's limits count).
 */

export const ELLIPSIS = '…';

const words = new Intl.Segmenter(undefined, { granularity: 'word' });
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Characters not worth ending a cut on (they would dangle before the ellipsis). */
const TRAILING = /[\s,;:([{\-–—、，（「『《]+$/u;
const LEADING = /^[\s,;:)\]}\-–—、，。）」』》]+/u;

/** The largest word boundary ≤ `limit` (0 if none), scanning only as far as needed. */
function wordBoundaryAtMost(text: string, limit: number): number {
  let best = 0;
  for (const seg of words.segment(text)) {
    const end = seg.index + seg.segment.length;
    if (end > limit) break;
    best = end;
  }
  return best;
}

/** The largest grapheme boundary ≤ `limit`. */
function graphemeBoundaryAtMost(text: string, limit: number): number {
  let best = 0;
  for (const seg of graphemes.segment(text)) {
    const end = seg.index + seg.segment.length;
    if (end > limit) break;
    best = end;
  }
  return best;
}

/**
 * `text` with runs of whitespace collapsed, cut to at most `max` UTF-16 code units at the last
 * word boundary that fits, with `…` appended when anything was cut. Only a first word longer than
 * the whole budget is cut inside (at a grapheme boundary), since nothing else would show.
 */
export function snippet(text: string, max: number): string {
  const s = text.replace(/\s+/g, ' ').trim();
  if (s.length <= max) return s;
  if (max < 1) return '';
  const budget = max - ELLIPSIS.length;
  let cut = wordBoundaryAtMost(s, budget);
  const whole = s.slice(0, cut);
  // Drop dangling punctuation before the ellipsis, unless that is all there is.
  let head = whole.replace(TRAILING, '') || whole.trimEnd();
  if (head === '') {
    cut = graphemeBoundaryAtMost(s, budget);
    head = s.slice(0, cut);
  }
  return `${head}${ELLIPSIS}`;
}

/**
 * The part of `text` around `[start, end)` with about `radius` code units each side, widened or
 * narrowed to word boundaries so no word is cut, `…` on a side where text was left out. The span
 * itself is always whole.
 */
/** Characters around a cut that are segmented to find its word (longer words are cut there). */
const WORD_MARGIN = 200;

export function snippetAround(text: string, start: number, end: number, radius: number): string {
  const from = Math.max(0, Math.min(start, text.length));
  const to = Math.max(from, Math.min(end, text.length));
  let left = Math.max(0, from - radius);
  let right = Math.min(text.length, to + radius);
  // Segment only the neighbourhood of the cuts: `containing()` on a whole long text costs a walk
  // from its start, which made one call per report quadratic in long comments.
  const base = Math.max(0, left - WORD_MARGIN);
  const local = text.slice(base, Math.min(text.length, right + WORD_MARGIN));
  const segments = words.segment(local);
  if (left > 0) {
    const seg = segments.containing(left - base);
    if (seg && seg.index + base < left) {
      const segStart = seg.index + base;
      const segEnd = segStart + seg.segment.length;
      // Drop the word cut by the radius, unless the span starts inside it: then keep it whole.
      left = segEnd <= from ? segEnd : segStart;
    }
  }
  if (right < text.length) {
    const seg = segments.containing(right - base);
    if (seg && seg.index + base < right) {
      const segStart = seg.index + base;
      const segEnd = segStart + seg.segment.length;
      right = segStart >= to ? segStart : segEnd;
    }
  }
  // Trim dangling spaces and punctuation at a cut, never into the span.
  if (left > 0) left += (text.slice(left, from).match(LEADING)?.[0] ?? '').length;
  if (right < text.length) right -= (text.slice(to, right).match(TRAILING)?.[0] ?? '').length;
  const body = text.slice(left, right);
  return `${left > 0 ? ELLIPSIS : ''}${body}${right < text.length ? ELLIPSIS : ''}`;
}
