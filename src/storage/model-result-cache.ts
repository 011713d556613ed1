import type { Keyv } from 'keyv';
import { z } from 'zod';
import type { ModelResultCache } from '../analysis/audit/model-results.ts';
import { type MemoryTextCache, memoryTextCache } from './memory-text-cache.ts';
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
export function memoryModelResultCache(): ModelResultCache & MemoryTextCache {
  return memoryTextCache();
}
