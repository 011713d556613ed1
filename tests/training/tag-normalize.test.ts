import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalTag, variantKey } from '../../src/analysis/training/tag-normalize.ts';

/** The four passes canonicalTag makes on every tag that is not already canonical ASCII. */
const slowCanonical = (tag: string): string =>
  tag
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\\([()[\]])/g, '$1')
    .replace(/_/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

describe('canonicalTag: the canonical-ASCII fast path', () => {
  it('agrees with the full normalisation on tags made of the characters that matter (property)', () => {
    const chars = fc.constantFrom(...'abcxyz019 _\\()[]:,.-{}|~`^!@AZ\t\n\u00a0\u3000Ａｂ①ﬁÉé');
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 24 }), (list) => {
        const tag = list.join('');
        assert.equal(canonicalTag(tag), slowCanonical(tag), JSON.stringify(tag));
      }),
      { numRuns: 5_000 },
    );
  });

  it('keeps kohya header tags as they are and still folds the rest', () => {
    for (const tag of ['long hair', '1girl', '(smile:1.2)', 'a^b', 'x`y', 'hair ornament, blue eyes']) {
      assert.equal(canonicalTag(tag), tag);
    }
    assert.equal(canonicalTag('Long_Hair'), 'long hair');
    assert.equal(canonicalTag('  red   hair '), 'red hair');
    assert.equal(canonicalTag('toon \\(style\\)'), 'toon (style)');
    assert.equal(canonicalTag('ＡＢＣ'), 'abc');
    assert.equal(variantKey('Blonde_Hair'), 'blond hair');
  });
});
