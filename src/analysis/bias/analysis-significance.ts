import type { z } from 'zod';
import { benjaminiHochberg, cliffsDelta, mannWhitneyU } from '../stats/tests.ts';
import type { SignificanceRow } from './evidence.ts';

type Row = z.infer<typeof SignificanceRow>;

/** Significance level of the flagged vs unflagged comparison (on Benjamini–Hochberg q). */
export const SIGNIFICANCE_ALPHA = 0.05;
/** Fewest models per group for a test. */
export const MIN_GROUP = 3;

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Flagged vs unflagged models on each metric (one value per model; models without the value are
 * left out of that metric): two-sided Mann–Whitney U, Cliff's delta (flagged vs unflagged), and
 * Benjamini–Hochberg across the metrics that were tested. A group with fewer than
 * {@link MIN_GROUP} models gets no test and a note.
 */
export function significanceTable(
  metrics: readonly string[],
  flagged: ReadonlyArray<Record<string, unknown>>,
  unflagged: ReadonlyArray<Record<string, unknown>>,
  alpha = SIGNIFICANCE_ALPHA,
): Row[] {
  const valuesOf = (rows: ReadonlyArray<Record<string, unknown>>, metric: string): number[] =>
    rows.map((r) => r[metric]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const rows: Row[] = metrics.map((metric) => {
    const a = valuesOf(flagged, metric);
    const b = valuesOf(unflagged, metric);
    const base = {
      metric,
      nFlagged: a.length,
      nUnflagged: b.length,
      medianFlagged: median(a),
      medianUnflagged: median(b),
    };
    if (a.length < MIN_GROUP || b.length < MIN_GROUP) {
      return {
        ...base,
        u: null,
        p: null,
        q: null,
        cliffsDelta: null,
        significant: false,
        note: `fewer than ${MIN_GROUP} models in a group (flagged ${a.length}, unflagged ${b.length})`,
      };
    }
    const test = mannWhitneyU(a, b);
    return { ...base, u: test.u, p: test.p, q: null, cliffsDelta: cliffsDelta(a, b), significant: false };
  });
  const q = benjaminiHochberg(rows.map((r) => r.p));
  return rows.map((r, i) => {
    const qi = q[i] ?? null;
    return { ...r, q: qi, significant: qi !== null && qi < alpha };
  });
}

/** One sentence: what is and is not significant at this N. */
export function significanceSentence(rows: readonly Row[], nFlagged: number, nUnflagged: number): string {
  const tested = rows.filter((r) => r.p !== null);
  const at = `flagged ${nFlagged} vs unflagged ${nUnflagged} models`;
  if (tested.length === 0) {
    return `No significance test at this N (${at}): a group needs at least ${MIN_GROUP} models with the metric.`;
  }
  const sig = tested.filter((r) => r.significant);
  const untested = rows.length - tested.length;
  const tail = untested > 0 ? `; ${untested} metric(s) not tested (too few models with a value)` : '';
  if (sig.length === 0) {
    return `At this N (${at}) no bias metric differs significantly (Mann–Whitney U, Benjamini–Hochberg q < ${SIGNIFICANCE_ALPHA}, ${tested.length} metrics tested)${tail}.`;
  }
  const named = sig.map(
    (r) => `${r.metric} (δ=${(r.cliffsDelta ?? 0).toFixed(2)}, q=${(r.q ?? 1).toPrecision(2)})`,
  );
  return `At this N (${at}) significant after Benjamini–Hochberg at q < ${SIGNIFICANCE_ALPHA}: ${named.join(', ')}; not significant: ${tested.length - sig.length} other tested metric(s)${tail}.`;
}

/** The short clause of each model's verdict line. */
export function significanceClause(rows: readonly Row[]): string {
  const tested = rows.filter((r) => r.p !== null);
  if (tested.length === 0) return 'flagged vs unflagged not tested (too few models)';
  const sig = tested.filter((r) => r.significant).map((r) => r.metric);
  return sig.length === 0
    ? 'flagged vs unflagged: nothing significant at this N'
    : `flagged vs unflagged significant: ${sig.join(', ')}`;
}
