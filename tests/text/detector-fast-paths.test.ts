/**
 * The detector's fast paths give the same answers as the plain computations they replace: the
 * cached per-character script classes in language identification, and the explanation's top n-grams
 * (summed per gram in a reused table) against naming and summing every n-gram of the sentence.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { gramName } from '../../src/analysis/text/detector/features.ts';
import { defaultDetectorModel, scoreWithModel } from '../../src/analysis/text/detector/model.ts';
import { scriptCounts } from '../../src/analysis/text/language.ts';

const count = (text: string, re: RegExp): number => text.match(re)?.length ?? 0;

/** The counts as the regexes give them (what detectLanguage computed before the cache). */
function regexCounts(text: string): number[] {
  const hangul = count(text, /\p{Script=Hangul}/gu);
  const kana = count(text, /[\p{Script=Hiragana}\p{Script=Katakana}]/gu);
  const han = count(text, /\p{Script=Han}/gu);
  const cyrillic = count(text, /\p{Script=Cyrillic}/gu);
  const latin = count(text, /\p{Script=Latin}/gu);
  return [hangul, kana, han, cyrillic, latin];
}

const DEV = readFileSync(new URL('../fixtures/text-dev/dev-corpus-B.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => (JSON.parse(l) as { text: string }).text);

describe('language identification script counts', () => {
  it('equal the Unicode property regex counts on the development texts', () => {
    for (const text of DEV) assert.deepEqual([...scriptCounts(text)].slice(1), regexCounts(text), text);
  });

  it('equal them on random text over many scripts, astral characters and lone surrogates included', () => {
    const ranges: Array<[number, number]> = [
      [0x20, 0x2ff], // ASCII, Latin-1, Latin Extended, IPA, modifier letters
      [0x300, 0x52f], // combining marks, Greek, Cyrillic
      [0x3000, 0x30ff], // CJK punctuation, kana, including the marks that are not kana
      [0x4e00, 0x4f00],
      [0xac00, 0xac80],
      [0xff00, 0xffef], // half- and full-width forms
      [0x20000, 0x20100], // CJK Extension B (astral)
      [0x1f300, 0x1f400], // emoji (astral)
      [0xd800, 0xdfff], // lone surrogates
    ];
    const char = fc
      .constantFrom(...ranges)
      .chain(([a, b]) => fc.integer({ min: a, max: b }))
      .map((c) => (c >= 0xd800 && c <= 0xdfff ? String.fromCharCode(c) : String.fromCodePoint(c)));
    fc.assert(
      fc.property(fc.array(char, { maxLength: 60 }), (chars) => {
        const text = chars.join('');
        assert.deepEqual([...scriptCounts(text)].slice(1), regexCounts(text));
      }),
      { numRuns: 400, seed: 11 },
    );
  });
});

describe('detector explanation', () => {
  it('names the strongest n-grams of the best sentence, as naming and summing every n-gram would', () => {
    const model = defaultDetectorModel();
    let explained = 0;
    for (const text of DEV.slice(0, 300)) {
      const result = scoreWithModel(model, text, true);
      if (result.bestSentence < 0) continue;
      explained++;
      const { features } = result;
      const sentence = features.sentences[result.bestSentence]!;
      const from = Math.max(sentence.start, sentence.end - 240);
      const sums = new Map<string, number>();
      features.grams.keys.forEach((_key, i) => {
        const p = features.grams.pos[i]!;
        const w = result.gramWeights[i]!;
        if (p < from || p >= sentence.end || w === 0) return;
        const name = gramName(features, i);
        sums.set(name, (sums.get(name) ?? 0) + w * features.gramScale);
      });
      const naive = [...sums.values()].map(Math.abs).sort((a, b) => b - a);
      const grams = result.explanation.filter(
        (c) => c.feature.startsWith('c:') || c.feature.startsWith('w:'),
      );
      assert.equal(grams.length, Math.min(8, sums.size), text);
      grams.forEach((g, k) => {
        assert.ok(Math.abs(Math.abs(g.value) - naive[k]!) < 1e-12, `${text}: gram ${k}`);
        assert.ok(Math.abs(sums.get(g.feature)! - g.value) < 1e-12, `${text}: ${g.feature}`);
      });
    }
    assert.ok(explained > 100, `only ${explained} texts were explained`);
  });
});

describe('tag-like and version positions', () => {
  it('equal the first match of the full regexes', async () => {
    const { TAG_LIKE_RE, VERSION_RE, firstTagLike, firstVersion } = await import(
      '../../src/analysis/text/detector/frames.ts'
    );
    const first = (re: RegExp, text: string): number => {
      re.lastIndex = 0;
      return re.exec(text)?.index ?? -1;
    };
    const texts = [
      ...DEV,
      'a_b "x"',
      '"x" a_b',
      'plain',
      'v2 then `tag`',
      '(tag:1.2) and blue_hair',
      'versión 3',
    ];
    for (const text of texts) {
      const lower = text.toLowerCase();
      assert.equal(firstTagLike(lower), first(TAG_LIKE_RE, lower), text);
      assert.equal(firstVersion(lower), first(VERSION_RE, lower), text);
    }
    const piece = fc.constantFrom(
      '_',
      'a',
      'é',
      '"',
      "'",
      '`',
      '「',
      '」',
      '(',
      ')',
      ':',
      '1',
      '.',
      ' ',
      '\n',
      'v',
      'версия ',
      '版本',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
        const text = parts.join('');
        assert.equal(firstTagLike(text), first(TAG_LIKE_RE, text));
        assert.equal(firstVersion(text), first(VERSION_RE, text));
      }),
      { numRuns: 2000, seed: 7 },
    );
  });
});

describe('Traditional Chinese folding', () => {
  it('folds every Traditional character OpenCC folds one to one, offsets kept', async () => {
    const { normalizeForMatching } = await import('../../src/analysis/text/normalize.ts');
    const traditional = '觸發詞沒用，永遠都在，標籤錯誤，訓練集裡沒標';
    const norm = normalizeForMatching(traditional);
    assert.equal(norm.text, '触发词没用,永远都在,标签错误,训练集里没标'); // NFKC also makes the commas half-width
    assert.equal(norm.text.length, traditional.length);
    // Simplified text and Japanese kana pass through unchanged.
    assert.equal(normalizeForMatching('触发词没用').text, '触发词没用');
    assert.equal(normalizeForMatching('トリガー').text, 'トリガー');
  });
});
