import { AppError, ErrorCode } from '../errors.ts';
import { type Random, seededRandom } from './random.ts';

/**
 * Seeded nonparametric bootstrap (Efron & Tibshirani 1993, ch. 13: percentile intervals) and Hedges' g.
 * Every draw comes from {@link seededRandom}, so the same inputs and seed give the same interval
 * bit for bit. Resampling reuses one typed buffer per sample: no allocation per draw.
 */

/** A point estimate with its percentile bootstrap interval; the same shape as `IntervalEvidence`. */
export interface Interval {
  estimate: number;
  low: number;
  high: number;
  level: number;
  resamples: number;
}

export interface BootstrapOptions {
  /** Seed of the PRNG (an unsigned 32-bit integer; other integers are reduced modulo 2³²). */
  seed: number;
  /** Number of bootstrap replicates; at least {@link MIN_RESAMPLES}. Default 2000. */
  resamples?: number;
  /** Two-sided coverage in (0, 1). Default 0.95. */
  level?: number;
}

export const MIN_RESAMPLES = 1000;
export const DEFAULT_RESAMPLES = 2000;

type Sample = readonly number[] | Float64Array;

function invalid(message: string, details: Record<string, unknown>): AppError {
  return new AppError(ErrorCode.INPUT_INVALID, message, { details });
}

function checkOptions(opts: BootstrapOptions): { rng: Random; resamples: number; level: number } {
  const resamples = opts.resamples ?? DEFAULT_RESAMPLES;
  const level = opts.level ?? 0.95;
  if (!Number.isSafeInteger(opts.seed))
    throw invalid('bootstrap seed must be an integer', { seed: opts.seed });
  if (!Number.isSafeInteger(resamples) || resamples < MIN_RESAMPLES) {
    throw invalid(`bootstrap needs at least ${MIN_RESAMPLES} resamples`, { resamples });
  }
  if (!(level > 0 && level < 1)) throw invalid('bootstrap level must be in (0, 1)', { level });
  return { rng: seededRandom(opts.seed), resamples, level };
}

function checkSample(x: Sample, name: string): void {
  if (x.length === 0) throw invalid(`bootstrap sample ${name} is empty`, { name });
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]))
      throw invalid(`bootstrap sample ${name} holds a non-finite value`, { name, i });
  }
}

/** numpy's default percentile (linear interpolation, type 7) of an already sorted array. */
function sortedQuantile(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

function percentileInterval(estimate: number, stats: Float64Array, level: number): Interval {
  stats.sort();
  const alpha = (1 - level) / 2;
  return {
    estimate,
    low: sortedQuantile(stats, alpha),
    high: sortedQuantile(stats, 1 - alpha),
    level,
    resamples: stats.length,
  };
}

function mean(x: Sample): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s / x.length;
}

/** Mean of one resample of `x` drawn with replacement (no allocation). */
function resampledMean(x: Sample, rng: Random): number {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[rng.int(n)]!;
  return s / n;
}

/**
 * Generic percentile bootstrap over resampled indices: `statistic` gets an index array (reused between
 * draws: read it, do not keep it) of `n` indices drawn with replacement from [0, n); the estimate is the
 * statistic on the identity indices. Use it when a statistic reads several columns of the same rows.
 * Throws INPUT_INVALID for n < 1, bad options, or a non-finite estimate.
 */
export function bootstrapIndexCi(
  n: number,
  statistic: (idx: Uint32Array) => number,
  opts: BootstrapOptions,
): Interval {
  const { rng, resamples, level } = checkOptions(opts);
  if (!Number.isSafeInteger(n) || n < 1) throw invalid('bootstrap needs at least one row', { n });
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  const estimate = statistic(idx);
  if (!Number.isFinite(estimate))
    throw invalid('bootstrap statistic is not finite on the sample', { estimate });
  const stats = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    stats[r] = statistic(idx);
  }
  return percentileInterval(estimate, stats, level);
}

/**
 * Generic percentile bootstrap of a one-sample statistic: `statistic` gets a resample of `samples`
 * (one Float64Array reused between draws: read it, do not keep it). Throws INPUT_INVALID for an empty
 * sample, non-finite values or bad options.
 */
export function bootstrapCi(
  samples: Sample,
  statistic: (resample: Float64Array) => number,
  opts: BootstrapOptions,
): Interval {
  checkSample(samples, 'a');
  const buffer = new Float64Array(samples.length);
  return bootstrapIndexCi(
    samples.length,
    (idx) => {
      for (let i = 0; i < idx.length; i++) buffer[i] = samples[idx[i]!]!;
      return statistic(buffer);
    },
    opts,
  );
}

/** Percentile bootstrap interval of the mean. Throws INPUT_INVALID (empty / non-finite sample, bad options). */
export function bootstrapMeanCi(a: Sample, opts: BootstrapOptions): Interval {
  const { rng, resamples, level } = checkOptions(opts);
  checkSample(a, 'a');
  const stats = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) stats[r] = resampledMean(a, rng);
  return percentileInterval(mean(a), stats, level);
}

/**
 * Percentile bootstrap interval of mean(a) − mean(b), a and b resampled independently (in each
 * replicate a's draws come first, then b's). Throws INPUT_INVALID (empty / non-finite sample, bad options).
 */
export function bootstrapMeanDiffCi(a: Sample, b: Sample, opts: BootstrapOptions): Interval {
  const { rng, resamples, level } = checkOptions(opts);
  checkSample(a, 'a');
  checkSample(b, 'b');
  const stats = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) stats[r] = resampledMean(a, rng) - resampledMean(b, rng);
  return percentileInterval(mean(a) - mean(b), stats, level);
}

/**
 * Percentile bootstrap interval of (mean(a) − mean(b)) / mean(b) × 100, the deviation of a from b in
 * percent; a and b resampled independently as in {@link bootstrapMeanDiffCi}. Throws INPUT_INVALID for
 * empty / non-finite samples, bad options, or mean(b) = 0. A replicate whose mean(b) is 0 (possible
 * only when b holds zeros) counts as ±Infinity (0 when mean(a) is 0 too), which the percentiles then report honestly.
 */
export function bootstrapRatioPctCi(a: Sample, b: Sample, opts: BootstrapOptions): Interval {
  const { rng, resamples, level } = checkOptions(opts);
  checkSample(a, 'a');
  checkSample(b, 'b');
  const mb = mean(b);
  if (mb === 0) throw invalid('ratio bootstrap needs a non-zero reference mean', { meanB: mb });
  const stats = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    const ra = resampledMean(a, rng);
    const rb = resampledMean(b, rng);
    stats[r] = rb === 0 ? (ra === 0 ? 0 : Math.sign(ra) * Number.POSITIVE_INFINITY) : ((ra - rb) / rb) * 100;
  }
  return percentileInterval(((mean(a) - mb) / mb) * 100, stats, level);
}

/**
 * Hedges' g of a vs b: (mean(a) − mean(b)) / pooled SD (ddof 1 per group), times the small-sample
 * correction J = 1 − 3 / (4·df − 1), df = n1 + n2 − 2 (Hedges 1981; Hedges & Olkin 1985, eq. 5.10).
 * Both samples constant: 0 when their means are equal, ±Infinity otherwise. Throws INPUT_INVALID for
 * an empty sample, n1 + n2 < 3 or non-finite values.
 */
export function hedgesG(a: Sample, b: Sample): number {
  checkSample(a, 'a');
  checkSample(b, 'b');
  const n1 = a.length;
  const n2 = b.length;
  const df = n1 + n2 - 2;
  if (df < 1) throw invalid("Hedges' g needs at least three values in all", { n1, n2 });
  const ma = mean(a);
  const mb = mean(b);
  let ss = 0;
  for (let i = 0; i < n1; i++) ss += (a[i]! - ma) ** 2;
  for (let i = 0; i < n2; i++) ss += (b[i]! - mb) ** 2;
  const pooled = Math.sqrt(ss / df);
  const diff = ma - mb;
  if (pooled === 0) return diff === 0 ? 0 : diff > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return (diff / pooled) * (1 - 3 / (4 * df - 1));
}
