import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { AuditSelection } from '../../src/analysis/audit/types.ts';
import { openStorage, type StorageBackend } from '../../src/storage/backend.ts';
import { createFeedbackStore } from '../../src/storage/feedback-store.ts';
import { createJobQueueStore, type PersistedJob } from '../../src/storage/job-queue.ts';
import { createSubscriptionsStore, type Subscription } from '../../src/storage/subscriptions-store.ts';
import { startRedis } from '../support/redis-server.ts';
import { needsRedis } from '../support/requirements.ts';

const dir = mkdtempSync(join(tmpdir(), 'loralens-botstores-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A local redis-server (installed by .ci/run) covers the Redis backend; each tag gets its own
// database number so tests stay isolated as they are with one sqlite file per tag.
// Without redis-server the Redis rows are one skipped test (a failure under CI=true).
const redisRequirement = needsRedis();
const redis = redisRequirement.skip ? undefined : await startRedis();
after(() => redis?.stop());
const redisDbs = new Map<string, number>();
const redisDb = (tag: string): number => {
  if (!redisDbs.has(tag)) redisDbs.set(tag, redisDbs.size + 1);
  return redisDbs.get(tag)!;
};

const backends: Array<{ name: string; open: (tag: string) => StorageBackend }> = [
  { name: 'memory', open: () => openStorage('memory://') },
  { name: 'sqlite', open: (tag) => openStorage(`sqlite://${join(dir, `${tag}.sqlite`)}`) },
  ...(redis ? [{ name: 'redis', open: (tag: string) => openStorage(`${redis.url}/${redisDb(tag)}`) }] : []),
];

test('the Redis backend is exercised when redis-server is installed', redisRequirement, () => {
  assert.ok(redis, 'redis-server is installed but did not start');
});

const sub = (channelId: string, guildId = 'g1'): Subscription => ({
  guildId,
  channelId,
  day: 'mon',
  hour: 9,
  timezone: 'UTC',
  n: 20,
  types: ['LORA'],
  locale: 'en-US',
  createdBy: 'u1',
  createdAt: 1,
  nextRunAt: 1000,
  lastRunAt: null,
});

const item = (itemKey: string, detector: 'text' | 'clip' = 'text') => ({
  itemKey,
  modelId: 1,
  detector,
  rule: 'r',
  title: 't',
});

for (const backend of backends) {
  describe(`bot stores on ${backend.name}`, () => {
    test('subscriptions: put reports replacement, list per guild, remove returns the removed one', async () => {
      const storage = backend.open('subs');
      try {
        const store = createSubscriptionsStore(storage);
        assert.equal(await store.put(sub('c1')), false);
        assert.equal(await store.put({ ...sub('c1'), n: 5 }), true);
        await Promise.all([store.put(sub('c2')), store.put(sub('c3', 'g2'))]);
        assert.deepEqual((await store.listGuild('g1')).map((s) => s.channelId).sort(), ['c1', 'c2']);
        assert.equal((await store.get('c1'))?.n, 5);
        assert.equal((await store.remove('c2'))?.channelId, 'c2');
        assert.equal(await store.remove('c2'), undefined);
        assert.deepEqual((await store.listAll()).map((s) => s.channelId).sort(), ['c1', 'c3']);
      } finally {
        await storage.close();
      }
    });

    test('subscriptions survive reopening the backend', async () => {
      if (backend.name === 'memory') return;
      const a = backend.open('reopen');
      await createSubscriptionsStore(a).put(sub('c9'));
      await a.close();
      const b = backend.open('reopen');
      try {
        assert.equal((await createSubscriptionsStore(b).get('c9'))?.nextRunAt, 1000);
      } finally {
        await b.close();
      }
    });

    test('feedback: votes are idempotent per user, the threshold disputes, withdrawal undoes, detector counts follow', async () => {
      const storage = backend.open('feedback');
      try {
        const store = createFeedbackStore(storage, { disputeThreshold: 2 });
        await store.linkMessage('m1', item('k1'), 10);
        await store.linkMessage('m1b', item('k1'), 11); // same item in a later report: shown once
        await store.linkMessage('m2', item('k2', 'clip'), 12);
        assert.deepEqual(await store.itemForMessage('m1b'), item('k1'));
        assert.deepEqual(await store.detectorStats('text'), { shown: 1, disputed: 0 });

        // Concurrent duplicate votes from one user count once.
        const outcomes = await Promise.all([
          store.vote('k1', 'u1', 1),
          store.vote('k1', 'u1', 2),
          store.vote('k1', 'u1', 3),
        ]);
        assert.deepEqual(
          outcomes.map((o) => o.changed),
          [true, false, false],
        );
        assert.deepEqual(await store.vote('k1', 'u2', 4), { changed: true, votes: 2, disputed: true });
        assert.deepEqual(await store.detectorStats('text'), { shown: 1, disputed: 1 });
        assert.deepEqual(await store.withdraw('k1', 'u2'), { changed: true, votes: 1, disputed: false });
        assert.deepEqual(await store.withdraw('k1', 'u2'), { changed: false, votes: 1, disputed: false });
        assert.deepEqual(await store.detectorStats('text'), { shown: 1, disputed: 0 });
        assert.deepEqual(await store.detectorStats('clip'), { shown: 1, disputed: 0 });
        // A vote on an item never shown is ignored.
        assert.deepEqual(await store.vote('nope', 'u1', 5), { changed: false, votes: 0, disputed: false });
      } finally {
        await storage.close();
      }
    });

    test('job queue: save is an upsert, list keeps enqueue order, remove deletes', async () => {
      const storage = backend.open('jobs');
      try {
        const store = createJobQueueStore(storage);
        const job = (key: string, enqueuedAt: number): PersistedJob => ({
          key,
          selection: AuditSelection.parse({ kind: 'model', ref: '1' }),
          maxBrowsingLevel: 3,
          requesters: [
            { kind: 'interaction', guildId: 'g', channelId: 'c', userId: 'u', locale: 'en-US', nsfw: false },
          ],
          enqueuedAt,
        });
        await store.save(job('b', 20));
        await store.save(job('a', 10));
        await store.save({
          ...job('b', 20),
          requesters: [...job('b', 20).requesters, ...job('b', 20).requesters],
        });
        const listed = await store.list();
        assert.deepEqual(
          listed.map((j) => j.key),
          ['a', 'b'],
        );
        assert.equal(listed[1]?.requesters.length, 2);
        await store.remove('a');
        assert.deepEqual(
          (await store.list()).map((j) => j.key),
          ['b'],
        );
      } finally {
        await storage.close();
      }
    });
  });
}
