import type { SupportedLanguage } from './language.ts';
import { foldTraditional } from './normalize.ts';

/**
 * Per-language patterns for reports of training-tag errors, and the cue lists that lower a match's
 * score (negation, general questions, author instructions, conditionals, other models, the writer's own
 * mistake, an error that was already fixed). All patterns run on normalised text (NFKC, lower case,
 * Traditional Chinese folded to Simplified; see normalize.ts).
 */

export interface ReportRule {
  id: string;
  lang: SupportedLanguage;
  weight: number;
  re: RegExp;
  /** The pattern itself contains a negation ("doesn't match"), so in-span negation is not a denial. */
  negInPattern?: boolean;
}

/** Word boundaries and a word for scripts with spaces. */
const B = '(?<![\\p{L}\\p{N}_])';
const E = '(?![\\p{L}\\p{N}_])';
const W = "[\\p{L}\\p{N}_'-]+";
const gap = (max: number): string => `(?:\\s+${W}){0,${max}}?\\s+`;

const rules: ReportRule[] = [];
function rule(
  id: string,
  lang: SupportedLanguage,
  weight: number,
  source: string,
  negInPattern = false,
): void {
  rules.push({
    id: `${lang}.${id}`,
    lang,
    weight,
    re: new RegExp(foldTraditional(source), 'gu'),
    ...(negInPattern ? { negInPattern } : {}),
  });
}

// ---------------------------------------------------------------- English
const N_EN =
  '(?:tags?|tagging|tagged|captions?|captioning|captioned|labels?|labell?ing|labell?ed|trigger(?:[ -]?words?|[ -]?tokens?|[ -]?phrases?|s)?|activation (?:words?|tags?|tokens?|prompts?)|keywords?|key words?|trained words?|class (?:tokens?|words?|names?)|(?:danbooru|booru|dataset) tags?)';
const ADJ_EN =
  '(?:wrong|incorrect|mistaken|bad|broken|faulty|inaccurate|erroneous|misspell?ed|mismatched|messed[- ]up|screwed[- ]up|bogus|swapped|mixed[- ]up|wonky|borked)';
const PRED_EN =
  '(?:wrong|incorrect|off|broken|messed[- ]up|screwed[- ]up|mixed[- ]up|swapped|switched|inaccurate|erroneous|(?:a )?(?:total |complete |huge |big )?mess|garbage|all over the place|bad|faulty|inconsistent|wonky|borked|busted)';
rule('mislabel', 'en', 0.85, `${B}mis-?(?:label|tag|caption|classif)\\p{L}*`);
rule('wrong-noun', 'en', 0.8, `${B}${ADJ_EN}(?:\\s+${W}){0,2}?\\s+${N_EN}${E}`);
rule('noun-pred', 'en', 0.75, `${B}${N_EN}${gap(3)}${PRED_EN}${E}`);
rule('noun-pred-near', 'en', 0.75, `${B}${N_EN}\\s+${PRED_EN}${E}`);
rule(
  'tagged-wrongly',
  'en',
  0.8,
  `${B}(?:tagged|captioned|labell?ed)(?:\\s+(?:it|them|her|him|this|these|everything|all|images))?\\s+(?:wrong(?:ly)?|incorrectly|badly|poorly|improperly)${E}`,
);
rule(
  'tagged-as-but',
  'en',
  0.65,
  `${B}(?:tagged|labell?ed|captioned|classified)(?:\\s+(?:it|her|him|them|this|these))?\\s+as\\s+[^.!?\\n]{1,40}?\\s(?:but|while|though|yet|instead of|although|so)${E}`,
);
rule(
  'tag-error',
  'en',
  0.75,
  `${B}${N_EN}[- ]?(?:errors?|mistakes?|issues?|problems?|bugs?|typos?|mix-?ups?|mismatch(?:es)?|fail(?:ure)?s?)${E}`,
);
rule(
  'typo',
  'en',
  0.75,
  `${B}(?:typo|misspelling|spelling mistake|spelling error)s?\\s+(?:in|on)\\s+(?:the |your |its |this )?(?:${W}\\s+)?${N_EN}${E}`,
);
rule(
  'has-typo',
  'en',
  0.75,
  `${B}${N_EN}(?:\\s+${W}){0,2}?\\s+(?:has|had|have|contains?)\\s+(?:a |an )?(?:typo|misspelling|spelling mistake)`,
);
rule(
  'not-match',
  'en',
  0.7,
  `${B}${N_EN}(?:\\s+${W}){0,4}?\\s+(?:do(?:es)?n't|do(?:es)? not|did(?:n't| not)|never)\\s+(?:even\\s+)?(?:match|fit|correspond|line up|align|agree)`,
  true,
);
rule(
  'not-right',
  'en',
  0.7,
  `${B}${N_EN}(?:\\s+${W}){0,2}?\\s+(?:is|are|was|were)(?:n't| not)\\s+(?:right|correct|accurate)`,
  true,
);
rule(
  'not-work',
  'en',
  0.55,
  `${B}(?:trigger(?:[ -]?words?)?|activation (?:words?|tags?)|keywords?|trained words?|tags?)(?:\\s+${W}){0,2}?\\s+(?:do(?:es)?n't|do(?:es)? not|did(?:n't| not)|won't|never)\\s+(?:even\\s+|seem to\\s+|really\\s+)?(?:work|do anything|activate|trigger anything|have any effect|respond)`,
  true,
);
rule(
  'real-trigger',
  'en',
  0.6,
  `${B}(?:real|actual|correct|right|true|proper)\\s+(?:${W}\\s+)?(?:trigger(?:[ -]?words?)?|activation (?:words?|tags?)|keywords?|trained words?)\\s+(?:is|was|=|:)`,
);
rule(
  'should-be',
  'en',
  0.45,
  `${B}(?:trigger(?:[ -]?words?)?|activation (?:words?|tags?)|trained words?)(?:\\s+${W}){0,2}?\\s+(?:should be|is actually|must be|is supposed to be|was supposed to be)${E}`,
);
rule(
  'unrelated',
  'en',
  0.75,
  `${B}${N_EN}(?:\\s+${W}){0,4}?\\s+(?:have|has|had)\\s+(?:absolutely\\s+)?(?:nothing to do with|no relation to)`,
  true,
);
rule(
  'differs',
  'en',
  0.6,
  `${B}${N_EN}(?:\\s+${W}){0,4}?\\s+(?:is|are|was|were)(?:\\s+(?:different from|not the same as|not the one)|n't the (?:one|same))${E}`,
  true,
);
rule(
  'tagged-x-as-y',
  'en',
  0.55,
  `${B}(?:tagged|labell?ed|captioned)\\s+(?:the\\s+|her\\s+|his\\s+|their\\s+|a\\s+|an\\s+)?(?:${W}\\s+){1,3}?as\\s+(?:a\\s+|an\\s+)?${W}`,
);
rule(
  'swapped',
  'en',
  0.7,
  `${B}(?:mixed up|swapped|switched|confused)\\s+(?:the |your |their )?(?:${W}\\s+)?${N_EN}${E}`,
);

// ---------------------------------------------------------------- Chinese (folded to Simplified)
const N_ZH = '(?:标签|标注|标记|打标|tags?|触发词|触发|提示词|关键词|训练词|激活词|captions?)';
const STOP_ZH = '[^，。！？,.!?\\n]';
rule(
  'wrong-verb',
  'zh',
  0.8,
  `(?:${N_ZH}${STOP_ZH}{0,6}?(?:打|标|写|弄|搞|填|给|加|贴)错|(?:打|写|弄|搞|填|给|贴)错了?的?${STOP_ZH}{0,4}?${N_ZH}|标错|误标|错标|打错标)`,
);
rule(
  'noun-pred',
  'zh',
  0.8,
  `${N_ZH}的?${STOP_ZH}{0,6}?(?:错了|错误|有错|不对|有误|不正确|不准确|错乱|混乱|很乱|太乱|好乱|乱七八糟|一团糟|是错的|反了|弄反|搞反|标反|太随意|很随意|马虎|敷衍|草率|错(?=[，。！？,.!?\\s]|$))`,
);
rule('noun-problem', 'zh', 0.6, `${N_ZH}的?${STOP_ZH}{0,4}?(?:有问题|有毛病|有bug)`);
rule('mismatch', 'zh', 0.75, `${N_ZH}${STOP_ZH}{0,10}?(?:对不上|不符|不一致|不匹配|不相符|对应不上)`, true);
rule('differs', 'zh', 0.55, `${N_ZH}${STOP_ZH}{0,10}?(?:不一样|不同)`, true);
rule('wrong-noun', 'zh', 0.75, `(?:错误|错|不对|不正确|有误)的?${N_ZH}`);
rule('tagged-as', 'zh', 0.55, `(?:被(?:标|标注|标记|打标|打)(?:成|为)|(?:标|打)成了?)`);

// ---------------------------------------------------------------- Japanese
const N_JA =
  '(?:タグ|キャプション|トリガー(?:ワード)?|ワード|ラベル|プロンプト|学習タグ|呪文|tags?|captions?|trigger)';
const STOP_JA = '[^、。！？!?,.\\n]';
rule(
  'compound',
  'ja',
  0.85,
  '(?:タグミス|タグ間違い|誤タグ|誤キャプション|誤ラベル|タグの?付けの?(?:間違い|ミス)|タグ違い|トリガー(?:ワード)?の?ミス|誤(?:った)?タグ付け|ラベルの?(?:間違い|ミス))',
);
rule(
  'noun-pred',
  'ja',
  0.75,
  `${N_JA}(?:の|が|は|も|を)?${STOP_JA}{0,6}?(?:間違っ|間違い|間違え|おかしい|おかしく|違う|違い|違っ|違います|ずれ|ズレ|ミス|誤っ|正しくない|めちゃくちゃ|滅茶苦茶|逆に|入れ替わ|ぐちゃぐちゃ|バラバラ|雑|適当すぎ|いい加減)`,
);
rule(
  'mismatch',
  'ja',
  0.75,
  `${N_JA}${STOP_JA}{0,24}?(?:一致していない|一致しない|一致しません|合ってない|合っていない|合わない|合いません|異なり|異なる|別物)`,
  true,
);
rule('wrong-noun', 'ja', 0.75, `(?:間違った|間違っている|誤った|間違いの|おかしな|違う|変な)${N_JA}`);
rule(
  'not-work',
  'ja',
  0.5,
  `${N_JA}${STOP_JA}{0,8}?(?:効きません|効かない|反応しません|反応しない|機能しない|機能しません)`,
  true,
);

// ---------------------------------------------------------------- Korean
const N_KO =
  '(?:태그|태깅|캡션|트리거(?: ?워드)?|라벨링|라벨|레이블|프롬프트|키워드|tags?|captions?|trigger)';
rule(
  'compound',
  'ko',
  0.85,
  '(?:오태그|오태깅|태그 ?미스|태깅 ?미스|(?:태그|태깅|캡션|라벨) ?(?:오류|에러)|트리거(?: ?워드)? ?(?:오류|에러))',
);
rule(
  'noun-pred',
  'ko',
  0.75,
  `${N_KO}(?:가|이|는|은|을|를|도|의)?\\s?(?:[^\\s,.!?]+\\s)?(?:잘못|틀렸|틀린|틀려|틀리|엉망|이상해|이상하|이상합|다릅|달라|다르|안 ?맞|뒤바뀌|뒤바뀐|서로 바뀌|서로 바뀐|반대로|엉뚱|대충|별로|엉성)`,
);
rule(
  'mismatch',
  'ko',
  0.75,
  `${N_KO}(?:[^,.!?\\n]){0,20}?(?:상관없|관련 ?없|일치하지 않|달라|다릅니다|다르네)`,
  true,
);
rule('wrong-verb', 'ko', 0.8, '(?:잘못|틀리게|이상하게|엉뚱하게)\\s?(?:태그|태깅|라벨링|캡션|캡셔닝)');
rule('wrong-noun', 'ko', 0.8, `(?:잘못된|잘못 된|틀린|이상한|엉뚱한|잘못 달린|잘못 붙은)\\s?${N_KO}`);

// ---------------------------------------------------------------- Spanish
const N_ES =
  '(?:etiquetas?|etiquetados?|etiquetado|tags?|tagueo|palabras? clave|palabras? de activación|palabras? disparadoras?|palabras? gatillo|trigger(?: words?)?|triggers|activador(?:es)?|subtítulos?|captions?|descripciones de entrenamiento)';
const ERR_ES =
  '(?:incorrect[oa]s?|equivocad[oa]s?|err[oó]ne[oa]s?|mal|malos|malas|mal puest[oa]s?|mezclad[oa]s?|cambiad[oa]s?|intercambiad[oa]s?|invertid[oa]s?|un desastre|un caos|confundid[oa]s?)';
rule('noun-pred', 'es', 0.8, `${B}${N_ES}${gap(5)}${ERR_ES}${E}`);
rule('noun-adj', 'es', 0.8, `${B}${N_ES}\\s+${ERR_ES}${E}`);
rule(
  'mal-verb',
  'es',
  0.85,
  `${B}(?:mal|incorrectamente|erróneamente|erroneamente)\\s+(?:etiquetad|taguead|taggead|tagead|marcad|subtitulad|descrit|nombrad)[oa]s?${E}`,
);
rule(
  'error-in',
  'es',
  0.75,
  `${B}(?:errore?s?|fallos?|problemas?|erratas?)\\s+(?:${W}\\s+)?(?:en|de|con)\\s+(?:el |la |los |las |su |sus )?${N_ES}${E}`,
);
rule(
  'has-error',
  'es',
  0.75,
  `${B}${N_ES}(?:\\s+${W}){0,2}?\\s+(?:tiene|tienen|tenía|tenían)\\s+(?:un |una |algún |varios |muchos )?(?:error|errores|errata|fallo|fallos)`,
);
rule(
  'not-match',
  'es',
  0.7,
  `${B}${N_ES}(?:\\s+${W}){0,3}?\\s+no\\s+(?:coinciden?|corresponden?|concuerdan?)${E}`,
  true,
);
rule(
  'not-work',
  'es',
  0.55,
  `${B}${N_ES}(?:\\s+${W}){0,2}?\\s+no\\s+(?:funcionan?|sirven?|hacen? nada|activan?)${E}`,
  true,
);
rule(
  'swapped',
  'es',
  0.7,
  `${B}(?:confundi\\p{L}*|mezcl[óo]|intercambi\\p{L}*|invirti\\p{L}*)\\s+(?:las |los |el |la )?${N_ES}${E}`,
);
rule(
  'unrelated',
  'es',
  0.75,
  `${B}${N_ES}(?:\\s+${W}){0,4}?\\s+no\\s+(?:tienen?|tenía|tenían)\\s+nada que ver`,
  true,
);
rule(
  'differs',
  'es',
  0.6,
  `${B}${N_ES}(?:\\s+${W}){0,4}?\\s+no\\s+es\\s+(?:el|la)\\s+(?:mism[oa]|de)${E}`,
  true,
);
rule(
  'tagged-x-as-y',
  'es',
  0.55,
  `${B}(?:etiquetó|etiquetaron|taguearon|marcó|marcaron)\\s+(?:${W}\\s+){0,4}?como${E}`,
);
rule('tagged-as', 'es', 0.55, `${B}(?:etiquetad|taguead|marcad)[oa]s?\\s+como${E}`);
rule(
  'correct-trigger',
  'es',
  0.6,
  `${B}(?:${N_ES}\\s+(?:correct[oa]|verdader[oa]|real)\\s+es|(?:verdader[oa]|correct[oa])\\s+${N_ES}\\s+es)${E}`,
);

// ---------------------------------------------------------------- Portuguese
const N_PT =
  '(?:tags?|etiquetas?|marcaç(?:ão|ões)|marcacao|palavras?[- ]chave|palavras?[- ]gatilho|gatilhos?|trigger(?: words?)?|triggers|legendas?|captions?|rótulos?|rotulagem|rotulação)';
const ERR_PT =
  '(?:errad[oa]s?|incorret[oa]s?|equivocad[oa]s?|trocad[oa]s?|invertid[oa]s?|misturad[oa]s?|bagunçad[oa]s?|uma bagunça|uma zona|um lixo|ruins?)';
rule('noun-pred', 'pt', 0.8, `${B}${N_PT}${gap(5)}${ERR_PT}${E}`);
rule('noun-adj', 'pt', 0.8, `${B}${N_PT}\\s+${ERR_PT}${E}`);
rule(
  'mal-verb',
  'pt',
  0.85,
  `${B}(?:mal|erroneamente|incorretamente)\\s+(?:marcad|etiquetad|taguead|legendad|rotulad)[oa]s?${E}`,
);
rule(
  'error-in',
  'pt',
  0.75,
  `${B}(?:erros?|problemas?)\\s+(?:${W}\\s+)?(?:n[oa]s?|de|com|em)\\s+(?:${W}\\s+)?${N_PT}${E}`,
);
rule(
  'has-error',
  'pt',
  0.75,
  `${B}${N_PT}(?:\\s+${W}){0,2}?\\s+(?:tem|têm|tinha|tinham)\\s+(?:um |uma |algum |vários )?(?:erro|erros|problema)`,
);
rule(
  'not-match',
  'pt',
  0.7,
  `${B}${N_PT}(?:\\s+${W}){0,3}?\\s+não\\s+(?:batem|bate|correspondem?|combinam?)${E}`,
  true,
);
rule(
  'not-work',
  'pt',
  0.55,
  `${B}${N_PT}(?:\\s+${W}){0,2}?\\s+não\\s+(?:funciona|funcionam|faz nada|fazem nada|ativa)${E}`,
  true,
);
rule(
  'swapped',
  'pt',
  0.7,
  `${B}(?:trocou|trocaram|confundiu|confundiram|misturou|misturaram|inverteu|inverteram)\\s+(?:as |os |a |o )?${N_PT}${E}`,
);
rule(
  'unrelated',
  'pt',
  0.75,
  `${B}${N_PT}(?:\\s+${W}){0,4}?\\s+não\\s+(?:têm|tem|tinha|tinham)\\s+nada a ver`,
  true,
);
rule('differs', 'pt', 0.6, `${B}${N_PT}(?:\\s+${W}){0,4}?\\s+não\\s+é\\s+(?:o|a)\\s+mesm[oa]${E}`, true);
rule(
  'tagged-x-as-y',
  'pt',
  0.55,
  `${B}(?:marcou|marcaram|etiquetou|etiquetaram|taguearam)\\s+(?:${W}\\s+){0,4}?como${E}`,
);
rule('tagged-as', 'pt', 0.55, `${B}(?:marcad|etiquetad|taguead|legendad)[oa]s?\\s+como${E}`);
rule(
  'correct-trigger',
  'pt',
  0.6,
  `${B}(?:${N_PT}\\s+(?:corret[oa]|verdadeir[oa]|real)\\s+é|(?:verdadeir[oa]|corret[oa])\\s+${N_PT}\\s+é)${E}`,
);

// ---------------------------------------------------------------- Russian
const N_RU =
  '(?:тег\\p{L}*|тэг\\p{L}*|метк\\p{L}*|меток|подпис(?:ь|и|ей|ям|ями|ях)|капшен\\p{L}*|кэпшен\\p{L}*|триггер\\p{L}*(?:-слов\\p{L}*)?|ключев\\p{L}* слов\\p{L}*|слов\\p{L}*[- ]триггер\\p{L}*|разметк\\p{L}*|промпт\\p{L}*)';
const ADJ_RU =
  '(?:неправильн\\p{L}*|неверн\\p{L}*|ошибочн\\p{L}*|кривы\\p{L}*|кривые|некорректн\\p{L}*|левы\\p{L}*|не те|не тот|не та)';
const PRED_RU =
  '(?:неправильн\\p{L}*|неверн\\p{L}*|ошибочн\\p{L}*|перепутан\\p{L}*|кривы\\p{L}*|криво|некорректн\\p{L}*|не те|не тот|не та|не то|с ошибками|бардак|хаос|бред|треш|помойка)';
rule('adj-noun', 'ru', 0.8, `${B}${ADJ_RU}\\s+(?:${W}\\s+)?${N_RU}`);
rule('noun-pred', 'ru', 0.75, `${B}${N_RU}${gap(5)}${PRED_RU}${E}`);
rule('noun-adj', 'ru', 0.75, `${B}${N_RU}\\s+${PRED_RU}${E}`);
rule(
  'adv-verb',
  'ru',
  0.85,
  `${B}(?:неправильно|неверно|криво|ошибочно|с ошибками)\\s+(?:${W}\\s+)?(?:размечен|протегирован|затегирован|подписан|отмечен|протеган)\\p{L}*`,
);
rule(
  'verb-adv',
  'ru',
  0.85,
  `${B}(?:размечен|протегирован|затегирован|подписан|протеган)\\p{L}*\\s+(?:${W}\\s+)?(?:неправильно|неверно|криво|ошибочно|с ошибками)${E}`,
);
rule('swapped', 'ru', 0.7, `${B}(?:перепутал\\p{L}*|спутал\\p{L}*)\\s+(?:${W}\\s+)?${N_RU}`);
rule(
  'unrelated',
  'ru',
  0.75,
  `${B}${N_RU}(?:\\s+${W}){0,4}?\\s+не\\s+(?:имеют|имеет|имели)\\s+(?:никакого\\s+)?отношени`,
  true,
);
rule('differs', 'ru', 0.6, `${B}${N_RU}(?:\\s+${W}){0,4}?\\s+(?:отличает\\p{L}*|не совпада\\p{L}*)`, true);
rule(
  'tagged-x-as-y',
  'ru',
  0.55,
  `${B}(?:протегал\\p{L}*|разметил\\p{L}*|подписал\\p{L}*)\\s+(?:${W}\\s+){0,4}?как${E}`,
);
rule('tagged-as', 'ru', 0.6, `${B}(?:протеган|протегирован|размечен|подписан|отмечен)\\p{L}*\\s+как${E}`);
rule(
  'error-in',
  'ru',
  0.75,
  `${B}(?:ошибк\\p{L}*|проблем\\p{L}*|опечатк\\p{L}*)\\s+(?:в|с|во)\\s+(?:${W}\\s+)?${N_RU}`,
);
rule('in-noun-error', 'ru', 0.75, `${B}(?:в|во)\\s+${N_RU}\\s+(?:${W}\\s+)?(?:ошибк|опечатк)\\p{L}*`);
rule(
  'not-match',
  'ru',
  0.7,
  `${B}${N_RU}(?:\\s+${W}){0,3}?\\s+не\\s+(?:соответству\\p{L}*|совпада\\p{L}*)`,
  true,
);
rule(
  'not-work',
  'ru',
  0.55,
  `${B}${N_RU}(?:\\s+${W}){0,2}?\\s+не\\s+(?:работа\\p{L}*|срабатыва\\p{L}*)`,
  true,
);
rule('correct-trigger', 'ru', 0.6, `${B}правильн\\p{L}*\\s+${N_RU}\\s*(?:—|-|:|это|=)`);

// ---------------------------------------------------------------- German
const N_DE =
  '(?:tags?|tagging|beschriftung(?:en)?|captions?|bildunterschriften|trigger(?:wort|wörter|worte|word|words)?|triggers|schlüsselw(?:ort|örter)|labels?|aktivierungsw(?:ort|örter)|keywords?)';
rule(
  'adj-noun',
  'de',
  0.8,
  `${B}(?:falsch|fehlerhaft|inkorrekt|verkehrt|vertauscht)\\p{L}*\\s+(?:${W}\\s+)?${N_DE}${E}`,
);
rule(
  'noun-pred',
  'de',
  0.75,
  `${B}${N_DE}${gap(5)}(?:falsch|fehlerhaft|vertauscht|durcheinander|verkehrt|daneben|kaputt|murks|inkorrekt|chaotisch|chaos|müll|mist)${E}`,
);
rule(
  'not-correct',
  'de',
  0.7,
  `${B}${N_DE}(?:\\s+${W}){0,3}?\\s+(?:stimm(?:t|en)|passt|passen)\\s+(?:${W}\\s+)?nicht${E}|${B}${N_DE}(?:\\s+${W}){0,3}?\\s+(?:ist|sind|war|waren)\\s+nicht\\s+(?:korrekt|richtig|passend)${E}`,
  true,
);
rule(
  'not-work',
  'de',
  0.55,
  `${B}${N_DE}(?:\\s+${W}){0,2}?\\s+(?:funktionier(?:t|en)|wirk(?:t|en)|greif(?:t|en))\\s+nicht${E}`,
  true,
);
rule(
  'adv-verb',
  'de',
  0.85,
  `${B}(?:falsch|fehlerhaft|schlecht)\\s+(?:ge)?(?:taggt|getaggt|beschriftet|gelabelt|markiert|verschlagwortet|gecaptioned)${E}|${B}vertaggt${E}`,
);
rule(
  'unrelated',
  'de',
  0.75,
  `${B}${N_DE}(?:\\s+${W}){0,6}?\\s+nichts\\s+(?:${W}\\s+){0,4}?zu tun${E}`,
  true,
);
rule(
  'differs',
  'de',
  0.6,
  `${B}${N_DE}(?:\\s+${W}){0,4}?\\s+(?:ist|sind)\\s+(?:ein\\s+|eine\\s+)?(?:anderer|andere|anderes|nicht das|nicht der|nicht die|nicht dasselbe)${E}`,
  true,
);
rule('tagged-as', 'de', 0.55, `${B}als\\s+(?:${W}\\s+){1,3}(?:getaggt|beschriftet|gelabelt)${E}`);
rule(
  'compound-error',
  'de',
  0.8,
  `${B}(?:tag|tagging|caption|beschriftungs|trigger|triggerwort)-?fehler\\p{L}*`,
);
rule(
  'error-in',
  'de',
  0.75,
  `${B}(?:tippfehler|schreibfehler|fehler)\\s+(?:im|in den|in der|bei den|beim|in)\\s+${N_DE}${E}`,
);
rule(
  'correct-trigger',
  'de',
  0.6,
  `${B}(?:richtige|korrekte|echte|tatsächliche)\\s+${N_DE}\\s+(?:ist|lautet|heißt)${E}`,
);

// ---------------------------------------------------------------- French
const N_FR =
  '(?:tags?|étiquettes?|etiquettes?|balises?|légendes?|legendes?|captions?|mots?[- ]cl[ée]s?|mots? déclencheurs?|déclencheurs?|declencheurs?|trigger(?: words?)?|triggers|libellés?|tagging|taggage|étiquetage|etiquetage|annotations?)';
const ERR_FR =
  "(?:incorrect\\p{L}*|erron[ée]\\p{L}*|faux|fausses?|mauvais\\p{L}*|inexact\\p{L}*|invers[ée]\\p{L}*|mélang[ée]\\p{L}*|melang[ée]\\p{L}*|à côté|n'importe quoi|n'importe comment|le bazar|bazar|le bordel|un bordel|mal|nuls?|bugu?[ée]\\p{L}*)";
rule('noun-pred', 'fr', 0.8, `${B}${N_FR}${gap(5)}${ERR_FR}${E}`);
rule('noun-adj', 'fr', 0.8, `${B}${N_FR}\\s+${ERR_FR}`);
rule(
  'adj-noun',
  'fr',
  0.8,
  `${B}(?:mauvais\\p{L}*|faux|fausses?|incorrect\\p{L}*|erron\\p{L}*)\\s+(?:${W}\\s+)?${N_FR}${E}`,
);
rule(
  'mal-verb',
  'fr',
  0.85,
  `${B}mal\\s+(?:tagu|étiquet|etiquet|légend|legend|annot|labellis|décrit)\\p{L}*`,
);
rule(
  'swapped',
  'fr',
  0.7,
  `${B}(?:invers\\p{L}*|mélang\\p{L}*|melang\\p{L}*|confondu)\\s+(?:les |le |la |l'|ses |leurs )?${N_FR}${E}`,
);
rule(
  'unrelated',
  'fr',
  0.75,
  `${B}${N_FR}(?:\\s+${W}){0,4}?\\s+n'(?:ont|a|avaient|avait)\\s+(?:aucun rapport|rien à voir)`,
  true,
);
rule(
  'differs',
  'fr',
  0.6,
  `${B}${N_FR}(?:\\s+${W}){0,4}?\\s+(?:est|sont)\\s+différent\\p{L}*|${B}${N_FR}(?:\\s+${W}){0,4}?\\s+n'est pas\\s+(?:celui|celle|le même|la même)${E}`,
  true,
);
rule('tagged-as', 'fr', 0.55, `${B}(?:tagu|étiquet|etiquet|annot)\\p{L}*\\s+(?:${W}\\s+){0,4}?comme${E}`);
rule(
  'error',
  'fr',
  0.75,
  `${B}(?:erreurs?|fautes?|problèmes?|coquilles?)(?: de frappe)?\\s+(?:de |d'|dans (?:les |le |la |l')?|sur (?:les |le |la )?|des )${N_FR}${E}`,
);
rule(
  'not-match',
  'fr',
  0.7,
  `${B}${N_FR}(?:\\s+${W}){0,3}?\\s+ne\\s+(?:correspond\\p{L}*|colle\\p{L}*)\\s+pas${E}|${B}${N_FR}(?:\\s+${W}){0,3}?\\s+(?:ne sont pas|n'est pas)\\s+(?:bons?|bonnes?|corrects?|correctes?)${E}`,
  true,
);
rule(
  'not-work',
  'fr',
  0.55,
  `${B}${N_FR}(?:\\s+${W}){0,3}?\\s+ne\\s+(?:fonctionne\\p{L}*|marche\\p{L}*)\\s+pas${E}`,
  true,
);
rule('correct-trigger', 'fr', 0.6, `${B}(?:bon|bonne|vrai|vraie|correct)\\s+${N_FR}\\s+(?:est|c'est)${E}`);

export const REPORT_RULES: readonly ReportRule[] = rules;

/** Cue kinds and the factor a match's score is multiplied by when the cue applies. */
export const CUE_FACTORS = {
  negation: 0.1,
  generalQuestion: 0.12,
  question: 0.5,
  questionAboutThis: 0.9,
  instruction: 0.1,
  conditional: 0.25,
  otherModel: 0.2,
  selfAttribution: 0.15,
  resolved: 0.2,
} as const;
export type CueKind = Exclude<keyof typeof CUE_FACTORS, 'questionAboutThis'>;

export interface LanguageCues {
  /** Negators in the clause before the match (and inside the span, unless the rule negates itself). */
  negationBefore?: RegExp;
  negationInSpan?: RegExp;
  /** Negation right after the match (Japanese, Korean, Chinese, Russian put it there). */
  negationAfter?: RegExp;
  general?: RegExp;
  thisModel?: RegExp;
  instructionBefore?: RegExp;
  instructionAfter?: RegExp;
  conditionalBefore?: RegExp;
  conditionalAfter?: RegExp;
  otherModel?: RegExp;
  self?: RegExp;
  resolved?: RegExp;
  /** Sentence endings that look like a question but assert (Chinese 吧？). */
  notQuestion?: RegExp;
}

const b = (alts: string): RegExp => new RegExp(`${B}(?:${alts})${E}`, 'u');

const RAW_CUES: Record<SupportedLanguage, LanguageCues> = {
  en: {
    negationBefore: b(
      "no|not|never|without|zero|none|nothing|nor|n't|free of|lack of|haven't seen any|didn't see any",
    ),
    negationInSpan: b("not|n't|never|no"),
    general: new RegExp(
      `${B}(?:how (?:do|can|to|should|would|does)|what (?:is|are|does|causes)|any (?:tips|advice|tools?)|is it normal|does anyone|anyone know|asking for|for my own|in general|best way|tip:|most common|common reason|double check yours|always check|tutorial|guide|article|writing about|video about)`,
      'u',
    ),
    thisModel: b('you|your|this|author|creator|op'),
    instructionBefore: b(
      "don't|do not|never|avoid|make sure|be careful|remember to|please use|copy it exactly|instead use",
    ),
    conditionalBefore: b('if|whether|in case|unless|when you'),
    otherModel: new RegExp(
      `${B}(?:other (?:loras?|models?|versions? of|creators?|people's)|another (?:lora|model)|unlike|many loras|most loras|some loras|lots of loras|compared to|that other)${E}`,
      'u',
    ),
    self: new RegExp(
      `${B}(?:my (?:fault|bad|mistake|prompt|own)|user error|i (?:used|typed|put|had) the wrong|i tagged|i labell?ed|for my own|your prompt|you prompted)${E}`,
      'u',
    ),
    resolved: new RegExp(
      `(?<!(?:will|to|need to|needs to|should|please|not|never|n't|be)\\s)${B}(?:fixed|corrected|resolved|cleaned(?: up)?|cleanup|removed|pruned|retagged|re-?captioned|thanks for fixing)${E}`,
      'u',
    ),
  },
  zh: {
    negationBefore: /(?:没有|没|无|并非|未|不是|不会|不算)/u,
    negationInSpan: /(?:没有|没|无|并非|未|不是|不会)/u,
    negationAfter: /^(?:没有|都没|并没有)/u,
    general: /(?:怎么|如何|请问|有没有|是否|会不会|推荐|教程|文章|攻略|指南|吗[？?]?$)/u,
    thisModel: /(?:这个|本模型|你|作者|楼主)/u,
    instructionBefore: /(?:不要|别用|请勿|请用|避免|注意|千万别)/u,
    conditionalBefore: /(?:如果|要是|假如|万一)/u,
    otherModel: /(?:别的模型|其他模型|别的lora|其他lora|很多lora|不像|不同于|和别的|跟别的|其他作者)/u,
    self: /(?:我自己|怪我|我的错|我的提示词|你的提示词|是你的|我在练)/u,
    resolved: /(?:修复了|已修复|修正了|已经修正|已修正|改正了|更正了|清理了|删除了|已改)/u,
    notQuestion: /吧[？?]$/u,
  },
  ja: {
    negationAfter: /^[^、。！？!?\n]{0,6}?(?:ない|無い|なし|無し|ません|ねえ|ねぇ|見当たら)/u,
    general: /(?:どうやって|どうすれば|方法|質問|よくある|チュートリアル|記事|解説|ガイド)/u,
    thisModel: /(?:この|作者|あなた)/u,
    instructionAfter: /^[^。！？!?\n]{0,12}?(?:ないでください|ないで|しないように|禁止)/u,
    conditionalAfter: /^(?:ると|たら|れば|ば|た場合|る場合|ちゃうと)/u,
    otherModel: /(?:他のlora|他のモデル|別のlora|多くのlora|と違って|他の作者)/u,
    self: /(?:自分の|私のミス|僕のミス|すみません)/u,
    resolved: /(?:修正しました|修正済|修正して|直しました|直りました|修正あり|の修正)/u,
  },
  ko: {
    negationAfter: /^[^,.!?\n]{0,8}?(?:없|아니|않|안 보|안 나|못 찾)/u,
    general: /(?:어떻게|방법|나요|까요|있나요|튜토리얼|가이드|글을 쓰|강좌)/u,
    thisModel: /(?:이 모델|이 로라|작가|님)/u,
    instructionAfter: /^[^.!?\n]{0,12}?(?:마세요|말아|금지)/u,
    conditionalAfter: /^[^,.!?\n]{0,6}?(?:하면|으면|다면|경우|면 )/u,
    otherModel: /(?:다른 로라|다른 모델|다른 lora|많은 로라|와 달리|과 달리)/u,
    self: /(?:제 실수|제 프롬프트|내 실수|제 학습|제가 잘못)/u,
    resolved: /(?:수정했|수정하고|수정됨|고쳤|정리했|수정해 주)/u,
  },
  es: {
    negationBefore: b('no|ni|sin|ningún|ninguna|ninguno|nunca|nada de'),
    negationInSpan: b('no|ni|nunca'),
    general:
      /(?:cómo|^\s*¿?como(?![\p{L}])|como se (?:corrige|arregla|evita)|^\s*¿?qué|es normal|pregunto|alguien sabe|tutorial|guía|guia|artículo)/u,
    thisModel: b('tu|tus|este|esta|autor|creador|pusiste'),
    instructionBefore: b('no uses|no use|no utilices|evita|evite|asegúrate'),
    conditionalBefore: b('si|en caso de|cuando uses'),
    otherModel: b('otros? loras?|otros? modelos?|a diferencia|muchos loras|la mayoría de'),
    self: b('error mío|mi prompt|mi error|culpa mía|mi propio'),
    resolved: /(?:corregid|arreglad|solucionad|limpié|limpiad|corregí)/u,
  },
  pt: {
    negationBefore: b('não|nao|sem|nenhum|nenhuma|nunca'),
    negationInSpan: b('não|nao|nunca'),
    general:
      /(?:^\s*como(?![\p{L}])|como (?:corrigir|faço|fazer|evitar|arrumar|consertar|resolver)|é normal|pergunto|alguém sabe|tutorial|guia|artigo)/u,
    thisModel: b('você|seu|sua|este|esta|autor'),
    instructionBefore: b('não use|não usem|evite|evitem|certifique'),
    conditionalBefore: b('se|caso|quando usar'),
    otherModel: b('outros? loras?|outros? modelos?|ao contrário|muitos loras'),
    self: b('erro meu|meu prompt|culpa minha|meu próprio'),
    resolved: /(?:corrigid|corrigir|arrumad|consertad|limpei|limpad)/u,
  },
  ru: {
    negationBefore: b(
      'нет|без|никаких|никакие|ни одного|ни одной|не было|не вижу|не нашел|не нашёл|не заметил',
    ),
    negationInSpan: /(?:^|[^\p{L}])(?:не|нет)\s(?!те\s|тот\s|та\s|то\s|соответств|совпада|работа|срабатыва)/u,
    negationAfter: /^[^.!?\n]{0,10}?(?:^|[^\p{L}])(?:нет|не было|не найден)(?![\p{L}])/u,
    general:
      /(?:^\s*как(?![\p{L}])|как (?:исправить|избежать|проверить|починить|убрать)|нормально ли|спрашиваю|кто-нибудь знает|туториал|гайд|стать[яю])/u,
    thisModel: b('вы|ты|эта|этой|автор'),
    instructionBefore: /(?:не используй\p{L}*|не пиши\p{L}*|избегай\p{L}*|не ставь\p{L}*)/u,
    conditionalBefore: b('если|в случае'),
    otherModel: /(?:друг\p{L}* лор|друг\p{L}* модел|в отличие|многие лоры|многих лор)/u,
    self: /(?:моя вина|сам ошиб|в промпте|своё обучение|свое обучение|мой промпт)/u,
    resolved: /(?:исправил|исправлен|исправили|почистил|вычистил)/u,
  },
  de: {
    negationBefore: /(?<![\p{L}])(?:kein\p{L}*|nicht|ohne|nie|niemals)(?![\p{L}])/u,
    negationInSpan: b('nicht|kein|keine|nie'),
    general: b('wie|ist es normal|frage für|weiß jemand|tutorial|leitfaden|anleitung|artikel'),
    thisModel: b('du|dein|deine|diese|dieser|ersteller'),
    instructionBefore: b('verwende nicht|nicht verwenden|benutze nicht|vermeide|nimm nicht|achte darauf'),
    conditionalBefore: b('wenn|falls|ob'),
    otherModel: /(?:andere\p{L}* lora|andere\p{L}* modell|im gegensatz|anders als|viele loras)/u,
    self: b('mein fehler|meinem prompt|meine schuld|mein eigenes'),
    resolved: /(?:korrigiert|behoben|gefixt|repariert|bereinigt|aufgeräumt)/u,
  },
  fr: {
    negationBefore: b("pas|aucun|aucune|sans|jamais|ni|pas d'"),
    negationInSpan: b('pas|jamais|aucun|aucune'),
    general: b("comment|est-ce normal|est-ce que|je demande|quelqu'un sait|tuto|tutoriel|guide|article"),
    thisModel: b('tu|ton|ta|vous|votre|ce|cet|cette|auteur'),
    instructionBefore: /(?:n'utilise\p{L}* pas|évite\p{L}*|evite\p{L}*|ne mets pas|ne mettez pas)/u,
    conditionalBefore: b("si|s'il|en cas de|quand tu"),
    otherModel: /(?:autres? loras?|autres? modèles?|contrairement|beaucoup de lora|la plupart des)/u,
    self: b('ma faute|mon prompt|mon erreur|mon propre'),
    resolved: /(?:corrig|réparé|nettoy|correction)/u,
  },
};

function foldCues(cues: LanguageCues): LanguageCues {
  const out: LanguageCues = {};
  for (const kind of Object.keys(cues) as Array<keyof LanguageCues>) {
    const re = cues[kind];
    if (re) out[kind] = new RegExp(foldTraditional(re.source), re.flags);
  }
  return out;
}

/** Cue patterns run on folded text, so their sources are folded the same way (Japanese 誤 → 误 …). */
export const CUES: Record<SupportedLanguage, LanguageCues> = {
  en: foldCues(RAW_CUES.en),
  zh: foldCues(RAW_CUES.zh),
  ja: foldCues(RAW_CUES.ja),
  ko: foldCues(RAW_CUES.ko),
  es: foldCues(RAW_CUES.es),
  pt: foldCues(RAW_CUES.pt),
  ru: foldCues(RAW_CUES.ru),
  de: foldCues(RAW_CUES.de),
  fr: foldCues(RAW_CUES.fr),
};
