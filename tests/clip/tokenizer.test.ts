import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { clipCleanText, fixText, unescapeHtml } from '../../src/analysis/clip/text-clean.ts';
import { type ClipTokenizer, loadClipTokenizer } from '../../src/analysis/clip/tokenizer.ts';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const VOCAB = resolve(repoRoot, 'assets', 'models', 'bpe_simple_vocab_16e6.txt.gz');

interface ReferenceRow {
  source: string;
  text: string;
  bpe: number[];
  ids: number[];
  truncated: boolean;
}
// Reference ids: openai/CLIP simple_tokenizer.py run under Debian Python; see tests/fixtures/clip/PROVENANCE.md.
const reference: ReferenceRow[] = readFileSync(
  resolve(repoRoot, 'tests/fixtures/clip/tokenizer-reference.jsonl'),
  'utf8',
)
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as ReferenceRow);

let tok: ClipTokenizer;
before(async () => {
  tok = await loadClipTokenizer(VOCAB);
});

describe('CLIP tokenizer against the reference ids', () => {
  test('the corpus is big and varied enough to mean something', () => {
    assert.ok(reference.length >= 50);
    assert.ok(
      reference.some((r) => r.truncated),
      'some prompts exceed 77 tokens',
    );
    assert.ok(
      reference.some((r) => /[\u3040-\u30ff\u4e00-\u9fff]/.test(r.text)),
      'CJK present',
    );
    assert.ok(
      reference.some((r) => /\p{Extended_Pictographic}/u.test(r.text)),
      'emoji present',
    );
    assert.ok(
      reference.some((r) => r.text.includes('&amp;')),
      'HTML entities present',
    );
    assert.ok(
      reference.filter((r) => r.source.startsWith('mojibake:')).length >= 15,
      'mojibake prompts present',
    );
  });

  for (const row of reference) {
    test(`${row.source}: BPE ids and the 77-id tokenize() row equal the reference`, () => {
      assert.deepEqual(tok.encode(row.text), row.bpe);
      const t = tok.tokenize(row.text);
      assert.deepEqual(t.ids, row.ids);
      assert.equal(t.truncated, row.truncated);
      assert.equal(t.nTokens, row.bpe.length + 2);
    });
  }
});

describe('CLIP tokenizer behaviour', () => {
  test('"a photo of a cat" gives the published ids', () => {
    assert.deepEqual(
      tok.tokenize('a photo of a cat').ids.slice(0, 8),
      [49406, 320, 1125, 539, 320, 2368, 49407, 0],
    );
  });

  test('truncation keeps 77 ids and puts the end token last', () => {
    const t = tok.tokenize('cat '.repeat(200));
    assert.equal(t.ids.length, 77);
    assert.equal(t.ids[76], 49407);
    assert.equal(t.truncated, true);
    assert.equal(t.nTokens, 202);
  });

  test('windows cover every BPE id of a long prompt exactly once, in order', () => {
    const text = Array.from({ length: 160 }, (_, i) => `w${i}`).join(' ');
    const bpe = tok.encode(text);
    const windows = tok.windows(text);
    assert.ok(windows.length >= 2);
    const joined = windows.flatMap((w) => {
      const end = w.ids.indexOf(49407);
      return w.ids.slice(1, end);
    });
    assert.deepEqual(joined, bpe);
    for (const w of windows) assert.equal(w.ids.length, 77);
  });

  test('a 200 KB prompt is encoded only as far as the kept ids need, with the same ids', () => {
    const text = Array.from({ length: 30_000 }, (_, i) => `word${i % 997}${i % 7 === 6 ? '\n' : ' '}`).join(
      '',
    );
    const bpe = tok.encode(text);
    const t = tok.tokenize(text);
    assert.equal(t.capped, true);
    assert.equal(t.truncated, true);
    assert.equal(t.nTokens, 602, 'counted up to the 600 ids read');
    assert.deepEqual(t.ids, [49406, ...bpe.slice(0, 75), 49407]);
    const windows = tok.windows(text);
    assert.equal(windows.length, 8);
    assert.deepEqual(
      windows.flatMap((w) => w.ids.slice(1, 76)),
      bpe.slice(0, 600),
    );
    const prefix = tok.encodePrefix(text, 1000);
    assert.equal(prefix.complete, false);
    assert.deepEqual(prefix.ids, bpe.slice(0, 1000));
  });

  test('a short prompt is read whole: encodePrefix is encode, tokenize is not capped', () => {
    const text = 'cat '.repeat(200);
    assert.deepEqual(tok.encodePrefix(text, 1000), { ids: tok.encode(text), complete: true });
    assert.equal(tok.tokenize(text).capped, false);
  });

  test('an empty prompt has one window with start and end tokens only', () => {
    const windows = tok.windows('');
    assert.equal(windows.length, 1);
    assert.deepEqual(windows[0]!.ids.slice(0, 3), [49406, 49407, 0]);
  });

  test('decode inverts encode for plain ASCII prompts', () => {
    assert.equal(
      tok.decode(tok.encode('A Photo of a (red:1.2) cat, 8k')),
      'a photo of a ( red : 1 . 2 ) cat , 8 k',
    );
  });

  test('text cleaning: curly quotes, full-width forms, ligatures and double-escaped entities', () => {
    assert.equal(clipCleanText('it’s “ﬁne”'), 'it\'s "fine"');
    assert.equal(clipCleanText('ＡＢＣ　１２３'), 'ABC 123');
    assert.equal(clipCleanText('a &amp;amp; b'), 'a & b');
    assert.equal(clipCleanText('  tabs\t\tand\nnewlines  '), 'tabs and newlines');
  });

  test('text cleaning: strip and whitespace collapsing equal a split-and-join reference', () => {
    // Python's `\s`: what whitespace_clean collapses and str.strip removes.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: \x1c-\x1f are whitespace to Python's str.split.
    const pyWs = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
    const reference = (text: string): string =>
      unescapeHtml(unescapeHtml(fixText(text)))
        .split(pyWs)
        .filter((word) => word !== '')
        .join(' ');
    const piece = fc.constantFrom(
      ...[' ', '  ', '\t', '\n', '\r\n', '\v', '\x1c', '\x85', '\xa0', '\u2000', '\u3000', '\ufeff'],
      ...['a', 'Ab', 'é', 'Ã©', 'Ã ', 'â€™', '&amp;', '&nbsp;', '&#32;', '&amp;#9;', '日本', '😀', ','],
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const text = pieces.join('');
        assert.equal(clipCleanText(text), reference(text));
      }),
      { numRuns: 2_000, seed: 20260301 },
    );
  });

  test('unescapeHtml follows Python html.unescape on edge cases', () => {
    assert.equal(
      unescapeHtml('&notit; &#0; &#x80; &#xD800; &#128512; &bogus;'),
      '¬it; \uFFFD € \uFFFD 😀 &bogus;',
    );
  });
});
