import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStorage, type StorageBackend } from '../../src/storage/backend.ts';
import { type RedisHandle, startRedis } from './redis-server.ts';
import { needsRedis, type Requirement } from './requirements.ts';

export interface BackendCase {
  name: string;
  /** What the backend needs from the machine (checked when the suite is defined). */
  requires?: () => Requirement;
  open(): Promise<StorageBackend | undefined>;
}

/** memory, sqlite (temp file) and redis (a local redis-server when installed). */
export function storageBackends(): BackendCase[] {
  let redis: RedisHandle | undefined;
  return [
    { name: 'memory', open: async () => openStorage('memory://') },
    {
      name: 'sqlite',
      open: async () =>
        openStorage(`sqlite://${join(mkdtempSync(join(tmpdir(), 'loralens-kv-')), 's.sqlite')}`),
    },
    {
      name: 'redis',
      requires: needsRedis,
      open: async () => {
        redis ??= await startRedis();
        if (!redis) return undefined;
        const storage = openStorage(redis.url);
        const close = storage.close.bind(storage);
        return {
          ...storage,
          keyv: storage.keyv.bind(storage),
          close: async () => {
            await close();
            await redis?.stop();
            redis = undefined;
          },
        };
      },
    },
  ];
}

/**
 * Run `suite` once per backend. A backend that is not installed here (redis-server missing) is
 * one skipped suite with the reason, never silently passed; under CI=true it is a failure.
 */
export function forEachBackend(title: string, suite: (get: () => StorageBackend) => void): void {
  for (const backend of storageBackends()) {
    describe(`${title} [${backend.name}]`, backend.requires?.() ?? {}, () => {
      let storage: StorageBackend | undefined;
      before(async () => {
        storage = await backend.open();
      });
      after(async () => {
        await storage?.close();
      });
      const get = (): StorageBackend => {
        assert.ok(storage, `${backend.name} backend unavailable`);
        return storage;
      };
      test(`${backend.name} backend is available`, () => {
        assert.ok(storage, `${backend.name} backend did not open`);
      });
      suite(get);
    });
  }
}
