import { AppError, ErrorCode } from '../errors.ts';

/**
 * Sample quantile with linear interpolation between order statistics (Hyndman & Fan type 7, the
 * default of R and numpy). Throws INPUT_INVALID for an empty sample or q outside [0, 1].
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0 || !(q >= 0 && q <= 1)) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'quantile needs a non-empty sample and 0 ≤ q ≤ 1', {
      details: { n: values.length, q },
    });
  }
  const sorted = [...values].sort((a, b) => a - b);
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Empirical upper-tail p-value with the +1 correction: (1 + #{null ≥ observed}) / (K + 1). */
export function empiricalPValue(observed: number, nullSample: readonly number[]): number {
  let atLeast = 0;
  for (const v of nullSample) if (v >= observed) atLeast += 1;
  return (1 + atLeast) / (nullSample.length + 1);
}
