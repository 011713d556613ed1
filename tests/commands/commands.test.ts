import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PermissionFlagsBits } from 'discord.js';
import { AppError, ErrorCode, UserInputError } from '../../src/analysis/errors.ts';
import { silentLogger } from '../../src/analysis/ports.ts';
import { AuditRunner } from '../../src/bot/audit-runner.ts';
import { ModelSearchCache } from '../../src/bot/autocomplete.ts';
import type { ChannelPoster } from '../../src/bot/channel-poster.ts';
import { interactionListener } from '../../src/bot/delivery.ts';
import { createDispatcher } from '../../src/bot/dispatcher.ts';
import { parseEmoji } from '../../src/bot/emoji.ts';
import { describeError } from '../../src/bot/error-view.ts';
import { commandDefinitions, commands } from '../../src/commands/index.ts';
import type { CommandContext, CommandDeps } from '../../src/commands/types.ts';
import { en } from '../../src/i18n/en.ts';
import { ja } from '../../src/i18n/ja.ts';
import { zhCN } from '../../src/i18n/zh-cn.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { createFeedbackStore } from '../../src/storage/feedback-store.ts';
import { createJobQueueStore } from '../../src/storage/job-queue.ts';
import { createSubscriptionsStore } from '../../src/storage/subscriptions-store.ts';
import { FakeAuditService } from '../bot/support/fake-audit-service.ts';
import { ManualClock } from '../bot/support/manual-clock.ts';
import { FakeContext } from './support/fake-context.ts';

const GUILD = '500000000000000001';
const CHANNEL = '400000000000000009';

function deps(): CommandDeps & { changes: number } {
  const storage = openStorage('memory://');
  const service = new FakeAuditService();
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10));
  const poster: ChannelPoster = {
    send: async (channelId) => ({ id: 'p1', channelId }),
    addReaction: async () => {},
    channelInfo: async (id) => ({ id, nsfw: false, guildId: GUILD }),
  };
  const state = { changes: 0 };
  const feedback = createFeedbackStore(storage, { disputeThreshold: 2 });
  const report = { feedbackEmoji: '❌', feedbackItems: 5, progressIntervalMs: 2000 };
  const d = {
    service,
    runner: new AuditRunner({
      service,
      store: createJobQueueStore(storage),
      clock,
      logger: silentLogger,
      concurrency: 1,
      restoreListener: () => ({ deliver: async () => {}, fail: async () => {} }),
    }),
    subscriptions: createSubscriptionsStore(storage),
    feedback,
    search: new ModelSearchCache({ service, clock, logger: silentLogger }),
    deliver: (ctx: CommandContext) =>
      interactionListener(ctx, {
        feedback,
        fetchImage: (url: string) => service.fetchImage(url),
        poster,
        clock,
        logger: silentLogger,
        settings: report,
        emoji: parseEmoji(report.feedbackEmoji),
      }).listener,
    scheduler: {
      changed: () => {
        state.changes++;
      },
    },
    clock,
    logger: silentLogger,
    get changes() {
      return state.changes;
    },
  };
  return d;
}

const NAME = /^[-_\p{L}\p{N}]{1,32}$/u;

describe('command definitions', () => {
  test('every command, option and choice is localized for zh-CN and ja within Discord’s name and length rules', () => {
    const check = (node: Record<string, unknown>, path: string): void => {
      const names = { en: node.name, ...(node.name_localizations as Record<string, string>) };
      assert.deepEqual(Object.keys(names).sort(), ['en', 'ja', 'zh-CN'], `${path} name localizations`);
      for (const [locale, name] of Object.entries(names)) {
        if ('value' in node) assert.ok(String(name).length <= 100, `${path} choice ${locale}`);
        else {
          assert.match(String(name), NAME, `${path} name ${locale}`);
          assert.equal(String(name), String(name).toLowerCase(), `${path} lowercase ${locale}`);
        }
      }
      if (!('value' in node)) {
        const descriptions = {
          en: node.description,
          ...(node.description_localizations as Record<string, string>),
        };
        assert.deepEqual(
          Object.keys(descriptions).sort(),
          ['en', 'ja', 'zh-CN'],
          `${path} description localizations`,
        );
        for (const d of Object.values(descriptions))
          assert.ok(String(d).length >= 1 && String(d).length <= 100, `${path}: ${d}`);
      }
      for (const child of (node.options as Array<Record<string, unknown>>) ?? [])
        check(child, `${path}/${child.name}`);
      for (const c of (node.choices as Array<Record<string, unknown>>) ?? []) check(c, `${path}=${c.value}`);
    };
    const defs = commandDefinitions();
    assert.equal(defs.length, 4);
    for (const d of defs) check(d as unknown as Record<string, unknown>, d.name);
  });

  test('the catalogues have the same keys and placeholders in every language', () => {
    const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const [name, catalogue] of [
      ['zh-CN', zhCN],
      ['ja', ja],
    ] as const) {
      assert.deepEqual(Object.keys(catalogue).sort(), Object.keys(en).sort(), name);
      for (const [key, value] of Object.entries(en)) {
        assert.deepEqual(
          placeholders(catalogue[key as keyof typeof en]),
          placeholders(value),
          `${name} ${key}`,
        );
      }
    }
  });

  test('/subscribe and /unsubscribe need Manage Channels by default and only work in servers', () => {
    for (const name of ['subscribe', 'unsubscribe']) {
      const d = commands.find((c) => c.data.name === name)?.data;
      assert.equal(d?.default_member_permissions, String(PermissionFlagsBits.ManageChannels));
      assert.deepEqual(d?.contexts, [0]);
    }
  });
});

describe('dispatcher guards and error boundary (port level, no discord.js)', () => {
  test('outside a server /subscriptions is refused with one ephemeral sentence', async () => {
    const d = deps();
    const ctx = new FakeContext({
      commandName: 'subscriptions',
      guildId: null,
      memberPermissions: null,
      locale: 'zh-CN',
    });
    await createDispatcher(commands, d).handleCommand(ctx);
    assert.deepEqual(ctx.soleReply(), {
      verb: 'reply',
      message: { content: '此命令只能在服务器中使用。', ephemeral: true },
    });
  });

  test('Administrator satisfies the Manage Channels check; a channel of another server is refused', async () => {
    const d = deps();
    const ctx = new FakeContext({
      commandName: 'subscribe',
      options: { channel: CHANNEL },
      resolvedChannels: { [CHANNEL]: { id: CHANNEL, type: 0, guildId: '599999999999999999' } },
      memberPermissions: PermissionFlagsBits.Administrator,
    });
    await createDispatcher(commands, d).handleCommand(ctx);
    assert.equal(ctx.soleReply().message?.content, 'Pick a text channel of this server.');
    assert.equal(d.changes, 0);
  });

  test('/subscribe stores the subscription, wakes the scheduler and answers in the user’s language', async () => {
    const d = deps();
    const ctx = new FakeContext({
      commandName: 'subscribe',
      options: { channel: CHANNEL, day: 'fri', hour: 18, timezone: 'Europe/Berlin' },
      resolvedChannels: { [CHANNEL]: { id: CHANNEL, type: 0, guildId: GUILD } },
      memberPermissions: PermissionFlagsBits.ManageChannels,
      locale: 'ja',
    });
    await createDispatcher(commands, d).handleCommand(ctx);
    const saved = await d.subscriptions.get(CHANNEL);
    // Friday 2026-03-06 18:00 in Berlin (CET, UTC+1) is 17:00 UTC.
    assert.equal(saved?.nextRunAt, Date.UTC(2026, 2, 6, 17));
    assert.deepEqual(saved?.types, ['LORA', 'LoCon', 'DoRA']);
    assert.equal(d.changes, 1);
    assert.match(
      String(ctx.soleReply().message?.content),
      /^<#400000000000000009> を購読しました：毎週金曜日 18:00（Europe\/Berlin）/,
    );
  });

  test('an option outside its range is an ephemeral input error and no job starts', async () => {
    const d = deps();
    const ctx = new FakeContext({ commandName: 'audit', subcommand: 'top', options: { n: 500 } });
    await createDispatcher(commands, d).handleCommand(ctx);
    assert.match(String(ctx.soleReply().message?.content), /^That input is not valid: n: /);
    assert.equal(ctx.soleReply().message?.ephemeral, true);
    assert.equal((d.service as FakeAuditService).calls.length, 0);
  });

  test("an empty or blank /audit model gets the model sentence in the user's language, not a schema message", async () => {
    for (const [model, locale, sentence] of [
      ['', 'en-US', en['input.badModelRef']],
      ['   ', 'en-US', en['input.badModelRef']],
      ['', 'ja', ja['input.badModelRef']],
    ] as const) {
      const d = deps();
      const ctx = new FakeContext({ commandName: 'audit', subcommand: 'model', options: { model }, locale });
      await createDispatcher(commands, d).handleCommand(ctx);
      assert.equal(ctx.soleReply().message?.content, sentence, JSON.stringify(model));
      assert.equal(ctx.soleReply().message?.ephemeral, true);
      assert.equal((d.service as FakeAuditService).calls.length, 0);
    }
  });

  test('an empty /subscribe timezone gets the time-zone sentence and nothing is saved', async () => {
    for (const timezone of ['', '  ']) {
      const d = deps();
      const ctx = new FakeContext({
        commandName: 'subscribe',
        options: { channel: CHANNEL, timezone },
        resolvedChannels: { [CHANNEL]: { id: CHANNEL, type: 0, guildId: GUILD } },
        memberPermissions: PermissionFlagsBits.ManageChannels,
      });
      await createDispatcher(commands, d).handleCommand(ctx);
      assert.equal(
        ctx.soleReply().message?.content,
        en['sub.badTimezone'].replace('{timezone}', ''),
        JSON.stringify(timezone),
      );
      assert.equal(await d.subscriptions.get(CHANNEL), undefined);
      assert.equal(d.changes, 0);
    }
  });

  test('a throwing command is caught: internal errors get a reference, the dispatcher never rejects', async () => {
    const d = deps();
    d.subscriptions.listGuild = async () => {
      throw new Error('disk on fire');
    };
    const ctx = new FakeContext({ commandName: 'subscriptions' });
    await createDispatcher(commands, d).handleCommand(ctx);
    assert.match(
      String(ctx.soleReply().message?.content),
      /^Something failed inside loralens \(reference [0-9a-f]{8}\)\.$/,
    );
  });

  test('error view: user errors keep their sentence in English, get the localized generic sentence plus detail elsewhere', () => {
    const e = new UserInputError('Model ref must be a number.');
    assert.equal(describeError(e, 'en-US').sentence, 'Model ref must be a number.');
    assert.equal(describeError(e, 'zh-CN').sentence, '输入无效。 (Model ref must be a number.)');
    assert.equal(describeError(new AppError(ErrorCode.RATE_LIMITED, 'x'), 'ja').reference, null);
    const schema = describeError(new AppError(ErrorCode.CIVITAI_SCHEMA, 'bad'), 'en-US');
    assert.match(
      schema.sentence,
      /^Civitai sent data in a shape loralens does not understand\. Something failed inside loralens \(reference [0-9a-f]{8}\)\.$/,
    );
  });
});
