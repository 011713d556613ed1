import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ELLIPSIS, snippet, snippetAround } from '../../src/analysis/text/snippet.ts';

const wordSeg = new Intl.Segmenter(undefined, { granularity: 'word' });
const graphemeSeg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const boundaries = (seg: Intl.Segmenter, s: string): Set<number> =>
  new Set([0, ...[...seg.segment(s)].map((x) => x.index + x.segment.length)]);
/** True when index `i` falls strictly inside a word (a word-like segment of the whole text). */
const insideWord = (s: string, i: number): boolean =>
  [...wordSeg.segment(s)].some((x) => x.isWordLike && x.index < i && i < x.index + x.segment.length);

/** Pieces that make cutting hard: words, CJK, Thai, emoji ZWJ sequences, flags, combining marks. */
const piece = fc.constantFrom(
  'mislabeled',
  'trigger',
  'word',
  ' ',
  '  ',
  '\n',
  ', ',
  '. ',
  '标签错误',
  '触发词',
  '，',
  'タグが間違っています',
  'ภาษาไทยง่ายนิดเดียว',
  '태그 오류',
  '👨‍👩‍👧‍👦',
  '🏳️‍🌈',
  '🇯🇵',
  '👍🏽',
  'e\u0301',
  '𝒜𝒷𝒸',
  'https://civitai.com/models/11821?modelVersionId=13966',
);
const text = fc.oneof(
  fc.array(piece, { maxLength: 40 }).map((p) => p.join('')),
  fc.string({ unit: 'grapheme', maxLength: 120 }),
);

describe('snippet: cut at a word boundary with an ellipsis', () => {
  test('examples in English, Chinese, Japanese, Thai and emoji', () => {
    assert.equal(snippet('The trigger word is wrong and the captions say so', 20), 'The trigger word is…');
    assert.equal(snippet('标签错误很多，训练的时候触发词写错了', 10), '标签错误很多，训练…');
    assert.equal(snippet('タグが間違っています。トリガーワードが違う', 10), 'タグが間違ってい…');
    assert.equal(snippet('ภาษาไทยง่ายนิดเดียวครับผม', 10), 'ภาษาไทย…');
    assert.equal(snippet('👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦', 15), '👨‍👩‍👧‍👦…');
    assert.equal(snippet('short  text\n\tkept', 160), 'short text kept');
    assert.equal(snippet('wrong, trigger', 8), 'wrong…', 'no dangling comma');
  });

  test('a first word longer than the budget is cut at a grapheme boundary', () => {
    assert.equal(snippet('a'.repeat(50), 10), `${'a'.repeat(9)}…`);
    assert.equal(snippet('👍🏽👍🏽👍🏽👍🏽', 6), '👍🏽…');
  });

  test('property: fits, is a prefix, ends on a word boundary, never splits a grapheme', () => {
    fc.assert(
      fc.property(text, fc.integer({ min: 1, max: 80 }), (raw, max) => {
        const s = raw.replace(/\s+/g, ' ').trim();
        const out = snippet(raw, max);
        assert.ok(out.length <= max, `${out.length} > ${max}`);
        if (s.length <= max) {
          assert.equal(out, s);
          return;
        }
        assert.ok(out.endsWith(ELLIPSIS));
        const head = out.slice(0, -ELLIPSIS.length);
        assert.ok(s.startsWith(head), 'a prefix of the text');
        const cut = head.length;
        assert.ok(boundaries(graphemeSeg, s).has(cut), `cut ${cut} splits a grapheme`);
        const wordCuts = [...boundaries(wordSeg, s)].filter((b) => b > 0 && b <= max - 1);
        if (wordCuts.some((b) => s.slice(0, b).trim() !== '')) {
          assert.ok(!insideWord(s, cut), `cut ${cut} is inside a word`);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('snippetAround: the span whole, words around it whole', () => {
  test('drops words the radius would cut and marks both sides', () => {
    const t = 'Nice model overall, but the trigger word is wrong: the captions say vsk94 instead of vsk.';
    const i = t.indexOf('trigger word is wrong');
    assert.equal(
      snippetAround(t, i, i + 21, 20),
      '…overall, but the trigger word is wrong: the captions say…',
    );
    assert.equal(snippetAround('the tag is wrong', 4, 7, 60), 'the tag is wrong');
  });

  test('property: contains the span, ellipses only where text was left out, cuts on word boundaries', () => {
    fc.assert(
      fc.property(text, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 40 }), (t, a, b, radius) => {
        const g = [...boundaries(graphemeSeg, t)].sort((x, y) => x - y);
        const start = g[a % g.length] ?? 0;
        const end = Math.max(start, g[b % g.length] ?? 0);
        const out = snippetAround(t, start, end, radius);
        const lead = out.startsWith(ELLIPSIS) && start > 0;
        const trail = out.endsWith(ELLIPSIS) && end < t.length;
        const body = out.slice(lead ? 1 : 0, trail ? -1 : undefined);
        const at = t.indexOf(body, 0);
        assert.ok(at >= 0, 'the body is a piece of the text');
        assert.ok(body.includes(t.slice(start, end)), 'the span is whole');
        if (!lead) assert.ok(t.startsWith(body), 'no ellipsis only when nothing was left out before');
        if (!trail) assert.ok(t.endsWith(body), 'no ellipsis only when nothing was left out after');
        // Neither cut point falls inside a word or a grapheme cluster (for some place the body
        // can sit at around the span: repeated text may hold it more than once).
        const clusters = boundaries(graphemeSeg, t);
        const cleanCut = (cut: number, here: boolean): boolean =>
          !here || (!insideWord(t, cut) && clusters.has(cut));
        const places: number[] = [];
        for (let p = 0; p <= start; p++) {
          if (t.startsWith(body, p) && p + body.length >= end) places.push(p);
        }
        assert.ok(
          places.some((p) => cleanCut(p, lead) && cleanCut(p + body.length, trail)),
          `a cut inside a word: ${JSON.stringify(out)}`,
        );
      }),
      { numRuns: 500 },
    );
  });
});
