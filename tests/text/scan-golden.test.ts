import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { scanText } from '../../src/analysis/text/tag-error-reports.ts';
import { compactScan, GOLDEN_FILE, goldenInputs } from './scan-golden-inputs.ts';

/**
 * The detector's output must not change when its implementation does: every text of the labelled set
 * and 58 long synthetic texts give exactly the flags, scores, languages, spans, rules and cues that the
 * detector gave before its linear-time rewrite (tests/fixtures/text-scan/golden.jsonl, written by that version).
 */
const golden: Record<string, unknown> = Object.fromEntries(
  readFileSync(GOLDEN_FILE, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const { id, out } = JSON.parse(line) as { id: string; out: unknown };
      return [id, out];
    }),
);

describe('scanText golden outputs', () => {
  const inputs = goldenInputs();

  it('covers every golden id and nothing else', () => {
    assert.deepEqual(inputs.map((i) => i.id).sort(), Object.keys(golden).sort());
  });

  it('gives the recorded output for every labelled and synthetic text', () => {
    const differing: string[] = [];
    for (const input of inputs) {
      const actual = compactScan(scanText(input.text));
      try {
        assert.deepStrictEqual(actual, golden[input.id]);
      } catch {
        differing.push(input.id);
      }
    }
    assert.deepEqual(differing, [], `outputs differ for ${differing.length} text(s)`);
  });
});
