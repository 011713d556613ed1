/** In-process text cache (tests, runs without a store) with read, hit and write counts. */
export interface MemoryTextCache {
  stats: { gets: number; hits: number; sets: number };
  get(key: string): Promise<string | undefined>;
  getMany(keys: readonly string[]): Promise<Array<string | undefined>>;
  set(key: string, value: string): Promise<void>;
}

/** Serves the bias-result and the per-model result caches alike: each key read counts as one get. */
export function memoryTextCache(): MemoryTextCache {
  const map = new Map<string, string>();
  const stats = { gets: 0, hits: 0, sets: 0 };
  const read = (key: string): string | undefined => {
    stats.gets += 1;
    const v = map.get(key);
    if (v !== undefined) stats.hits += 1;
    return v;
  };
  return {
    stats,
    get: async (key) => read(key),
    getMany: async (keys) => keys.map(read),
    async set(key, value) {
      stats.sets += 1;
      map.set(key, value);
    },
  };
}
