import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AppError, ErrorCode } from '../../src/analysis/errors.ts';
import { silentLogger } from '../../src/analysis/ports.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { type AuditWorker, startAuditWorker } from '../../src/storage/queue/bullmq-worker.ts';
import { createSubscriptionsStore } from '../../src/storage/subscriptions-store.ts';
import { APP_ID, type Harness, startHarness, TOKEN } from '../bot/support/harness.ts';
import {
  embedsOf,
  eventually,
  finalEdit,
  hasEmbeds,
  isFollowUp,
  isOriginalEdit,
} from '../bot/support/helpers.ts';
import { ManualClock } from '../bot/support/manual-clock.ts';
import { startFakeDiscord } from '../support/fake-discord/server.ts';
import type { RedisHandle } from '../support/redis-server.ts';
import { needsRedis, redisAvailable } from '../support/requirements.ts';
import { flush, redisForTests } from './support/redis.ts';

const WEEK = 7 * 86_400_000;
// Monday 2026-03-02 10:00 UTC.
const MONDAY_10 = Date.UTC(2026, 2, 2, 10, 0, 0);
const QUEUE_OPTIONS = { heartbeatTtlMs: 1_000, sweepIntervalMs: 200 };

interface Mode {
  name: string;
  /** Start the bot (and, with Redis, one in-process worker running the harness's fake service). */
  start(clock?: ManualClock): Promise<Harness & { worker?: AuditWorker }>;
}

let redis: RedisHandle | undefined;

const modes: Mode[] = [
  {
    name: 'in-process queue + sqlite store',
    start: (clock) =>
      startHarness({
        storage: openStorage(
          `sqlite://${join(mkdtempSync(join(tmpdir(), 'loralens-modes-')), 'bot.sqlite')}`,
        ),
        ...(clock ? { clock } : {}),
      }),
  },
  {
    name: 'BullMQ queue + Redis store, one worker',
    async start(clock) {
      assert.ok(redis);
      await flush(redis.url);
      const h = await startHarness({
        storage: openStorage(redis.url),
        queueUrl: redis.url,
        queueOptions: QUEUE_OPTIONS,
        ...(clock ? { clock } : {}),
      });
      const worker = startAuditWorker({
        url: redis.url,
        service: h.service,
        logger: silentLogger,
        concurrency: 2,
        progressIntervalMs: 0,
      });
      const close = h.close;
      return Object.assign(h, {
        worker,
        close: async () => {
          await worker.close();
          await close();
        },
      });
    },
  },
];

before(async () => {
  if (redisAvailable()) redis = await redisForTests();
});
after(async () => {
  await redis?.stop();
});

for (const mode of modes) {
  const req = mode.name.startsWith('BullMQ') ? needsRedis() : {};
  describe(`/audit through the ${mode.name}`, req, () => {
    test('one /audit gets a deferred reply, progress, then exactly one final report edit', async () => {
      const h = await mode.start();
      try {
        h.service.progress = [{ stage: 'models', done: 1, total: 1 }];
        const i = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '11821' } });
        const edit = await finalEdit(h.discord, i, 15_000);
        assert.equal(embedsOf(edit)[0]?.url, 'https://civitai.com/models/11821');
        await new Promise((r) => setTimeout(r, 500));
        const finals = h.discord.requests.filter((r) => isOriginalEdit(i)(r) && hasEmbeds(r));
        assert.equal(finals.length, 1);
        assert.equal(h.service.calls.length, 1);
      } finally {
        await h.close();
      }
    });

    test('identical /audit requests from two users run one audit and each gets one report', async () => {
      const h = await mode.start();
      try {
        h.service.hold = true;
        const a = h.discord.invoke({
          name: 'audit',
          subcommand: 'model',
          options: { model: '42' },
          userId: '500000000000000001',
        });
        await h.service.started(1);
        const b = h.discord.invoke({
          name: 'audit',
          subcommand: 'model',
          options: { model: '42' },
          userId: '500000000000000002',
        });
        await h.discord.waitFor(
          (r) => isOriginalEdit(b)(r) && /same audit/.test(String(r.body?.content)),
          10_000,
          'joined line',
        );
        h.service.release();
        await finalEdit(h.discord, a, 15_000);
        await finalEdit(h.discord, b, 15_000);
        assert.equal(h.service.calls.length, 1);
      } finally {
        await h.close();
      }
    });

    test('a Civitai "not found" from the analysis is one ephemeral sentence', async () => {
      const h = await mode.start();
      try {
        h.service.failWith = new AppError(ErrorCode.CIVITAI_NOT_FOUND, 'model 999 not found');
        const i = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '999' } });
        const follow = await h.discord.waitFor(isFollowUp(i), 15_000, 'follow-up');
        assert.equal(follow.body?.content, 'Civitai has no such model or version.');
        assert.equal(Number(follow.body?.flags) & 64, 64);
      } finally {
        await h.close();
      }
    });
  });
}

describe('weekly reports with two bot processes on one Redis', needsRedis(), () => {
  test('a due subscription fires exactly once across two schedulers, and a missed week is caught up once', async () => {
    assert.ok(redis);
    await flush(redis.url);
    const discord = await startFakeDiscord({ token: TOKEN, applicationId: APP_ID });
    const general = discord.channels.find((c) => !c.nsfw)?.id ?? '';
    const clock = new ManualClock(MONDAY_10);
    const seed = openStorage(redis.url);
    await createSubscriptionsStore(seed).put({
      guildId: discord.guildId,
      channelId: general,
      day: 'tue',
      hour: 9,
      timezone: 'UTC',
      n: 2,
      types: ['LORA'],
      locale: 'en-US',
      createdBy: '300000000000000001',
      createdAt: MONDAY_10 - WEEK,
      nextRunAt: Date.UTC(2026, 2, 3, 9, 0, 0),
      lastRunAt: null,
    });
    await seed.close();
    const weeklyPosts = () =>
      discord.requests.filter(
        (r) => r.method === 'POST' && r.path === `/channels/${general}/messages` && hasEmbeds(r),
      ).length;
    const url = redis.url;
    const startTwo = async () => {
      const bots: Harness[] = [];
      for (let n = 0; n < 2; n++) {
        bots.push(
          await startHarness({
            discord,
            clock,
            storage: openStorage(url),
            queueUrl: url,
            queueOptions: QUEUE_OPTIONS,
          }),
        );
      }
      const service = bots[0]?.service;
      assert.ok(service);
      const worker = startAuditWorker({ url, service, logger: silentLogger, concurrency: 1 });
      return { bots, worker, calls: () => service.calls.length };
    };
    try {
      let { bots, worker, calls } = await startTwo();
      clock.set(Date.UTC(2026, 2, 3, 9, 0, 1));
      await eventually(() => weeklyPosts() >= 1, 30_000, 'weekly report');
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(weeklyPosts(), 1, 'one report, not one per process');
      assert.equal(calls(), 1, 'one audit');
      await worker.close();
      for (const b of bots) await b.close();

      // Both down for three weeks; on restart the missed report runs once in all.
      clock.set(Date.UTC(2026, 2, 3, 9, 0, 0) + 3 * WEEK + 3_600_000);
      ({ bots, worker, calls } = await startTwo());
      await eventually(() => weeklyPosts() >= 2, 30_000, 'catch-up report');
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(weeklyPosts(), 2, 'exactly one catch-up report');
      assert.equal(calls(), 1, 'one catch-up audit');
      const sub = await bots[0]?.bot.subscriptions.get(general);
      assert.equal(sub?.nextRunAt, Date.UTC(2026, 2, 3, 9, 0, 0) + 4 * WEEK);
      await worker.close();
      for (const b of bots) await b.close();
    } finally {
      await discord.close();
    }
  });
});
