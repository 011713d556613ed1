import type { Keyv } from 'keyv';
import { z } from 'zod';
import type { BiasResultCache } from '../analysis/bias/result-cache.ts';
import { typedStore } from './typed-store.ts';

// The envelope is checked here; the per-model results themselves by the analysis when it decodes them.
const storedBiasSchema = z.object({ results: z.string() });

/** Keyv-backed {@link BiasResultCache}; entries are versioned and validated when read back. Throws STORAGE_IO. */
export function keyvBiasResultCache(keyv: Keyv, options: { ttlMs?: number } = {}): BiasResultCache {
  const store = typedStore(keyv, storedBiasSchema, 1);
  return {
    async get(key) {
      return (await store.get(key))?.results;
    },
    async set(key, value) {
      await store.set(key, { results: value }, options.ttlMs);
    },
  };
}

/** In-process cache (tests, runs without a store); counts reads, hits and writes. */
export function memoryBiasResultCache(): BiasResultCache & {
  stats: { gets: number; hits: number; sets: number };
} {
  const map = new Map<string, string>();
  const stats = { gets: 0, hits: 0, sets: 0 };
  return {
    stats,
    async get(key) {
      stats.gets += 1;
      const v = map.get(key);
      if (v !== undefined) stats.hits += 1;
      return v;
    },
    async set(key, value) {
      stats.sets += 1;
      map.set(key, value);
    },
  };
}
