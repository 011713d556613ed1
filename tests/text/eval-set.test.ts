import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type EvalItem, evaluate, parseEvalJsonl } from '../../src/analysis/text/evaluation.ts';

const dir = new URL('../fixtures/text-eval/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
const items: EvalItem[] = files.flatMap((f) => parseEvalJsonl(readFileSync(new URL(f, dir), 'utf8'), f));
const LANGS = ['en', 'zh', 'ja', 'ko', 'es', 'pt', 'ru', 'de', 'fr'];

/**
 * The detector was trained on these texts (with tests/fixtures/text-dev), so in-sample figures check
 * the pipeline, not accuracy: if inference featurised differently from training, they would collapse.
 * Accuracy on unseen texts is the blind-set figure of `npm run bench text-blind`.
 */
const IN_SAMPLE_FLOOR = 0.95;

describe('text tag-error evaluation set', () => {
  it('has at least 300 labelled texts with positives and negatives in both splits of every language', () => {
    assert.ok(items.length >= 300, `${items.length} texts`);
    assert.equal(new Set(items.map((i) => i.id)).size, items.length, 'ids are unique');
    for (const lang of LANGS) {
      for (const split of ['dev', 'test'] as const) {
        const subset = items.filter((i) => i.lang === lang && i.split === split);
        assert.ok(
          subset.some((i) => i.label === 1),
          `${lang}/${split} has positives`,
        );
        assert.ok(subset.filter((i) => i.label === 0).length >= 5, `${lang}/${split} has hard negatives`);
      }
    }
  });

  const result = evaluate(items);
  for (const split of ['dev', 'test'] as const) {
    it(`reproduces the training labels of the ${split} split (pipeline check)`, () => {
      const row = result.rows.find((r) => r.split === split && r.lang === 'all');
      assert.ok(row);
      assert.ok(row.precision >= IN_SAMPLE_FLOOR && row.recall >= IN_SAMPLE_FLOOR, JSON.stringify(row));
    });
  }

  it('computes precision, recall and F1 from the detector output', () => {
    const tiny: EvalItem[] = [
      { id: 'a', lang: 'en', split: 'test', label: 1, text: 'The dataset is mislabeled.' },
      { id: 'b', lang: 'en', split: 'test', label: 1, text: 'Nice colours.' },
      { id: 'c', lang: 'en', split: 'test', label: 0, text: 'The trigger word is wrong.' },
      { id: 'd', lang: 'en', split: 'test', label: 0, text: 'Works fine.' },
    ];
    const row = evaluate(tiny).rows.find((r) => r.split === 'test' && r.lang === 'all');
    assert.deepEqual(
      [row?.n, row?.tp, row?.fp, row?.fn, row?.precision, row?.recall, row?.f1],
      [4, 1, 1, 1, 0.5, 0.5, 0.5],
    );
    assert.deepEqual(
      evaluate(tiny).errors.map((e) => e.id),
      ['b', 'c'],
    );
  });
});
