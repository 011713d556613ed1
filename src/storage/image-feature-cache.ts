import { createHash } from 'node:crypto';
import type { Keyv } from 'keyv';
import { z } from 'zod';
import type { ImageFeatureCache } from '../analysis/images/features.ts';
import { typedStore } from './typed-store.ts';

// The envelope is checked here; the value itself is checked by its extractor's schema in the pass.
const storedFeatureSchema = z.object({
  extractor: z.string(),
  version: z.string(),
  value: z.unknown(),
});

const urlHash = (url: string): string => createHash('sha256').update(url, 'utf8').digest('hex');

/** Key of one extractor result: extractor name and version + hash of the image URL as requested. */
export function imageFeatureKey(url: string, extractor: string, version: string): string {
  return `${extractor}:${version}:${urlHash(url)}`;
}

/**
 * Keyv-backed {@link ImageFeatureCache}: entries are versioned and validated when read back (an entry
 * of another extractor or version under the same key reads as missing). Throws STORAGE_IO.
 */
export function keyvImageFeatureCache(keyv: Keyv, options: { ttlMs?: number } = {}): ImageFeatureCache {
  const store = typedStore(keyv, storedFeatureSchema, 1);
  return {
    async get(url, extractor, version) {
      const entry = await store.get(imageFeatureKey(url, extractor, version));
      if (!entry || entry.extractor !== extractor || entry.version !== version) return undefined;
      return entry.value;
    },
    async set(url, extractor, version, value) {
      await store.set(imageFeatureKey(url, extractor, version), { extractor, version, value }, options.ttlMs);
    },
  };
}

/** In-process cache (tests, runs without a store); counts reads and writes. */
export function memoryImageFeatureCache(): ImageFeatureCache & { size(): number } {
  const map = new Map<string, unknown>();
  return {
    get: async (url, extractor, version) =>
      structuredClone(map.get(imageFeatureKey(url, extractor, version))),
    set: async (url, extractor, version, value) => {
      map.set(imageFeatureKey(url, extractor, version), structuredClone(value));
    },
    size: () => map.size,
  };
}
