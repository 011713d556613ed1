import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { openStorage } from '../../src/storage/backend.ts';
import { createFeedbackStore } from '../../src/storage/feedback-store.ts';
import { createJobQueueStore } from '../../src/storage/job-queue.ts';
import { startFakeDiscord } from '../support/fake-discord/server.ts';
import { FakeAuditService } from './support/fake-audit-service.ts';
import { APP_ID, startHarness, TOKEN } from './support/harness.ts';
import { embedsOf, eventually, isFollowUp, isOriginalEdit } from './support/helpers.ts';
import { ManualClock } from './support/manual-clock.ts';

const run = promisify(execFile);
const repoRoot = new URL('../../', import.meta.url).pathname;

describe('bot lifecycle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loralens-life-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('heartbeats are acknowledged and the session stays on one IDENTIFY', async () => {
    const discord = await startFakeDiscord({ token: TOKEN, applicationId: APP_ID, heartbeatIntervalMs: 150 });
    const h = await startHarness({ discord });
    try {
      await eventually(() => discord.gateway.heartbeats >= 2, 5_000, 'two heartbeats');
      assert.equal(discord.gateway.identifies.length, 1, 'no zombie reconnect');
    } finally {
      await h.close();
      await discord.close();
    }
  });

  test('a job that outlives the 15-minute token posts its result as a channel message that mentions the user', async () => {
    const service = new FakeAuditService();
    service.hold = true;
    const h = await startHarness({ service });
    try {
      const user = '300000000000000077';
      const i = h.discord.invoke({
        name: 'audit',
        subcommand: 'model',
        options: { model: '11821' },
        userId: user,
      });
      await h.service.started(1);
      h.clock.advance(16 * 60_000);
      h.discord.expire(i.token);
      h.service.release();
      const post = await h.discord.waitFor(
        (r) =>
          r.method === 'POST' &&
          r.path === `/channels/${h.general}/messages` &&
          Array.isArray(r.body?.embeds) &&
          r.body.embeds.length > 0,
      );
      assert.match(
        String(post.body?.content),
        new RegExp(`^<@${user}> your audit finished after the interaction expired`),
      );
      assert.deepEqual((post.body?.allowed_mentions as { users?: string[] } | undefined)?.users, [user]);
      assert.equal(embedsOf(post)[0]?.title, 'Model 11821');
      assert.ok(post.files.some((f) => f.name === 'metrics.csv'));
      assert.equal(
        h.discord.requests.filter(
          (r) => isOriginalEdit(i)(r) && Array.isArray(r.body?.embeds) && r.body.embeds.length > 0,
        ).length,
        0,
      );
    } finally {
      await h.close();
    }
  });

  test('graceful shutdown persists a running job; the next start runs it and posts to the channel with a mention', async () => {
    const storeUrl = `sqlite://${join(dir, 'jobs.sqlite')}`;
    const discord = await startFakeDiscord({ token: TOKEN, applicationId: APP_ID });
    try {
      const clock = new ManualClock();
      const held = new FakeAuditService();
      held.hold = true;
      const h1 = await startHarness({ discord, clock, service: held, storage: openStorage(storeUrl) });
      const user = '300000000000000088';
      const i = discord.invoke({
        name: 'audit',
        subcommand: 'model',
        options: { model: '555' },
        userId: user,
        locale: 'zh-CN',
      });
      await held.started(1);
      const stopping = h1.close();
      await eventually(() => clock.sleepers > 0, 2_000, 'grace timer');
      clock.advance(1_000);
      await stopping;
      assert.ok(held.calls[0]?.signal?.aborted, 'the running audit was aborted after the grace period');
      const follow = await discord.waitFor(isFollowUp(i));
      assert.equal(follow.body?.content, '任务已取消（机器人正在重启），机器人恢复后会重新运行。');

      const check = openStorage(storeUrl);
      const pending = await createJobQueueStore(check).list();
      assert.equal(pending.length, 1);
      assert.equal(pending[0]?.requesters[0]?.userId, user);
      await check.close();

      const h2 = await startHarness({ discord, clock, storage: openStorage(storeUrl) });
      try {
        const post = await discord.waitFor(
          (r) =>
            r.method === 'POST' &&
            r.path === `/channels/${h2.general}/messages` &&
            Array.isArray(r.body?.embeds) &&
            r.body.embeds.length > 0,
        );
        assert.match(String(post.body?.content), new RegExp(`^<@${user}> 你的审核在交互过期后才完成`));
        assert.equal(embedsOf(post)[0]?.title, 'Model 555');
        assert.equal(h2.service.calls.length, 1);
        await eventually(
          async () => (await createJobQueueStore(h2.storage).list()).length === 0,
          3_000,
          'job removed',
        );

        // Reaction feedback works on a message this process never cached (partials).
        const line = await discord.waitFor(
          (r) =>
            r.method === 'POST' &&
            r.path === `/channels/${h2.general}/messages` &&
            /^`[0-9a-f]{6}`/.test(String(r.body?.content)),
        );
        const stored = [...discord.messages.values()].find((m) => m.content === line.body?.content);
        assert.ok(stored);
        const h3Storage = h2.storage;
        await h2.bot.stop();
        const h3 = await startHarness({ discord, clock, storage: h3Storage });
        try {
          discord.react({ userId: user, channelId: h3.general, messageId: stored.id, emoji: '❌' });
          const feedback = createFeedbackStore(h3Storage, { disputeThreshold: 2 });
          const item = await feedback.itemForMessage(stored.id);
          assert.ok(item);
          await eventually(
            async () => (await feedback.votesFor(item.itemKey)).length === 1,
            3_000,
            'vote on uncached message',
          );
        } finally {
          await h3.close();
        }
      } finally {
        await h2.bot.stop().catch(() => undefined);
      }
    } finally {
      await discord.close();
    }
  });

  test('register --dry-run prints the localized command JSON without contacting Discord', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/register.ts', '--dry-run'], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '' },
    });
    const commands = JSON.parse(stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      commands.map((c) => c.name),
      ['audit', 'subscribe', 'unsubscribe', 'subscriptions'],
    );
    const audit = commands[0] as {
      name_localizations: Record<string, string>;
      options: Array<{ name: string }>;
    };
    assert.equal(audit.name_localizations['zh-CN'], '审核');
    assert.equal(audit.name_localizations.ja, '監査');
    assert.equal(commands[1]?.default_member_permissions, String(1n << 4n));
  });

  test('register puts the commands guild-scoped when DISCORD_GUILD_ID is set, through DISCORD_API_URL', async () => {
    const discord = await startFakeDiscord({ token: TOKEN, applicationId: APP_ID });
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/register.ts'], {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH ?? '',
          DISCORD_TOKEN: TOKEN,
          DISCORD_APPLICATION_ID: APP_ID,
          DISCORD_GUILD_ID: discord.guildId,
          DISCORD_API_URL: discord.apiUrl,
        },
      });
      assert.match(
        stdout,
        /^Registered 4 commands \(guild \d+\): \/audit, \/subscribe, \/unsubscribe, \/subscriptions/,
      );
      assert.equal((discord.commands.get(`guild:${discord.guildId}`) ?? []).length, 4);
      assert.ok(!stdout.includes(TOKEN));
    } finally {
      await discord.close();
    }
  });

  test('a bad token in the environment is reported without echoing it', async () => {
    const secret = 'should-never-be-printed-0123456789';
    await assert.rejects(
      run(process.execPath, ['--import', 'tsx', 'scripts/register.ts'], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '', DISCORD_TOKEN: secret, DISCORD_APPLICATION_ID: 'not-an-id' },
      }),
      (error: { stderr: string; stdout: string }) => {
        assert.match(error.stderr, /DISCORD_APPLICATION_ID must be a Discord id/);
        assert.ok(!error.stderr.includes(secret) && !error.stdout.includes(secret));
        return true;
      },
    );
  });
});

describe('shutdown with a queue', () => {
  test('requesters still waiting in line are told the job will run after the restart, and it stays persisted', async () => {
    const service = new FakeAuditService();
    service.hold = true;
    const h = await startHarness({ service });
    const running = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '1' } });
    await service.started(1);
    const waiting = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '2' } });
    await h.discord.waitFor(
      (r) => isOriginalEdit(waiting)(r) && r.body?.content === '⏳ Queued: position 1 in line.',
    );
    const stopping = h.bot.stop();
    const told = await h.discord.waitFor(isFollowUp(waiting));
    assert.equal(
      told.body?.content,
      'The job was cancelled (the bot is restarting); it will run again when the bot is back.',
    );
    const keys = (await createJobQueueStore(h.storage).list()).map(
      (j) => j.selection.kind === 'model' && j.selection.ref,
    );
    assert.deepEqual(keys, ['1', '2']);
    service.release();
    await stopping;
    await h.discord.waitFor(
      (r) => isOriginalEdit(running)(r) && Array.isArray(r.body?.embeds) && r.body.embeds.length > 0,
    );
    assert.equal(service.calls.length, 1, 'the queued job did not start during shutdown');
    await h.close();
  });
});
