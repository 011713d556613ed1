import { AppError, ErrorCode } from '../errors.ts';
import { seededRandom } from './random.ts';

/**
 * Tests of independence on contingency tables: Pearson's chi-square (no continuity correction, as
 * `scipy.stats.chi2_contingency(correction=False)`), Fisher's exact test for 2×2 tables (two-sided, as
 * `scipy.stats.fisher_exact`), and a seeded Monte-Carlo permutation test for r×c tables at small counts
 * (as R's `chisq.test(simulate.p.value = TRUE)`: margins fixed, p = (1 + #{X² ≥ X²obs}) / (B + 1)).
 */

export interface ChiSquareResult {
  statistic: number;
  df: number;
  p: number;
}

export interface MonteCarloResult {
  method: 'monte-carlo';
  statistic: number;
  p: number;
  resamples: number;
}

export type ShotTestMethod = 'chi-square' | 'fisher-exact' | 'monte-carlo';

export interface ShotTestResult {
  method: ShotTestMethod;
  /** Pearson's X² of the table (whatever computed the p-value). */
  statistic: number;
  p: number;
}

function invalid(message: string, details: Record<string, unknown> = {}): AppError {
  return new AppError(ErrorCode.INPUT_INVALID, message, { details });
}

/** Validate a table of non-negative integer counts and drop its all-zero rows and columns. */
export function dropEmpty(table: readonly (readonly number[])[]): number[][] {
  const cols = table[0]?.length ?? 0;
  for (const [i, row] of table.entries()) {
    if (row.length !== cols) throw invalid('contingency table rows differ in length', { row: i });
    for (const v of row) {
      if (!Number.isSafeInteger(v) || v < 0) {
        throw invalid('contingency table cells must be non-negative integers', { row: i, value: v });
      }
    }
  }
  const keepCols = Array.from({ length: cols }, (_, j) => table.some((row) => row[j]! > 0));
  return table.filter((row) => row.some((v) => v > 0)).map((row) => row.filter((_, j) => keepCols[j]));
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Regularised upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a): the series for P when x < a + 1, else
 * the Lentz continued fraction for Q (Numerical Recipes §6.2), each to double precision, so far tails
 * keep their relative accuracy (no 1 − P cancellation).
 */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) throw invalid('gammaQ needs a > 0 and x ≥ 0', { a, x });
  if (x === 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  const logPrefix = a * Math.log(x) - x - logGamma(a);
  const EPS = 1e-16;
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * EPS) break;
    }
    return Math.max(0, 1 - sum * Math.exp(logPrefix));
  }
  const TINY = 1e-300;
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(logPrefix) * h;
}

/** Survival function of the chi-square distribution: P(X ≥ x) with `df` degrees of freedom. */
export function chiSquareSf(x: number, df: number): number {
  if (!(df > 0)) throw invalid('chi-square needs df > 0', { df });
  if (x <= 0) return 1;
  return gammaQ(df / 2, x / 2);
}

/** Pearson's X² of a table without empty rows/columns (expected counts from the margins). */
function pearson(table: readonly (readonly number[])[]): number {
  const rows = table.map((r) => r.reduce((s, v) => s + v, 0));
  const cols = table[0]!.map((_, j) => table.reduce((s, r) => s + r[j]!, 0));
  const n = rows.reduce((s, v) => s + v, 0);
  let x2 = 0;
  for (let i = 0; i < table.length; i++) {
    for (let j = 0; j < cols.length; j++) {
      const e = (rows[i]! * cols[j]!) / n;
      const d = table[i]![j]! - e;
      x2 += (d * d) / e;
    }
  }
  return x2;
}

/**
 * Pearson's chi-square test of independence (no continuity correction) after dropping all-zero rows and
 * columns. A table left with one row or one column has df 0: statistic 0, p 1 (nothing to compare).
 * Throws INPUT_INVALID for ragged tables or cells that are not non-negative integers.
 */
export function chiSquareTest(table: readonly (readonly number[])[]): ChiSquareResult {
  const t = dropEmpty(table);
  const df = t.length < 2 || (t[0]?.length ?? 0) < 2 ? 0 : (t.length - 1) * (t[0]!.length - 1);
  if (df === 0) return { statistic: 0, df: 0, p: 1 };
  const statistic = pearson(t);
  return { statistic, df, p: chiSquareSf(statistic, df) };
}

const logFactorial = (n: number): number => logGamma(n + 1);

/**
 * Fisher's exact test on a 2×2 table, two-sided as scipy computes it: the sum of the hypergeometric
 * probabilities of every table with the observed margins that is no more likely than the observed one
 * (relative tolerance 1e-7 for ties). An empty row or column gives p = 1. Throws INPUT_INVALID for a
 * table that is not 2×2 non-negative integers.
 */
export function fisherExact(table: readonly (readonly number[])[]): { p: number } {
  if (table.length !== 2 || table.some((r) => r.length !== 2))
    throw invalid('Fisher’s exact test needs a 2×2 table');
  dropEmpty(table);
  const [[a, b], [c, d]] = table as [[number, number], [number, number]];
  const r1 = a + b;
  const r2 = c + d;
  const c1 = a + c;
  const n = r1 + r2;
  if (r1 === 0 || r2 === 0 || c1 === 0 || c1 === n) return { p: 1 };
  const constant =
    logFactorial(r1) + logFactorial(r2) + logFactorial(c1) + logFactorial(n - c1) - logFactorial(n);
  const logPmf = (k: number): number =>
    constant - logFactorial(k) - logFactorial(r1 - k) - logFactorial(c1 - k) - logFactorial(r2 - c1 + k);
  const observed = logPmf(a);
  const lo = Math.max(0, c1 - r2);
  const hi = Math.min(r1, c1);
  let p = 0;
  for (let k = lo; k <= hi; k++) {
    const lp = logPmf(k);
    if (lp <= observed + Math.log1p(1e-7)) p += Math.exp(lp);
  }
  return { p: Math.min(1, p) };
}

/**
 * Seeded Monte-Carlo permutation test of independence on an r×c table: the column labels of the N
 * observations are shuffled against the row labels `resamples` times (margins fixed), and
 * p = (1 + #{X²sim ≥ X²obs}) / (resamples + 1). Same seed, same p.
 * Throws INPUT_INVALID for bad tables or resamples < 1.
 */
export function monteCarloTest(
  table: readonly (readonly number[])[],
  options: { seed: number; resamples?: number },
): MonteCarloResult {
  const resamples = options.resamples ?? 10_000;
  if (!Number.isSafeInteger(resamples) || resamples < 1)
    throw invalid('resamples must be a positive integer', { resamples });
  if (!Number.isSafeInteger(options.seed)) throw invalid('seed must be an integer', { seed: options.seed });
  const t = dropEmpty(table);
  if (t.length < 2 || (t[0]?.length ?? 0) < 2)
    return { method: 'monte-carlo', statistic: 0, p: 1, resamples };
  const r = t.length;
  const c = t[0]!.length;
  const rowTotals = t.map((row) => row.reduce((s, v) => s + v, 0));
  const colTotals = t[0]!.map((_, j) => t.reduce((s, row) => s + row[j]!, 0));
  const n = rowTotals.reduce((s, v) => s + v, 0);
  const expected = new Float64Array(r * c);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < c; j++) expected[i * c + j] = (rowTotals[i]! * colTotals[j]!) / n;
  const rowOf = new Int32Array(n);
  const colOf = new Int32Array(n);
  for (let i = 0, k = 0; i < r; i++) for (let m = 0; m < rowTotals[i]!; m++) rowOf[k++] = i;
  for (let j = 0, k = 0; j < c; j++) for (let m = 0; m < colTotals[j]!; m++) colOf[k++] = j;
  const x2 = (counts: ArrayLike<number>): number => {
    let s = 0;
    for (let k = 0; k < r * c; k++) {
      const d = counts[k]! - expected[k]!;
      s += (d * d) / expected[k]!;
    }
    return s;
  };
  const statistic = x2(t.flat());
  // Ties in floating point: count X²sim within a relative 1e-7 of X²obs as "at least as extreme" (R does the same).
  const threshold = statistic * (1 - 1e-7);
  const rng = seededRandom(options.seed);
  const counts = new Int32Array(r * c);
  let extreme = 0;
  for (let b = 0; b < resamples; b++) {
    for (let k = n - 1; k > 0; k--) {
      const j = rng.int(k + 1);
      const tmp = colOf[k]!;
      colOf[k] = colOf[j]!;
      colOf[j] = tmp;
    }
    counts.fill(0);
    for (let k = 0; k < n; k++) counts[rowOf[k]! * c + colOf[k]!]! += 1;
    if (x2(counts) >= threshold) extreme += 1;
  }
  return { method: 'monte-carlo', statistic, p: (1 + extreme) / (resamples + 1), resamples };
}

/** Minimum expected count for the chi-square approximation (Cochran's rule as usually applied). */
export const MIN_EXPECTED = 5;

/**
 * Shot-type (or any categorical) distribution of a model vs a reference: a 2×k table over the union of
 * categories. Chi-square when every expected count (of the non-empty columns) is ≥ 5; else Fisher's
 * exact test for a 2×2 table, or the seeded Monte-Carlo permutation test for more categories. The
 * statistic is Pearson's X² in every case. Throws INPUT_INVALID for counts that are not non-negative integers.
 */
export function shotTypeTest(
  counts: Readonly<Record<string, number>>,
  refCounts: Readonly<Record<string, number>>,
  options: { seed: number; resamples?: number },
): ShotTestResult {
  const keys = [...new Set([...Object.keys(counts), ...Object.keys(refCounts)])];
  const t = dropEmpty([keys.map((k) => counts[k] ?? 0), keys.map((k) => refCounts[k] ?? 0)]);
  if (t.length < 2 || (t[0]?.length ?? 0) < 2) return { method: 'chi-square', statistic: 0, p: 1 };
  const rows = t.map((row) => row.reduce((s, v) => s + v, 0));
  const n = rows[0]! + rows[1]!;
  const cols = t[0]!.map((_, j) => t[0]![j]! + t[1]![j]!);
  const minExpected = Math.min(...rows.flatMap((rt) => cols.map((ct) => (rt * ct) / n)));
  const statistic = pearson(t);
  if (minExpected >= MIN_EXPECTED) return { method: 'chi-square', statistic, p: chiSquareTest(t).p };
  if (cols.length === 2) return { method: 'fisher-exact', statistic, p: fisherExact(t).p };
  const mc = monteCarloTest(t, options);
  return { method: 'monte-carlo', statistic, p: mc.p };
}
