import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { createRecordCache, createResponseCache } from '../../src/storage/crawl-cache.ts';
import { typedStore } from '../../src/storage/typed-store.ts';
import { forEachBackend } from '../support/storage-contract.ts';

const Item = z.object({ n: z.number(), tags: z.array(z.string()) });

forEachBackend('typed store contract', (storage) => {
  test('set then get returns an equal value; has/delete behave', async () => {
    const s = typedStore(storage().keyv(`t-${Date.now()}-${Math.random()}`), Item, 1);
    assert.equal(await s.get('a'), undefined);
    await s.set('a', { n: 1, tags: ['x', 'ü'] });
    assert.deepEqual(await s.get('a'), { n: 1, tags: ['x', 'ü'] });
    assert.equal(await s.has('a'), true);
    assert.equal(await s.delete('a'), true);
    assert.equal(await s.has('a'), false);
    assert.equal(await s.get('a'), undefined);
  });

  test('namespaces do not see each other', async () => {
    const ns = `ns-${Date.now()}-${Math.random()}`;
    const a = typedStore(storage().keyv(`${ns}-a`), Item, 1);
    const b = typedStore(storage().keyv(`${ns}-b`), Item, 1);
    await a.set('k', { n: 1, tags: [] });
    assert.equal(await b.get('k'), undefined);
  });

  test('a schema version bump hides old entries', async () => {
    const ns = `ver-${Date.now()}-${Math.random()}`;
    await typedStore(storage().keyv(ns), Item, 1).set('k', { n: 1, tags: [] });
    assert.equal(await typedStore(storage().keyv(ns), Item, 2).get('k'), undefined);
  });

  test('a stored value that no longer validates is treated as missing and removed', async () => {
    const ns = `bad-${Date.now()}-${Math.random()}`;
    await storage().keyv(ns).set('v1:k', { n: 'not a number' });
    const s = typedStore(storage().keyv(ns), Item, 1);
    assert.equal(await s.get('k'), undefined);
    assert.equal(await storage().keyv(ns).get('v1:k'), undefined);
  });

  test('TTL expiry', async () => {
    const s = typedStore(storage().keyv(`ttl-${Date.now()}-${Math.random()}`), Item, 1);
    // A TTL long enough that a loaded machine still reads the entry before it expires.
    await s.set('k', { n: 1, tags: [] }, 1_000);
    assert.ok(await s.get('k'));
    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal(await s.get('k'), undefined);
  });

  test('response and record caches round-trip', async () => {
    const raw = createResponseCache(storage(), 60_000);
    await raw.set(`https://x/${Math.random()}`, { items: [1] });
    const key = `https://x/k-${Date.now()}`;
    await raw.set(key, { items: [2], metadata: { nextCursor: 'a|b' } });
    assert.deepEqual(await raw.get(key), { items: [2], metadata: { nextCursor: 'a|b' } });
    const records = createRecordCache(storage(), 60_000);
    assert.equal(await records.get(1, 'fp', 'variant'), undefined);
  });
});

test('a store that cannot write surfaces STORAGE_IO instead of losing data silently', async () => {
  const { mkdtempSync, mkdirSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { openStorage } = await import('../../src/storage/backend.ts');
  const dir = mkdtempSync(join(tmpdir(), 'loralens-bad-'));
  const target = join(dir, 'is-a-directory.sqlite');
  mkdirSync(target);
  const storage = openStorage(`sqlite://${target}`);
  const s = typedStore(storage.keyv('x'), Item, 1);
  await assert.rejects(
    s.set('k', { n: 1, tags: [] }),
    (e: Error & { code?: string }) => e.code === 'STORAGE_IO',
  );
  await storage.close();
});
