import { createHash } from 'node:crypto';

/** Embeddings stored between audits (a Keyv adapter lives in src/storage/embedding-cache.ts). */
export interface EmbeddingCache {
  get(key: string): Promise<Float32Array | undefined>;
  set(key: string, value: Float32Array): Promise<void>;
}

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

/** Key of an image embedding: hash of the image URL requested (CDN width included) + the CLIP model id. */
export function imageEmbeddingKey(url: string, modelId: string): string {
  return `img:${modelId}:${sha256(url)}`;
}

/** Key of a prompt's window embeddings: hash of the cleaned prompt + the CLIP model id. */
export function textEmbeddingKey(cleanedPrompt: string, modelId: string): string {
  return `txt:${modelId}:${sha256(cleanedPrompt)}`;
}

/** Store a prompt's window embeddings under its {@link textEmbeddingKey}, concatenated in window order. */
export async function setTextEmbedding(
  cache: EmbeddingCache,
  cleanedPrompt: string,
  modelId: string,
  windows: readonly Float32Array[],
): Promise<void> {
  const dim = windows[0]?.length ?? 0;
  const flat = new Float32Array(windows.length * dim);
  for (const [j, w] of windows.entries()) flat.set(w, j * dim);
  await cache.set(textEmbeddingKey(cleanedPrompt, modelId), flat);
}

/** In-process cache, for tests and runs without a store. */
export function memoryEmbeddingCache(): EmbeddingCache & { size(): number } {
  const map = new Map<string, Float32Array>();
  return {
    get: async (key) => map.get(key),
    set: async (key, value) => {
      map.set(key, Float32Array.from(value));
    },
    size: () => map.size,
  };
}
