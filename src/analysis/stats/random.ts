/** A seeded PRNG (mulberry32): deterministic shuffles and samples for reproducible audits and fixtures. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    normal: () => {
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
}

/**
 * Fisher–Yates sample of `k` distinct indices from [0, n) (all of them, shuffled, when k ≥ n). The
 * swapped positions live in a sparse map, so a draw costs O(min(k, n)) time and memory whatever `n`
 * is; the result is exactly the dense shuffle's (same swaps, same generator calls).
 */
export function sampleIndices(n: number, k: number, rng: Random): number[] {
  const m = Math.max(0, Math.min(k, n));
  const swapped = new Map<number, number>();
  const at = (i: number): number => swapped.get(i) ?? i;
  const out = new Array<number>(m);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(n - i);
    const picked = at(j);
    swapped.set(j, at(i));
    out[i] = picked;
  }
  return out;
}
