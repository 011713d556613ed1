import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuditSelection } from '../../src/analysis/audit/types.ts';
import { silentLogger } from '../../src/analysis/ports.ts';
import { AuditRunner } from '../../src/bot/audit-runner.ts';
import { loadBotConfig } from '../../src/bot/config.ts';
import type { JobListener, JobRequest } from '../../src/commands/ports.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { createJobQueueStore } from '../../src/storage/job-queue.ts';
import { FakeAuditService } from './support/fake-audit-service.ts';
import { APP_ID, type Harness, startHarness, TOKEN } from './support/harness.ts';
import { isCallback, isFollowUp, isOriginalEdit } from './support/helpers.ts';
import { ManualClock } from './support/manual-clock.ts';

const noop: JobListener = { deliver: async () => {}, fail: async () => {} };

function request(
  ref: string,
  who: { userId?: string | null; guildId?: string | null; kind?: 'interaction' | 'subscription' } = {},
): JobRequest {
  return {
    selection: AuditSelection.parse({ kind: 'model', ref }),
    maxBrowsingLevel: 3,
    requester: {
      kind: who.kind ?? 'interaction',
      guildId: who.guildId === undefined ? 'g1' : who.guildId,
      channelId: 'c1',
      userId: who.userId === undefined ? 'u1' : who.userId,
      locale: 'en-US',
      nsfw: false,
    },
    listener: noop,
  } as JobRequest;
}

function runner(limits: { perUser: number; perGuild: number; total: number }) {
  const service = new FakeAuditService();
  service.hold = true;
  const storage = openStorage('memory://');
  const r = new AuditRunner({
    service,
    store: createJobQueueStore(storage),
    clock: new ManualClock(),
    logger: silentLogger,
    concurrency: 1,
    restoreListener: () => noop,
    limits,
  });
  return { r, service, storage };
}

describe('audit queue limits (AuditRunner)', () => {
  test('a user with the per-user number of unfinished audits is told busy, with the place the request would take', async () => {
    const { r, storage } = runner({ perUser: 3, perGuild: 100, total: 100 });
    for (const ref of ['1', '2', '3']) assert.equal((await r.submit(request(ref))).accepted, true);
    const refused = await r.submit(request('4'));
    assert.deepEqual(refused, { accepted: false, busy: { reason: 'user', limit: 3, position: 3 } });
    assert.equal(r.queued, 2, 'the refused request was not queued');
    // Another user of the same server still gets in.
    assert.equal((await r.submit(request('4', { userId: 'u2' }))).accepted, true);
    await r.stop(0);
    await storage.close();
  });

  test('duplicates collapse onto the queued job and never count against the limit', async () => {
    const { r, service, storage } = runner({ perUser: 1, perGuild: 1, total: 1 });
    assert.equal((await r.submit(request('7'))).accepted, true);
    for (const userId of ['u1', 'u2', 'u3']) {
      const joined = await r.submit(request('7', { userId }));
      assert.equal(joined.accepted, true);
      assert.ok(joined.accepted && joined.shared, 'joined the existing job');
    }
    assert.equal(service.calls.length, 1);
    const other = await r.submit(request('8', { userId: 'u2', guildId: 'g2' }));
    assert.deepEqual(other, { accepted: false, busy: { reason: 'total', limit: 1, position: 1 } });
    await r.stop(0);
    await storage.close();
  });

  test('per-server and total limits apply to new jobs; weekly reports are not refused', async () => {
    const { r, storage } = runner({ perUser: 10, perGuild: 2, total: 3 });
    assert.equal((await r.submit(request('1', { userId: 'a' }))).accepted, true);
    assert.equal((await r.submit(request('2', { userId: 'b' }))).accepted, true);
    assert.deepEqual(await r.submit(request('3', { userId: 'c' })), {
      accepted: false,
      busy: { reason: 'guild', limit: 2, position: 2 },
    });
    assert.equal((await r.submit(request('3', { userId: 'c', guildId: 'g2' }))).accepted, true);
    assert.deepEqual(await r.submit(request('4', { userId: 'd', guildId: null })), {
      accepted: false,
      busy: { reason: 'total', limit: 3, position: 3 },
    });
    const weekly = await r.submit(request('5', { kind: 'subscription', userId: null, guildId: 'g1' }));
    assert.equal(weekly.accepted, true);
    await r.stop(0);
    await storage.close();
  });

  test('finished jobs free their places', async () => {
    const { r, service, storage } = runner({ perUser: 1, perGuild: 10, total: 10 });
    assert.equal((await r.submit(request('1'))).accepted, true);
    assert.equal((await r.submit(request('2'))).accepted, false);
    await service.started(1);
    service.release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await r.submit(request('2'))).accepted, true);
    await r.stop(0);
    await storage.close();
  });
});

describe('queue limit configuration', () => {
  const base = { DISCORD_TOKEN: TOKEN, DISCORD_APPLICATION_ID: APP_ID };
  test('defaults: 3 per user, 10 per server, 100 in all', () => {
    const c = loadBotConfig(base);
    assert.deepEqual([c.queuePerUser, c.queuePerGuild, c.queueTotal], [3, 10, 100]);
  });
  test('LORALENS_QUEUE_PER_USER / _PER_GUILD / _TOTAL override them', () => {
    const c = loadBotConfig({
      ...base,
      LORALENS_QUEUE_PER_USER: '1',
      LORALENS_QUEUE_PER_GUILD: '5',
      LORALENS_QUEUE_TOTAL: '50',
    });
    assert.deepEqual([c.queuePerUser, c.queuePerGuild, c.queueTotal], [1, 5, 50]);
  });
});

describe('/audit when the queue is full', () => {
  let h: Harness;
  before(async () => {
    const service = new FakeAuditService();
    service.hold = true;
    h = await startHarness({ service, config: { queuePerUser: 1, queuePerGuild: 10, queueTotal: 10 } });
  });
  after(async () => {
    await h.close();
  });

  test('a second audit from the same user gets one ephemeral "busy" sentence in their language; a duplicate still joins', async () => {
    const first = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '11' } });
    await h.service.started(1);
    const expected: Record<string, RegExp> = {
      'en-US':
        /^⏳ Busy: you already have 1 audit waiting or running\. Try again when it has finished \(yours would be position 1 in line\)\.$/,
      'zh-CN': /^⏳ 繁忙：/,
      ja: /^⏳ 混雑中：/,
    };
    for (const [locale, pattern] of Object.entries(expected)) {
      const busy = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '12' }, locale });
      const cb = await h.discord.waitFor(isCallback(busy), 5_000, `busy reply (${locale})`);
      const data = cb.body?.data as { content?: string; flags?: number } | undefined;
      assert.equal(cb.body?.type, 4, 'answered at once, not deferred');
      assert.equal((data?.flags ?? 0) & 64, 64, 'ephemeral');
      assert.match(String(data?.content), pattern);
    }
    const twin = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '11' } });
    await h.discord.waitFor(
      (r) => isOriginalEdit(twin)(r) && /same audit is already running/.test(String(r.body?.content)),
    );
    assert.equal(h.service.calls.length, 1);
    assert.equal(h.discord.requests.filter(isFollowUp(first)).length, 0);
    h.service.release();
  });
});
