import type { Keyv } from 'keyv';
import { z } from 'zod';
import type { ModelResultCache } from '../analysis/audit/model-results.ts';
import { typedStore } from './typed-store.ts';

// The envelope is checked here; the analysis itself by decodeModelAnalysis when it is read.
const storedResultSchema = z.object({ result: z.string() });

/** Keyv-backed {@link ModelResultCache}; entries are versioned and validated when read back. Throws STORAGE_IO. */
export function keyvModelResultCache(keyv: Keyv, options: { ttlMs?: number } = {}): ModelResultCache {
  const store = typedStore(keyv, storedResultSchema, 1);
  return {
    async getMany(keys) {
      return (await store.getMany(keys)).map((entry) => entry?.result);
    },
    async set(key, value) {
      await store.set(key, { result: value }, options.ttlMs);
    },
  };
}

/** In-process cache (tests, runs without a store); counts reads, hits and writes. */
export function memoryModelResultCache(): ModelResultCache & {
  stats: { gets: number; hits: number; sets: number };
} {
  const map = new Map<string, string>();
  const stats = { gets: 0, hits: 0, sets: 0 };
  return {
    stats,
    async getMany(keys) {
      return keys.map((key) => {
        stats.gets += 1;
        const v = map.get(key);
        if (v !== undefined) stats.hits += 1;
        return v;
      });
    },
    async set(key, value) {
      stats.sets += 1;
      map.set(key, value);
    },
  };
}
