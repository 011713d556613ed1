import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStorage } from '../../src/storage/backend.ts';
import { createSubscriptionsStore } from '../../src/storage/subscriptions-store.ts';
import { startFakeDiscord } from '../support/fake-discord/server.ts';
import { APP_ID, startHarness, TOKEN } from './support/harness.ts';
import { embedsOf, eventually, isCallback, MANAGE_CHANNELS, PLAIN_MEMBER } from './support/helpers.ts';
import { ManualClock } from './support/manual-clock.ts';

const WEEK = 7 * 86_400_000;
// Monday 2026-03-02 10:00 UTC.
const MONDAY_10 = Date.UTC(2026, 2, 2, 10, 0, 0);

describe('/subscribe, /unsubscribe, /subscriptions and the weekly schedule', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loralens-subs-'));
  const storeUrl = `sqlite://${join(dir, 'bot.sqlite')}`;
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a member without Manage Channels is refused with an ephemeral sentence and nothing is stored', async () => {
    const h = await startHarness({ clock: new ManualClock(MONDAY_10) });
    try {
      const i = h.discord.invoke({
        name: 'subscribe',
        options: { channel: { channelId: h.general } },
        permissions: PLAIN_MEMBER,
      });
      const cb = await h.discord.waitFor(isCallback(i));
      const data = cb.body?.data as { content?: string; flags?: number } | undefined;
      assert.equal(data?.content, 'You need the Manage Channels permission to do that.');
      assert.equal((data?.flags ?? 0) & 64, 64);
      assert.deepEqual(await h.bot.subscriptions.listAll(), []);
    } finally {
      await h.close();
    }
  });

  test('a Chinese guild gets the weekly summary as Executive_Summary_CN.pdf with the CSV', async () => {
    const clock = new ManualClock(MONDAY_10);
    const discord = await startFakeDiscord({ token: TOKEN, applicationId: APP_ID, guildLocale: 'zh-CN' });
    const h = await startHarness({ discord, clock });
    try {
      const i = h.discord.invoke({
        name: 'subscribe',
        options: { channel: { channelId: h.general }, day: 'tue', hour: 9, n: 3 },
        permissions: MANAGE_CHANNELS | PLAIN_MEMBER,
      });
      await h.discord.waitFor(isCallback(i));
      clock.set(Date.UTC(2026, 2, 3, 9, 0, 1));
      const post = await h.discord.waitFor(
        (r) =>
          r.method === 'POST' &&
          r.path === `/channels/${h.general}/messages` &&
          Array.isArray(r.body?.embeds) &&
          r.body.embeds.length > 0,
        20_000,
        'weekly report',
      );
      assert.deepEqual(
        post.files.map((f) => f.name),
        ['metrics.csv', 'Executive_Summary_CN.pdf'],
      );
    } finally {
      await h.close();
      await discord.close();
    }
  });

  test('a schedule is persisted, fires at its slot with a channel report, survives a restart, and a missed run is caught up once', async () => {
    const discord = await startFakeDiscord({ token: TOKEN, applicationId: APP_ID });
    const clock = new ManualClock(MONDAY_10);
    try {
      // 1st process: subscribe for Tuesdays 09:00 UTC, top 3 LoRA.
      const h1 = await startHarness({ discord, clock, storage: openStorage(storeUrl) });
      const general = h1.general;
      const i = discord.invoke({
        name: 'subscribe',
        options: { channel: { channelId: general }, day: 'tue', hour: 9, n: 3, types: 'LORA' },
        permissions: MANAGE_CHANNELS | PLAIN_MEMBER,
      });
      const cb = await discord.waitFor(isCallback(i));
      const content = String((cb.body?.data as { content?: string } | undefined)?.content);
      const tuesday9 = Date.UTC(2026, 2, 3, 9, 0, 0);
      assert.equal(
        content,
        `Subscribed <#${general}>: top 3 (LORA) every Tuesday at 09:00 UTC. Next report <t:${tuesday9 / 1000}:F>.`,
      );
      const saved = await h1.bot.subscriptions.get(general);
      assert.equal(saved?.nextRunAt, tuesday9);

      // /subscriptions lists it (ephemeral).
      const list = discord.invoke({ name: 'subscriptions' });
      const listed = await discord.waitFor(isCallback(list));
      assert.match(
        String((listed.body?.data as { content?: string } | undefined)?.content),
        new RegExp(`<#${general}>: top 3 \\(LORA\\), Tuesday 09:00 UTC`),
      );

      // The slot arrives: one weekly report is posted to the channel with the bot token.
      clock.set(tuesday9 + 1_000);
      const post = await discord.waitFor(
        (r) =>
          r.method === 'POST' &&
          r.path === `/channels/${general}/messages` &&
          Array.isArray(r.body?.embeds) &&
          r.body.embeds.length > 0,
        20_000,
        'weekly report',
      );
      assert.match(String(post.body?.content), /^\*\*Weekly loralens report\*\*/);
      assert.equal(post.authorization, `Bot ${TOKEN}`);
      assert.match(String(embedsOf(post)[0]?.title), /^Top 3 · LORA · Most downloaded · Week$/);
      assert.deepEqual(
        post.files.map((f) => f.name),
        ['metrics.csv', 'Executive_Summary_EN.pdf'],
        'a weekly post carries the CSV and the summary PDF in the guild language, no ZIP',
      );
      const call = h1.service.calls.at(-1);
      assert.ok(call?.selection.kind === 'top' && call.selection.n === 3 && call.selection.period === 'Week');
      assert.equal((await h1.bot.subscriptions.get(general))?.nextRunAt, tuesday9 + WEEK);
      await h1.close();

      // The bot is down for three weeks; on the next start the missed report runs once, not three times.
      const reportsBefore = discord.requests.filter(
        (r) =>
          r.method === 'POST' &&
          r.path === `/channels/${general}/messages` &&
          Array.isArray(r.body?.embeds) &&
          r.body.embeds.length > 0,
      ).length;
      clock.set(tuesday9 + 3 * WEEK + 3_600_000);
      const h2 = await startHarness({ discord, clock, storage: openStorage(storeUrl) });
      try {
        await eventually(() => h2.service.calls.length === 1, 5_000, 'catch-up run');
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(h2.service.calls.length, 1, 'exactly one catch-up audit');
        const after = await eventually(async () => {
          const n = discord.requests.filter(
            (r) =>
              r.method === 'POST' &&
              r.path === `/channels/${general}/messages` &&
              Array.isArray(r.body?.embeds) &&
              r.body.embeds.length > 0,
          ).length;
          return n > reportsBefore ? n : 0;
        });
        assert.equal(after, reportsBefore + 1);
        const sub = await h2.bot.subscriptions.get(general);
        assert.equal(sub?.lastRunAt, clock.now());
        assert.equal(sub?.nextRunAt, tuesday9 + 4 * WEEK);

        // /unsubscribe removes it; /subscriptions is then empty.
        const un = discord.invoke({
          name: 'unsubscribe',
          options: { channel: { channelId: general } },
          permissions: MANAGE_CHANNELS,
        });
        const unCb = await discord.waitFor(isCallback(un));
        assert.equal(
          (unCb.body?.data as { content?: string } | undefined)?.content,
          `The weekly report in <#${general}> is stopped.`,
        );
        assert.equal(await h2.bot.subscriptions.get(general), undefined);
      } finally {
        await h2.close();
      }
    } finally {
      await discord.close();
    }
  });

  test('a schedule stored by an earlier process with a past due time runs once on start (seeded store)', async () => {
    const storage = openStorage(`sqlite://${join(dir, 'seeded.sqlite')}`);
    const discord = await startFakeDiscord({ token: TOKEN, applicationId: APP_ID });
    const general = discord.channels[0]?.id ?? '';
    await createSubscriptionsStore(storage).put({
      guildId: discord.guildId,
      channelId: general,
      day: 'mon',
      hour: 9,
      timezone: 'Asia/Tokyo',
      n: 2,
      types: ['LORA', 'LoCon', 'DoRA'],
      locale: 'zh-CN',
      createdBy: '300000000000000001',
      createdAt: MONDAY_10 - 10 * WEEK,
      nextRunAt: MONDAY_10 - 5 * WEEK,
      lastRunAt: null,
    });
    const h = await startHarness({ discord, storage, clock: new ManualClock(MONDAY_10) });
    try {
      const post = await discord.waitFor(
        (r) =>
          r.method === 'POST' &&
          r.path === `/channels/${general}/messages` &&
          Array.isArray(r.body?.embeds) &&
          r.body.embeds.length > 0,
      );
      assert.match(
        String(post.body?.content),
        /^\*\*loralens 每周报告\*\*/,
        'the report is in the subscription locale',
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(h.service.calls.length, 1);
      // Next Monday 09:00 in Tokyo is Monday 00:00 UTC.
      assert.equal((await h.bot.subscriptions.get(general))?.nextRunAt, Date.UTC(2026, 2, 9, 0, 0, 0));
    } finally {
      await h.close();
      await discord.close();
    }
  });
});

describe('subscription input checks', () => {
  let h: Awaited<ReturnType<typeof startHarness>>;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  test('an unknown time zone is refused', async () => {
    const i = h.discord.invoke({
      name: 'subscribe',
      options: { channel: { channelId: h.general }, timezone: 'Mars/Olympus' },
      permissions: MANAGE_CHANNELS,
    });
    const cb = await h.discord.waitFor(isCallback(i));
    assert.equal(
      (cb.body?.data as { content?: string } | undefined)?.content,
      '“Mars/Olympus” is not a known time zone; use a name such as Europe/Berlin.',
    );
    assert.deepEqual(await h.bot.subscriptions.listAll(), []);
  });

  test('a subscription whose channel was deleted is removed when it comes due, without posting', async () => {
    const doomed = h.adult;
    const i = h.discord.invoke({
      name: 'subscribe',
      options: { channel: { channelId: doomed } },
      permissions: MANAGE_CHANNELS,
    });
    await h.discord.waitFor(isCallback(i));
    const sub = await h.bot.subscriptions.get(doomed);
    assert.ok(sub);
    h.discord.deleteChannel(doomed);
    h.clock.set(sub.nextRunAt + 1);
    await eventually(
      async () => (await h.bot.subscriptions.get(doomed)) === undefined,
      5_000,
      'subscription removed',
    );
    assert.equal(h.service.calls.length, 0);
    assert.ok(
      !h.discord.requests.some((r) => r.method === 'POST' && r.path === `/channels/${doomed}/messages`),
    );
  });

  test('/unsubscribe on a channel without a subscription says so', async () => {
    const i = h.discord.invoke({
      name: 'unsubscribe',
      options: { channel: { channelId: h.adult } },
      permissions: MANAGE_CHANNELS,
    });
    const cb = await h.discord.waitFor(isCallback(i));
    assert.equal(
      (cb.body?.data as { content?: string } | undefined)?.content,
      `There is no weekly report in <#${h.adult}>.`,
    );
  });
});
