import type { Keyv } from 'keyv';
import { z } from 'zod';
import type { BiasResultCache } from '../analysis/bias/result-cache.ts';
import { type MemoryTextCache, memoryTextCache } from './memory-text-cache.ts';
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
export function memoryBiasResultCache(): BiasResultCache & MemoryTextCache {
  return memoryTextCache();
}
