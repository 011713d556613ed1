import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { findSimilarTags, MAX_PAIRS } from '../../src/analysis/training/similar-tags.ts';

/** Reference oracle: the one-edit buckets as first written (deletion keys built as strings, O(L²) per tag). */
function reference(tags: readonly string[]): Array<[string, string]> {
  const buckets = new Map<string, string[]>();
  for (const tag of tags) {
    if (tag.length < 5) continue;
    const keys = new Set<string>([tag]);
    for (let i = 0; i < tag.length; i++) keys.add(tag.slice(0, i) + tag.slice(i + 1));
    for (const k of keys) {
      const list = buckets.get(k) ?? [];
      list.push(tag);
      buckets.set(k, list);
    }
  }
  const pairs = new Map<string, [string, string]>();
  for (const list of buckets.values()) {
    if (list.length < 2 || list.length > 20) continue;
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i] as string;
        const b = list[j] as string;
        if (a.replace(/\d/g, '') === b.replace(/\d/g, '')) continue;
        const [x, y] = a < b ? [a, b] : [b, a];
        pairs.set(`${x}\u0000${y}`, [x, y]);
      }
    }
  }
  return [...pairs.values()];
}

const tagArb = fc
  .array(fc.constantFrom('a', 'b', 'c', 's', ' ', '1', '2', 'é', '😀', 'hair'), {
    minLength: 3,
    maxLength: 9,
  })
  .map((parts) => parts.join(''));

describe('findSimilarTags', () => {
  it('finds the pairs of the string-key version, in the same order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(tagArb, { maxLength: 60 }), (tags) => {
        assert.deepEqual(findSimilarTags(tags).pairs, reference(tags));
      }),
      { numRuns: 500 },
    );
  });

  it('finds typos and plurals but not digit variants', () => {
    const { pairs } = findSimilarTags([
      'ponytail',
      'ponytial',
      'clenched hand',
      'clenched hands',
      '2girls',
      '3girls',
    ]);
    assert.deepEqual(pairs, [
      ['ponytail', 'ponytial'],
      ['clenched hand', 'clenched hands'],
    ]);
  });

  it('does work linear in the length of a tag (a 16 384-character tag used to build 268 M key characters)', () => {
    const work = (length: number): number => {
      const tag = 'ab cd ef '.repeat(length / 9 + 1).slice(0, length);
      const counter = { units: 0 };
      findSimilarTags([tag, `${tag}x`, `x${tag}`], counter);
      return counter.units;
    };
    const small = work(2_000);
    const large = work(16_000);
    assert.ok(large / small < 10, `8× the length took ${(large / small).toFixed(1)}× the work`);
  });

  it('keeps at most MAX_PAIRS pairs and says so', () => {
    // 20 × 20 × 20 tags `q?q?q?`: every key of one substitution is shared by 20 tags, 228 000 pairs.
    const letters = 'abcdefghijklmnopqrst';
    const tags: string[] = [];
    for (const a of letters) for (const b of letters) for (const c of letters) tags.push(`q${a}q${b}q${c}`);
    const result = findSimilarTags(tags);
    assert.equal(result.pairs.length, MAX_PAIRS);
    assert.equal(result.capped, true);
  });
});
