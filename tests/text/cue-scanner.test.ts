import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CueScanner } from '../../src/analysis/text/cue-scanner.ts';
import { SUPPORTED_LANGUAGES, type SupportedLanguage } from '../../src/analysis/text/language.ts';
import { normalizeForMatching } from '../../src/analysis/text/normalize.ts';
import { CUE_FACTORS, CUES, REPORT_RULES, type ReportRule } from '../../src/analysis/text/patterns.ts';

// Reference oracle: the cue pass as it was before the linear-time rewrite (quadratic: it re-reads the
// whole sentence for every match), copied verbatim. The scanner must agree with it on every input.
const SENTENCE_END_RE = /[!?。！？\n]|\.(?=\s|$)/u;
const CLAUSE_RE =
  /[,;:，、；：]|(?<![\p{L}])(?:but|pero|mas|но|aber|mais|however)(?![\p{L}])|但是|但|不过|しかし|でも|하지만|그런데/gu;

function refSentenceBounds(text: string, start: number, end: number) {
  let s = start;
  while (s > 0) {
    const prev = text.slice(s - 1, s + 1);
    if (SENTENCE_END_RE.test(prev[0] ?? '') && (prev[0] !== '.' || /\s/u.test(prev[1] ?? ' '))) break;
    s -= 1;
  }
  let e = end;
  let endChar = '';
  while (e < text.length) {
    const ch = text[e] as string;
    if (ch === '!' || ch === '?' || ch === '。' || ch === '！' || ch === '？' || ch === '\n') {
      endChar = ch;
      break;
    }
    if (ch === '.' && (e + 1 >= text.length || /\s/u.test(text[e + 1] ?? ''))) {
      endChar = ch;
      break;
    }
    e += 1;
  }
  return { s, e, endChar };
}

function refClauseStart(text: string, sentenceStart: number, matchStart: number): number {
  const before = text.slice(sentenceStart, matchStart);
  let last = 0;
  for (const m of before.matchAll(CLAUSE_RE)) last = (m.index ?? 0) + m[0].length;
  return Math.max(sentenceStart + last, matchStart - 40);
}

function refApplyCues(
  text: string,
  rule: ReportRule,
  nStart: number,
  nEnd: number,
  langs: SupportedLanguage[],
) {
  const { s, e, endChar } = refSentenceBounds(text, nStart, nEnd);
  const sentence = text.slice(s, Math.min(text.length, e + 1));
  const before = text.slice(Math.max(s, nStart - 80), nStart);
  const clause = text.slice(refClauseStart(text, s, nStart), nStart);
  const span = text.slice(nStart, nEnd);
  const after = text.slice(nEnd, Math.min(e, nEnd + 60));
  const found = new Set<keyof typeof CUE_FACTORS>();
  for (const lang of langs) {
    const c = CUES[lang];
    if (c.negationBefore?.test(clause)) found.add('negation');
    if (!rule.negInPattern && c.negationInSpan?.test(span)) found.add('negation');
    if (c.negationAfter?.test(after)) found.add('negation');
    if (c.instructionBefore?.test(before) || c.instructionAfter?.test(after)) found.add('instruction');
    if (c.conditionalBefore?.test(before) || c.conditionalAfter?.test(after)) found.add('conditional');
    if (c.otherModel?.test(sentence)) found.add('otherModel');
    if (c.self?.test(sentence)) found.add('selfAttribution');
    if (c.resolved?.test(sentence)) found.add('resolved');
    const general = c.general?.test(sentence) ?? false;
    const isQuestion = (endChar === '?' || endChar === '？') && !(c.notQuestion?.test(sentence) ?? false);
    if (general) found.add('generalQuestion');
    else if (isQuestion) found.add(c.thisModel?.test(sentence) ? 'questionAboutThis' : 'question');
  }
  if (found.has('generalQuestion')) {
    found.delete('question');
    found.delete('questionAboutThis');
  }
  if (found.has('question')) found.delete('questionAboutThis');
  let score = rule.weight;
  for (const cue of found) score *= CUE_FACTORS[cue];
  return { score, cues: [...found].sort() };
}

/** Pieces that meet every branch: clause words, sentence marks, surrogate pairs, cue words, reports. */
const PIECES = [
  ' ',
  ' ',
  ' ',
  'a',
  'x',
  'é',
  ',',
  '، ',
  '; ',
  ':',
  '，',
  '、',
  '.',
  '. ',
  '.x',
  '!',
  '?',
  '？',
  '。',
  '\n',
  'but',
  'xbut',
  'butx',
  ' but ',
  'however',
  'но',
  ' aber ',
  'mais',
  'pero',
  '但是',
  '但',
  '不过',
  'しかし',
  'しかしかし',
  'でも',
  '하지만',
  '그런데',
  '😀',
  '\u{1F600}but',
  'no ',
  'not ',
  "don't ",
  'if ',
  'fixed ',
  'other loras ',
  'my fault ',
  'how do ',
  'you ',
  '吧？',
  'tags are wrong',
  'wrong tags',
  'mislabeled',
  '标签错了',
  'タグミス',
  '태그 오류',
  'etiquetas incorrectas',
  'falsche tags',
  'неправильный тег',
  'les tags sont faux',
  'as tags estão erradas',
  'the trigger word is wrong',
];
const TERMINATOR_RE = /[.!?？。\n]/u;
const LONG_SENTENCE_PIECES = PIECES.filter((p) => !TERMINATOR_RE.test(p));
/** Texts with sentence punctuation, and texts with none (long sentences take the indexed path). */
const textArb = fc
  .oneof(
    fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...PIECES) },
        { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
      ),
      { maxLength: 120 },
    ),
    fc.array(fc.constantFrom(...LONG_SENTENCE_PIECES), { minLength: 20, maxLength: 120 }),
  )
  .map((parts) => normalizeForMatching(parts.join('')).text);

/** Every match of every rule in `text`, as the detector finds them. */
function matches(text: string): Array<{ rule: ReportRule; start: number; end: number }> {
  const out: Array<{ rule: ReportRule; start: number; end: number }> = [];
  for (const rule of REPORT_RULES) {
    for (const m of text.matchAll(rule.re)) {
      if (m[0].length > 0) out.push({ rule, start: m.index, end: m.index + m[0].length });
    }
  }
  return out;
}

describe('CueScanner', () => {
  it('finds the same sentence bounds and clause starts as reading each sentence again', () => {
    fc.assert(
      fc.property(textArb, fc.nat(), fc.nat(), (text, a, b) => {
        const scanner = new CueScanner(text);
        const start = text.length === 0 ? 0 : a % (text.length + 1);
        const end = Math.min(text.length, start + (b % 50));
        const ref = refSentenceBounds(text, start, end);
        assert.deepEqual(scanner.sentenceBounds(start, end), ref);
        // Every possible match start of that sentence, near to and far from the sentence start.
        for (let m = ref.s; m <= start; m++) {
          assert.equal(scanner.clauseStart(ref.s, m), refClauseStart(text, ref.s, m), `match at ${m}`);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('gives every match of every rule the score and cues of the quadratic version', () => {
    fc.assert(
      fc.property(
        textArb,
        fc.constantFrom<SupportedLanguage | 'und'>('und', ...SUPPORTED_LANGUAGES),
        (text, lang) => {
          const scanner = new CueScanner(text);
          for (const { rule, start, end } of matches(text)) {
            const langs: SupportedLanguage[] = [rule.lang];
            if (lang !== 'und' && lang !== rule.lang) langs.push(lang);
            assert.deepEqual(
              scanner.score(rule, start, end, langs),
              refApplyCues(text, rule, start, end, langs),
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('does work that grows linearly with a text without sentence punctuation', () => {
    // Counted in code units read, not in time: the quadratic version read the whole sentence for each
    // match, so 8× the text was 64× the work; the scanner's ratio stays near 8.
    const work = (chars: number): number => {
      const text = normalizeForMatching(
        'the tags are wrong but the trigger word is off, 标签错了 タグミス '.repeat(chars / 50),
      ).text;
      const scanner = new CueScanner(text);
      for (const { rule, start, end } of matches(text)) scanner.score(rule, start, end, [rule.lang, 'en']);
      return scanner.work.units;
    };
    const small = work(5_000);
    const large = work(40_000);
    assert.ok(large / small < 10, `8× the text took ${(large / small).toFixed(1)}× the work`);
  });
});
