import type { Keyv } from 'keyv';
import { z } from 'zod';
import type { EmbeddingCache } from '../analysis/clip/embedding-cache.ts';
import { typedStore } from './typed-store.ts';

// Float32 little-endian bytes as base64: compact, and survives every Keyv serialiser (JSON included).
const storedEmbeddingSchema = z.object({
  dim: z.number().int().positive(),
  b64: z.string(),
});

/** Keyv-backed {@link EmbeddingCache}; entries are versioned and validated when read back. */
export function keyvEmbeddingCache(keyv: Keyv, options: { ttlMs?: number } = {}): EmbeddingCache {
  const store = typedStore(keyv, storedEmbeddingSchema, 1);
  return {
    async get(key) {
      const value = await store.get(key);
      if (!value) return undefined;
      const bytes = Buffer.from(value.b64, 'base64');
      if (bytes.length !== value.dim * 4) return undefined;
      const out = new Float32Array(value.dim);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    },
    async set(key, embedding) {
      const b64 = Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength).toString(
        'base64',
      );
      await store.set(key, { dim: embedding.length, b64 }, options.ttlMs);
    },
  };
}
