import { cleanPrompt } from '../text/prompt-clean.ts';

const CANONICAL_ASCII = /^[!-@[\]^`-~]+(?: [!-@[\]^`-~]+)*$/;

/**
 * Canonical form used to compare training tags and trigger words: lower case, NFKC, Danbooru escapes
 * `\(` `\)` undone, underscores as spaces, whitespace collapsed. (kohya already lower-cases tags when it
 * counts them, so case never distinguishes two header tags.)
 */
export function canonicalTag(tag: string): string {
  // Most header tags are already canonical (kohya lower-cases them): printable ASCII with no capital,
  // backslash or underscore, single spaces between words. NFKC and the replacements would return them
  // unchanged, so they skip the four passes (a warm top-200 audit canonicalises ~10⁵ tags).
  if (CANONICAL_ASCII.test(tag)) return tag;
  return tag
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\\([()[\]])/g, '$1')
    .replace(/_/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

const SPELLING_VARIANTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bblonde\b/g, 'blond'],
  [/\bgrey\b/g, 'gray'],
  [/\bcolour(ed|s)?\b/g, 'color$1'],
  [/\bsilvery\b/g, 'silver'],
  [/\bt-shirt\b/g, 'tshirt'],
  [/\bt shirt\b/g, 'tshirt'],
];

/**
 * A looser key than {@link canonicalTag}: British/American and blonde/blond spellings, hyphens and
 * spaces are folded, so that two different header tags with the same key are near-duplicates.
 */
export function variantKey(tag: string): string {
  let key = canonicalTag(tag);
  for (const [re, to] of SPELLING_VARIANTS) key = key.replace(re, to);
  return key.replace(/[-\s]+/g, ' ').trim();
}

/**
 * Turns creator-typed `trainedWords` entries into canonical trigger words: split on commas, prompt
 * syntax removed (weights, `<lora:…>`), escapes undone, empties dropped, duplicates removed; at most
 * `limit` words.
 */
export function normalizeTrainedWords(raw: readonly unknown[], limit = Number.POSITIVE_INFINITY): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const entry of raw) {
    if (out.length >= limit) break;
    if (typeof entry !== 'string') continue;
    const cleaned = cleanPrompt(entry, { keepQualityTags: true, embeddingNames: [] }).text;
    // The cleaner keeps `\(x\)` as `(x)` only after a word; undo the remaining escapes first so that
    // `toon \(style\)` and `toon (style)` agree.
    for (const piece of cleaned.split(',')) {
      const word = canonicalTag(piece);
      if (word.length === 0 || seen.has(word) || out.length >= limit) continue;
      seen.add(word);
      out.push(word);
    }
  }
  return out;
}
