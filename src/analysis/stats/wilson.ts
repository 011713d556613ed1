import { AppError, ErrorCode } from '../errors.ts';

/** Two-sided 95% normal quantile. */
export const Z_95 = 1.959963984540054;

export interface ProportionInterval {
  rate: number;
  low: number;
  high: number;
}

/**
 * Wilson score interval for `successes` out of `n` (Wilson 1927; Newcombe 1998, method 3).
 * Returns null when n = 0. Throws INPUT_INVALID for counts that are not integers with 0 ≤ successes ≤ n.
 */
export function wilsonInterval(successes: number, n: number, z: number = Z_95): ProportionInterval | null {
  if (!Number.isInteger(successes) || !Number.isInteger(n) || successes < 0 || successes > n || !(z > 0)) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'Wilson interval needs integer counts with 0 ≤ x ≤ n', {
      details: { successes, n, z },
    });
  }
  if (n === 0) return null;
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  return { rate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}
