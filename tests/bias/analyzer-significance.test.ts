import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  significanceClause,
  significanceSentence,
  significanceTable,
} from '../../src/analysis/bias/analysis-significance.ts';
import { SignificanceRow } from '../../src/analysis/bias/evidence.ts';

// 4 flagged vs 6 unflagged models. `sep` separates the groups completely: exact two-sided
// Mann–Whitney p = 2 / C(10, 4) = 2/210 (scipy.stats.mannwhitneyu(..., method='exact') gives
// 0.009523809523809525). `mixed` interleaves them: U = 12 of 24, p = 1.
const flagged = [
  { sep: 10, mixed: 1, few: 1 },
  { sep: 11, mixed: 4, few: null },
  { sep: 12, mixed: 5, few: null },
  { sep: 13, mixed: 8, few: null },
];
const unflagged = [
  { sep: 1, mixed: 2, few: 3 },
  { sep: 2, mixed: 3, few: 4 },
  { sep: 3, mixed: 6, few: 5 },
  { sep: 4, mixed: 7, few: 6 },
  { sep: 5, mixed: 9, few: 7 },
  { sep: 6, mixed: 0, few: 8 },
];

test('Mann–Whitney, Cliff’s delta and Benjamini–Hochberg across metrics on a constructed case', () => {
  const rows = significanceTable(['sep', 'mixed', 'few'], flagged, unflagged).map((r) =>
    SignificanceRow.parse(r),
  );
  const [sep, mixed, few] = rows;
  assert.ok(sep && mixed && few);
  assert.ok(Math.abs(sep.p! - 2 / 210) < 1e-12);
  assert.equal(sep.cliffsDelta, 1);
  assert.equal(sep.u, 24);
  assert.equal(sep.medianFlagged, 11.5);
  assert.equal(sep.medianUnflagged, 3.5);
  // BH over the two tested metrics: q(sep) = p·2/1 (the smaller p), q(mixed) = min(1, p·2/2).
  assert.ok(Math.abs(sep.q! - (2 / 210) * 2) < 1e-12);
  assert.equal(sep.significant, true);
  assert.equal(mixed.significant, false);
  assert.ok(mixed.q! >= mixed.p!);
  // Only one flagged model has `few`: no test, a note, and BH did not count it.
  assert.equal(few.nFlagged, 1);
  assert.equal(few.p, null);
  assert.equal(few.q, null);
  assert.match(few.note ?? '', /fewer than 3 models in a group \(flagged 1, unflagged 6\)/);
  const sentence = significanceSentence(rows, 4, 6);
  assert.match(
    sentence,
    /^At this N \(flagged 4 vs unflagged 6 models\) significant after Benjamini–Hochberg at q < 0.05: sep \(δ=1.00, q=0.019\)/,
  );
  assert.match(sentence, /not significant: 1 other tested metric\(s\); 1 metric\(s\) not tested/);
  assert.equal(significanceClause(rows), 'flagged vs unflagged significant: sep');
});

test('nothing significant and nothing tested read differently', () => {
  const none = significanceTable(['mixed'], flagged, unflagged);
  assert.match(significanceSentence(none, 4, 6), /no bias metric differs significantly .*1 metrics tested/);
  assert.equal(significanceClause(none), 'flagged vs unflagged: nothing significant at this N');
  const untested = significanceTable(['sep'], flagged.slice(0, 2), unflagged);
  assert.match(significanceSentence(untested, 2, 6), /^No significance test at this N/);
});
