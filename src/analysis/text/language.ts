/**
 * Script- and stop-word-based language identification for short comments: ISO 639-1 codes, `zh` for
 * Chinese (both scripts), `und` when there is too little text. CJK characters count three times a Latin
 * letter because one character carries about a word.
 */

export const SUPPORTED_LANGUAGES = ['en', 'zh', 'ja', 'ko', 'es', 'pt', 'ru', 'de', 'fr'] as const;
export type SupportedLanguage = (typeof SUPPORTED_LANGUAGES)[number];

const STOPWORDS: Record<'en' | 'es' | 'pt' | 'de' | 'fr', ReadonlySet<string>> = {
  en: new Set(
    'the and is are it this with but not for of to you i on in was my have be that works just any what how no when does did'.split(
      ' ',
    ),
  ),
  es: new Set(
    'el la los las de que y es en un una no con por para está están muy pero del se lo mi hay sin como cómo sale usa'.split(
      ' ',
    ),
  ),
  pt: new Set(
    'o a os as de que e é em um uma não com por para está estão muito mas do da se meu você tem sem nas nos foi'.split(
      ' ',
    ),
  ),
  de: new Set(
    'der die das und ist nicht ich mit auf es ein eine den dem für zu sind wie aber auch kein keine im von bei'.split(
      ' ',
    ),
  ),
  fr: new Set(
    'le la les de des et est un une pas que avec pour dans ce ça sur il je mais très du au sont ne aucun tu partout toujours tout toutes chaque été fait faites'.split(
      ' ',
    ),
  ),
};

/** Each stop word → the languages that list it (one lookup a word instead of five). */
const STOPWORD_LANGS = new Map<string, Array<'en' | 'es' | 'pt' | 'de' | 'fr'>>();
for (const lang of ['en', 'es', 'pt', 'de', 'fr'] as const) {
  for (const word of STOPWORDS[lang]) STOPWORD_LANGS.set(word, [...(STOPWORD_LANGS.get(word) ?? []), lang]);
}

/** Letters that hint at one language, with their weight: ñ ¿ ¡ es; ã õ pt; ç pt and fr; ä ö ü ß de; è ê ë à â î ï û ù œ fr. */
const DIACRITIC_HINTS = new Map<number, Array<['es' | 'pt' | 'de' | 'fr', number]>>();
for (const [chars, lang, weight] of [
  ['ñ¿¡', 'es', 2],
  ['ãõ', 'pt', 2],
  ['ç', 'pt', 0.5],
  ['ç', 'fr', 0.5],
  ['äöüß', 'de', 2],
  ['èêëàâîïûùœ', 'fr', 1.5],
] as const) {
  for (const ch of chars) {
    const code = ch.charCodeAt(0);
    DIACRITIC_HINTS.set(code, [...(DIACRITIC_HINTS.get(code) ?? []), [lang, weight]]);
  }
}

/** Script classes counted for identification; 0 is "none of them". */
const HANGUL = 1;
const KANA = 2;
const HAN = 3;
const CYRILLIC = 4;
const LATIN = 5;
const SCRIPT_RES: Array<[number, RegExp]> = [
  [HANGUL, /^\p{Script=Hangul}$/u],
  [KANA, /^[\p{Script=Hiragana}\p{Script=Katakana}]$/u],
  [HAN, /^\p{Script=Han}$/u],
  [CYRILLIC, /^\p{Script=Cyrillic}$/u],
  [LATIN, /^\p{Script=Latin}$/u],
];
function scriptOf(ch: string): number {
  for (const [kind, re] of SCRIPT_RES) if (re.test(ch)) return kind;
  return 0;
}
/**
 * Script class of every BMP code unit, worked out by the Unicode property regexes above the first
 * time the unit is seen (255 = not yet known): one array read per character afterwards, same counts.
 */
const BMP_SCRIPT = new Uint8Array(0x10000).fill(255);

/** Counts of each script class in `text`, by code point (astral characters are classified directly). */
export function scriptCounts(text: string): Int32Array {
  const counts = new Int32Array(6);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        counts[scriptOf(text.slice(i, i + 2))]!++;
        i++;
        continue;
      }
    }
    let kind = BMP_SCRIPT[c]!;
    if (kind === 255) {
      kind = scriptOf(String.fromCharCode(c));
      BMP_SCRIPT[c] = kind;
    }
    counts[kind]!++;
  }
  return counts;
}

/** Detects the language of already-normalised (NFKC, lower-case) text. */
export function detectLanguage(text: string): SupportedLanguage | 'und' {
  const scripts = scriptCounts(text);
  const hangul = scripts[HANGUL]!;
  const kana = scripts[KANA]!;
  const han = scripts[HAN]!;
  const cyrillic = scripts[CYRILLIC]!;
  const latin = scripts[LATIN]!;

  const scores: Array<[SupportedLanguage | 'latin', number]> = [
    ['ko', hangul * 3],
    ['ja', kana > 0 ? (kana + han) * 3 : 0],
    ['zh', kana === 0 ? han * 3 : 0],
    ['ru', cyrillic],
    ['latin', latin],
  ];
  scores.sort((a, b) => b[1] - a[1]);
  const [best, score] = scores[0] ?? ['latin', 0];
  if (score < 3) return 'und';
  if (best !== 'latin') return best;
  const latinWords = text.match(/\p{Script=Latin}{2,}/gu) ?? [];

  const langScores: Record<'en' | 'es' | 'pt' | 'de' | 'fr', number> = { en: 0, es: 0, pt: 0, de: 0, fr: 0 };
  for (const word of latinWords) {
    const langs = STOPWORD_LANGS.get(word);
    if (langs) for (const lang of langs) langScores[lang] += 1;
  }
  for (const single of text.match(/(?<![\p{L}])[aoeéyi](?![\p{L}])/gu) ?? []) {
    if (single === 'a' || single === 'o' || single === 'e') langScores.pt += 0.5;
    if (single === 'y') langScores.es += 1;
    if (single === 'é') langScores.pt += 1;
    if (single === 'i') langScores.en += 1;
  }
  for (let i = 0; i < text.length; i++) {
    const hints = DIACRITIC_HINTS.get(text.charCodeAt(i));
    if (hints) for (const [lang, weight] of hints) langScores[lang] += weight;
  }
  const ranked = (Object.entries(langScores) as Array<['en' | 'es' | 'pt' | 'de' | 'fr', number]>).sort(
    (a, b) => b[1] - a[1],
  );
  const [top, topScore] = ranked[0] ?? ['en', 0];
  if (topScore === 0) return latinWords.length >= 1 ? 'en' : 'und';
  return top;
}
