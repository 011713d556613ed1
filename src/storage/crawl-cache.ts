import { z } from 'zod';
import type { ResponseCache } from '../analysis/civitai/client.ts';
import { ModelRecord, type RecordCache } from '../analysis/civitai/record.ts';
import type { StorageBackend } from './backend.ts';
import { typedStore } from './typed-store.ts';

export type { RecordCache };

/** Bump when the cached shapes change: old entries become invisible instead of wrong. */
const RAW_VERSION = 1;
// 3: records carry `notes`, and records a shutdown degraded (before the interrupt fix) are dropped.
const RECORD_VERSION = 3;

/**
 * Raw Civitai responses, keyed by request URL, kept for `ttlMs`. A re-run inside the TTL replays
 * listing pages and model data from here without touching the network.
 */
export function createResponseCache(storage: StorageBackend, ttlMs: number): ResponseCache {
  const store = typedStore(storage.keyv('civitai-raw'), z.unknown(), RAW_VERSION);
  return {
    get: (key) => store.get(key),
    set: (key, value) => store.set(key, value, ttlMs),
  };
}

export function createRecordCache(storage: StorageBackend, ttlMs: number): RecordCache {
  const store = typedStore(storage.keyv('model-records'), ModelRecord, RECORD_VERSION);
  return {
    async get(modelId, fingerprint, variant) {
      const record = await store.get(`${modelId}:${variant}`);
      return record && record.fingerprint === fingerprint ? record : undefined;
    },
    async set(record, variant) {
      await store.set(`${record.id}:${variant}`, record, ttlMs);
    },
  };
}
