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

const DIACRITIC_HINTS: Array<[RegExp, 'es' | 'pt' | 'de' | 'fr', number]> = [
  [/[ñ¿¡]/gu, 'es', 2],
  [/[ãõ]/gu, 'pt', 2],
  [/ç/gu, 'pt', 0.5],
  [/ç/gu, 'fr', 0.5],
  [/[äöüß]/gu, 'de', 2],
  [/[èêëàâîïûùœ]/gu, 'fr', 1.5],
];

function count(text: string, re: RegExp): number {
  return text.match(re)?.length ?? 0;
}

/** Detects the language of already-normalised (NFKC, lower-case) text. */
export function detectLanguage(text: string): SupportedLanguage | 'und' {
  const hangul = count(text, /\p{Script=Hangul}/gu);
  const kana = count(text, /[\p{Script=Hiragana}\p{Script=Katakana}]/gu);
  const han = count(text, /\p{Script=Han}/gu);
  const cyrillic = count(text, /\p{Script=Cyrillic}/gu);
  const latinWords = text.match(/\p{Script=Latin}{2,}/gu) ?? [];
  const latin = count(text, /\p{Script=Latin}/gu);

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

  const langScores: Record<'en' | 'es' | 'pt' | 'de' | 'fr', number> = { en: 0, es: 0, pt: 0, de: 0, fr: 0 };
  for (const word of latinWords) {
    for (const lang of ['en', 'es', 'pt', 'de', 'fr'] as const) {
      if (STOPWORDS[lang].has(word)) langScores[lang] += 1;
    }
  }
  for (const single of text.match(/(?<![\p{L}])[aoeéyi](?![\p{L}])/gu) ?? []) {
    if (single === 'a' || single === 'o' || single === 'e') langScores.pt += 0.5;
    if (single === 'y') langScores.es += 1;
    if (single === 'é') langScores.pt += 1;
    if (single === 'i') langScores.en += 1;
  }
  for (const [re, lang, weight] of DIACRITIC_HINTS) langScores[lang] += count(text, re) * weight;
  const ranked = (Object.entries(langScores) as Array<['en' | 'es' | 'pt' | 'de' | 'fr', number]>).sort(
    (a, b) => b[1] - a[1],
  );
  const [top, topScore] = ranked[0] ?? ['en', 0];
  if (topScore === 0) return latinWords.length >= 1 ? 'en' : 'und';
  return top;
}
