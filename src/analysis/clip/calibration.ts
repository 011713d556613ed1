import { AppError, ErrorCode } from '../errors.ts';
import { empiricalPValue, quantile } from '../stats/quantile.ts';
import { type Random, sampleIndices } from '../stats/random.ts';
import { cosine } from './scorer.ts';

/** Image–prompt similarity over 77-token windows: the max decides, the mean is reported. */
export function windowSimilarity(
  image: Float32Array,
  windows: readonly Float32Array[],
): { max: number; mean: number } {
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const w of windows) {
    const c = cosine(image, w);
    if (c > max) max = c;
    sum += c;
  }
  return { max, mean: windows.length ? sum / windows.length : Number.NaN };
}

export interface CalibrationOptions {
  /** Flag when the own-prompt score is not above the null's (1 − alpha) quantile (default 0.05). */
  alpha: number;
  /** Shuffled prompts per image (default 99). */
  nullK: number;
  /** Fewer distinct other prompts than this: no calibrated decision for that image (default 19). */
  minNull: number;
}

export interface CalibratedDecision {
  /** Own-prompt score (max over windows). */
  score: number;
  nullQuantile: number | null;
  pValue: number | null;
  lowMatch: boolean | null;
  nullSize: number;
}

export function checkCalibrationOptions(o: CalibrationOptions): CalibrationOptions {
  if (!(o.alpha > 0 && o.alpha < 1)) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'alpha must be in (0, 1)', {
      details: { alpha: o.alpha },
      userFault: true,
      userMessage: 'The CLIP mismatch alpha must be between 0 and 1.',
    });
  }
  for (const [name, v] of [
    ['nullK', o.nullK],
    ['minNull', o.minNull],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 10_000) {
      throw new AppError(ErrorCode.INPUT_INVALID, `${name} must be an integer in 1..10000`, {
        details: { [name]: v },
        userFault: true,
        userMessage: `${name} must be a whole number between 1 and 10000.`,
      });
    }
  }
  return o;
}

/**
 * Calibrated mismatch decision for one image: its similarity to `nullK` prompts drawn (seeded) from the
 * other distinct prompts of the audit forms a null distribution; the image is flagged when its own
 * score is not above the null's (1 − alpha) quantile, and the empirical p-value is recorded.
 * `otherPrompts` may be a view (only `length` and `at` are used): the draw costs O(nullK), not O(prompts).
 */
export function calibrate(
  image: Float32Array,
  ownWindows: readonly Float32Array[],
  otherPrompts: Pick<ReadonlyArray<readonly Float32Array[]>, 'length' | 'at'>,
  options: CalibrationOptions,
  rng: Random,
): CalibratedDecision {
  const score = windowSimilarity(image, ownWindows).max;
  if (otherPrompts.length < options.minNull) {
    return { score, nullQuantile: null, pValue: null, lowMatch: null, nullSize: otherPrompts.length };
  }
  const picks = sampleIndices(otherPrompts.length, options.nullK, rng);
  const nullScores = picks.map((i) => windowSimilarity(image, otherPrompts.at(i)!).max);
  const q = quantile(nullScores, 1 - options.alpha);
  return {
    score,
    nullQuantile: q,
    pValue: empiricalPValue(score, nullScores),
    lowMatch: !(score > q),
    nullSize: nullScores.length,
  };
}
