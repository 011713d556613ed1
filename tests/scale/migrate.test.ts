import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ErrorCode, hasCode } from '../../src/analysis/errors.ts';
import { migrateStore } from '../../src/cli/migrate.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { createResponseCache } from '../../src/storage/crawl-cache.ts';
import { createSubscriptionsStore, type Subscription } from '../../src/storage/subscriptions-store.ts';
import type { RedisHandle } from '../support/redis-server.ts';
import { needsRedis } from '../support/requirements.ts';
import { runCliCaptured } from '../support/run-cli.ts';
import { flush, redisForTests } from './support/redis.ts';

const sub = (channelId: string): Subscription => ({
  guildId: '300000000000000001',
  channelId,
  day: 'tue',
  hour: 9,
  timezone: 'UTC',
  n: 5,
  types: ['LORA'],
  locale: 'en-US',
  createdBy: '300000000000000002',
  createdAt: 1_700_000_000_000,
  nextRunAt: 1_800_000_000_000,
  lastRunAt: null,
});

describe('loralens migrate (sqlite ↔ Redis)', needsRedis(), () => {
  let redis: RedisHandle;
  const dir = mkdtempSync(join(tmpdir(), 'loralens-migrate-'));
  const sqliteUrl = `sqlite://${join(dir, 'bot.sqlite')}`;
  before(async () => {
    const handle = await redisForTests();
    assert.ok(handle);
    redis = handle;
    await flush(redis.url);
    const storage = openStorage(sqliteUrl);
    const subs = createSubscriptionsStore(storage);
    await subs.put(sub('400000000000000001'));
    await subs.put(sub('400000000000000002'));
    const cache = createResponseCache(storage, 3_600_000);
    await cache.set('https://civitai.com/api/v1/models/1', { id: 1, name: 'one' });
    // Already expired: not copied.
    await storage.keyv('civitai-raw').set('v1:gone', { x: 1 }, 1);
    await new Promise((r) => setTimeout(r, 20));
    await storage.close();
  });
  after(async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('copies every namespace with its expiry, prints counts, and a second run duplicates nothing', async () => {
    const first = await runCliCaptured(['migrate', '--from', sqliteUrl, '--to', redis.url], {});
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^bot-subscriptions\s+\d+$/m);
    assert.match(first.stdout, /^civitai-raw\s+1 \(1 expired, not copied\)$/m);
    const total = Number(/^total\s+(\d+)$/m.exec(first.stdout)?.[1]);
    assert.ok(total >= 3, first.stdout);

    const target = openStorage(redis.url);
    try {
      const subs = createSubscriptionsStore(target);
      const all = await subs.listAll();
      assert.deepEqual(all.map((s) => s.channelId).sort(), ['400000000000000001', '400000000000000002']);
      const cached = await createResponseCache(target, 1).get('https://civitai.com/api/v1/models/1');
      assert.deepEqual(cached, { id: 1, name: 'one' });
      const raw = (await target.keyv('civitai-raw').get('v1:https://civitai.com/api/v1/models/1', {
        raw: true,
      })) as { expires?: number } | undefined;
      assert.ok(
        raw?.expires && raw.expires > Date.now() && raw.expires <= Date.now() + 3_600_000,
        'TTL kept',
      );
    } finally {
      await target.close();
    }

    const second = await runCliCaptured(['migrate', '--from', sqliteUrl, '--to', redis.url], {});
    assert.equal(second.code, 0, second.stderr);
    // The expired entry was dropped by the first run's read; the copied counts are the same.
    const copied = (out: string) => out.replace(/ \(\d+ expired, not copied\)/g, '');
    assert.equal(copied(second.stdout), copied(first.stdout), 'same counts on a re-run');
    const again = openStorage(redis.url);
    try {
      assert.equal((await createSubscriptionsStore(again).listAll()).length, 2, 'no duplicates');
    } finally {
      await again.close();
    }

    // And back: Redis → a fresh sqlite file holds the same subscriptions.
    const back = `sqlite://${join(dir, 'back.sqlite')}`;
    const report = await migrateStore(redis.url, back);
    assert.equal(report.total, total);
    const restored = openStorage(back);
    try {
      assert.equal((await createSubscriptionsStore(restored).listAll()).length, 2);
    } finally {
      await restored.close();
    }
  });

  test('the same store on both sides, or a memory store, is refused with a sentence (exit 2)', async () => {
    const same = await runCliCaptured(['migrate', '--from', sqliteUrl, '--to', sqliteUrl], {});
    assert.equal(same.code, 2);
    assert.equal(same.stderr, 'error: --from and --to are the same store.\n');
    await assert.rejects(migrateStore('memory://', redis.url), (e) => hasCode(e, ErrorCode.INPUT_INVALID));
  });
});
