import { AppError, ErrorCode } from '../errors.ts';

/**
 * Two-sample rank tests, effect size, multiple-testing correction and a histogram divergence, written to
 * agree with scipy (scipy.stats.mannwhitneyu, scipy.stats.false_discovery_control,
 * scipy.spatial.distance.jensenshannon); tests/fixtures/stats/make_reference.py holds the references.
 */

type Sample = readonly number[] | Float64Array;

function invalid(message: string, details: Record<string, unknown>): AppError {
  return new AppError(ErrorCode.INPUT_INVALID, message, { details });
}

function checkSample(x: Sample, name: string): void {
  if (x.length === 0) throw invalid(`sample ${name} is empty`, { name });
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw invalid(`sample ${name} holds a non-finite value`, { name, i });
  }
}

/** erfc(x) for x ≥ 0 to ~1e-13 relative: the positive-term erf series below 2.5, Lentz's continued fraction above. */
function erfcNonNegative(x: number): number {
  if (x < 2.5) {
    // erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)) (Abramowitz & Stegun 7.1.6): no cancellation.
    let term = x;
    let sum = x;
    const x2 = 2 * x * x;
    for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
      term *= x2 / (2 * n + 1);
      sum += term;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))) (A&S 7.1.14), modified Lentz.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/** Upper tail of the standard normal, P(Z > z). */
export function normalSf(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  if (z === Number.POSITIVE_INFINITY) return 0;
  if (z === Number.NEGATIVE_INFINITY) return 1;
  const e = erfcNonNegative(Math.abs(z) / Math.SQRT2) / 2;
  return z >= 0 ? e : 1 - e;
}

/** Average ranks (1-based, ties share their mean rank) of the concatenation a ‖ b, and the tie term Σ(t³ − t). */
function rankConcat(a: Sample, b: Sample): { ranks: Float64Array; tieTerm: number } {
  const n1 = a.length;
  const n = n1 + b.length;
  const values = new Float64Array(n);
  for (let i = 0; i < n1; i++) values[i] = a[i]!;
  for (let i = n1; i < n; i++) values[i] = b[i - n1]!;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((i, j) => values[i]! - values[j]!);
  const ranks = new Float64Array(n);
  let tieTerm = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && values[order[end]!] === values[order[start]!]) end++;
    const rank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]!] = rank;
    const t = end - start;
    tieTerm += t * t * t - t;
    start = end;
  }
  return { ranks, tieTerm };
}

/** U statistic of the first sample: R₁ − n₁(n₁ + 1)/2, ties counted one half. */
function uStatistic(a: Sample, b: Sample): { u1: number; tieTerm: number } {
  const { ranks, tieTerm } = rankConcat(a, b);
  let r1 = 0;
  for (let i = 0; i < a.length; i++) r1 += ranks[i]!;
  return { u1: r1 - (a.length * (a.length + 1)) / 2, tieTerm };
}

/**
 * P(U ≥ k) under H0 (no ties) for sample sizes m and n, from the recursion of Mann & Whitney (1947)
 * on probabilities: p(m, n, k) = m/(m+n)·p(m−1, n, k−n) + n/(m+n)·p(m, n−1, k) — all terms positive, no
 * overflow. O(m·n·m·n) time: fine for the sizes where an exact test is chosen.
 */
export function mannWhitneyExactSf(k: number, m: number, n: number): number {
  if (m > n) return mannWhitneyExactSf(k, n, m);
  if (k <= 0) return 1;
  if (k > m * n) return 0;
  // prev[j] = distribution for (i − 1, j); cur[j] for (i, j).
  let prev: Float64Array[] = [];
  for (let j = 0; j <= n; j++) prev.push(Float64Array.of(1));
  for (let i = 1; i <= m; i++) {
    const cur: Float64Array[] = [Float64Array.of(1)];
    for (let j = 1; j <= n; j++) {
      const dist = new Float64Array(i * j + 1);
      const left = prev[j]!; // (i − 1, j): shifted by j
      const down = cur[j - 1]!; // (i, j − 1)
      const wl = i / (i + j);
      const wd = j / (i + j);
      for (let t = 0; t < left.length; t++) dist[t + j]! += wl * left[t]!;
      for (let t = 0; t < down.length; t++) dist[t]! += wd * down[t]!;
      cur.push(dist);
    }
    prev = cur;
  }
  const dist = prev[n]!;
  // Sum the smaller tail: P(U ≥ k) = P(U ≤ mn − k) by symmetry (scipy sums from the left too).
  let s = 0;
  for (let t = 0; t <= m * n - k; t++) s += dist[t]!;
  return Math.min(1, s);
}

export interface MannWhitneyResult {
  /** U of the first sample (scipy ≥ 1.7): #{a > b} + ½·#{a = b}. */
  u: number;
  /** Standardised U of the first sample, tie-corrected, with the continuity correction toward 0 (0 when every value is tied). */
  z: number;
  /** Two-sided p-value. */
  p: number;
  n1: number;
  n2: number;
  method: 'exact' | 'normal';
}

export interface MannWhitneyOptions {
  /**
   * 'auto' as scipy.stats.mannwhitneyu: the normal approximation when both samples have more than 8
   * values or any value is tied, else the exact distribution. Default 'auto'.
   */
  method?: 'auto' | 'exact' | 'asymptotic';
  /** Continuity correction of the normal approximation (scipy's use_continuity). Default true. */
  continuity?: boolean;
}

/**
 * Two-sided Mann–Whitney U test, as scipy.stats.mannwhitneyu(a, b, alternative='two-sided'): exact
 * p = 2·P(U ≥ max(U₁, U₂)) (U truncated to an integer, as scipy does when ties are forced exact), or
 * normal p = 2·sf((max(U₁, U₂) − n₁n₂/2 − ½) / σ) with σ² = n₁n₂/12·((n + 1) − Σ(t³ − t)/(n(n − 1))),
 * clipped to [0, 1]; all values tied gives p = 1. Throws INPUT_INVALID for an empty sample or a
 * non-finite value.
 */
export function mannWhitneyU(a: Sample, b: Sample, options: MannWhitneyOptions = {}): MannWhitneyResult {
  checkSample(a, 'a');
  checkSample(b, 'b');
  const n1 = a.length;
  const n2 = b.length;
  const n = n1 + n2;
  const { u1, tieTerm } = uStatistic(a, b);
  const requested = options.method ?? 'auto';
  const continuity = options.continuity ?? true;
  const exact = requested === 'exact' || (requested === 'auto' && (n1 <= 8 || n2 <= 8) && tieTerm === 0);
  const mu = (n1 * n2) / 2;
  const sigma = n > 1 ? Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)))) : 0;
  const dev = u1 - mu;
  const corrected = continuity ? Math.max(Math.abs(dev) - 0.5, 0) : Math.abs(dev);
  const z = sigma > 0 ? (Math.sign(dev) * corrected) / sigma : 0;
  const uMax = Math.max(u1, n1 * n2 - u1);
  let p: number;
  if (exact) {
    p = 2 * mannWhitneyExactSf(Math.trunc(uMax), n1, n2);
  } else if (sigma > 0) {
    p = 2 * normalSf((uMax - mu - (continuity ? 0.5 : 0)) / sigma);
  } else {
    p = 1;
  }
  return { u: u1, z, p: Math.min(1, Math.max(0, p)), n1, n2, method: exact ? 'exact' : 'normal' };
}

/**
 * Cliff's delta of a vs b: (#{a > b} − #{a < b}) / (n₁·n₂) in [−1, 1], from ranks in O(n log n)
 * (δ = 2U₁/(n₁n₂) − 1). Throws INPUT_INVALID for an empty sample or a non-finite value.
 */
export function cliffsDelta(a: Sample, b: Sample): number {
  checkSample(a, 'a');
  checkSample(b, 'b');
  const { u1 } = uStatistic(a, b);
  return (2 * u1) / (a.length * b.length) - 1;
}

/**
 * Benjamini–Hochberg adjusted p-values (q-values), as statsmodels' fdr_bh and
 * scipy.stats.false_discovery_control(method='bh'): q₍ᵢ₎ = min over j ≥ i of p₍ⱼ₎·m/j, capped at 1, where
 * m counts the non-null p-values. Nulls (tests that did not run) pass through and do not count.
 * Throws INPUT_INVALID for a p-value outside [0, 1] or NaN.
 */
export function benjaminiHochberg(p: readonly (number | null)[]): (number | null)[] {
  const present: number[] = [];
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (v === null || v === undefined) continue;
    if (!(v >= 0 && v <= 1)) throw invalid('p-values must lie in [0, 1]', { index: i, value: v });
    present.push(i);
  }
  const out: (number | null)[] = p.map(() => null);
  const m = present.length;
  present.sort((i, j) => (p[i] as number) - (p[j] as number));
  let running = 1;
  for (let r = m - 1; r >= 0; r--) {
    const i = present[r]!;
    running = Math.min(running, ((p[i] as number) * m) / (r + 1));
    out[i] = running;
  }
  return out;
}

/**
 * Jensen–Shannon divergence of two histograms in bits, in [0, 1]: ½·KL(P‖M) + ½·KL(Q‖M), M = (P + Q)/2.
 * Note: scipy.spatial.distance.jensenshannon(p, q, base=2) returns the *distance*, the square root of
 * this. Inputs are normalised here; empty bins contribute 0. Throws INPUT_INVALID for different
 * lengths, a negative or non-finite bin, or a histogram that sums to 0.
 */
export function jensenShannon(p: Sample, q: Sample): number {
  if (p.length !== q.length || p.length === 0) {
    throw invalid('histograms must have the same, non-zero length', { p: p.length, q: q.length });
  }
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]!;
    const b = q[i]!;
    if (!(a >= 0 && b >= 0 && Number.isFinite(a) && Number.isFinite(b))) {
      throw invalid('histogram bins must be finite and non-negative', { index: i, p: a, q: b });
    }
    sp += a;
    sq += b;
  }
  if (sp === 0 || sq === 0) throw invalid('a histogram sums to 0', { sumP: sp, sumQ: sq });
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]! / sp;
    const b = q[i]! / sq;
    const m = (a + b) / 2;
    if (a > 0) js += a * Math.log2(a / m);
    if (b > 0) js += b * Math.log2(b / m);
  }
  return Math.min(1, Math.max(0, js / 2));
}
