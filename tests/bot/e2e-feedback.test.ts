import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { itemRef } from '../../src/bot/report/render.ts';
import type { FakeInteraction } from '../support/fake-discord/server.ts';
import { type Harness, startHarness } from './support/harness.ts';
import { embedsOf, eventually, finalEdit, isFollowUp } from './support/helpers.ts';

const ALICE = '300000000000000011';
const BOB = '300000000000000012';
// The item keys FakeAuditService gives model 4242's two findings.
const TRIGGER = '4242:text:trigger:abc7';
const DRIFT = '4242:text:caption-drift:abc13';

describe('reaction feedback on report item lines', () => {
  let h: Harness;
  let lineFor: Map<string, string>;
  const react = (userId: string, messageId: string, emoji = '❌') =>
    h.discord.react({ userId, channelId: h.general, messageId, emoji });
  const unreact = (userId: string, messageId: string) =>
    h.discord.unreact({ userId, channelId: h.general, messageId, emoji: '❌' });
  const audit = async (): Promise<FakeInteraction> => {
    const i = h.discord.invoke({
      name: 'audit',
      subcommand: 'model',
      options: { model: '4242' },
      channelId: h.general,
    });
    await finalEdit(h.discord, i);
    return i;
  };

  before(async () => {
    h = await startHarness({ config: { disputeVotes: 2 } });
    const i = await audit();
    const lines = await eventually(() => {
      const f = h.discord.requests.filter((r) => isFollowUp(i)(r) && r.status === 200);
      return f.length === 2 ? f : null;
    });
    // Map each item ref to the id of the message that carries it.
    lineFor = new Map();
    for (const m of h.discord.messages.values()) {
      for (const key of [TRIGGER, DRIFT])
        if (m.content.startsWith(`\`${itemRef(key)}\``)) lineFor.set(key, m.id);
    }
    assert.equal(lines.length, 2);
    assert.equal(lineFor.size, 2);
  });
  after(async () => {
    await h.close();
  });

  test('a ❌ is one vote per user: repeated reactions do not add, and other emoji and the bot’s own seed are ignored', async () => {
    const msg = lineFor.get(TRIGGER) ?? '';
    react(ALICE, msg);
    react(ALICE, msg);
    react(ALICE, msg, '👍');
    react(h.discord.botUserId, msg);
    await eventually(async () => (await h.bot.feedback.votesFor(TRIGGER)).length === 1, 3_000, 'alice vote');
    await new Promise((r) => setTimeout(r, 150));
    const votes = await h.bot.feedback.votesFor(TRIGGER);
    assert.deepEqual(
      votes.map((v) => v.userId),
      [ALICE],
    );
    assert.equal((await h.bot.feedback.status(TRIGGER)).disputed, false);
  });

  test('a second user’s vote disputes the item; removing a reaction withdraws the vote', async () => {
    const msg = lineFor.get(TRIGGER) ?? '';
    react(BOB, msg);
    await eventually(async () => (await h.bot.feedback.status(TRIGGER)).disputed, 3_000, 'disputed');
    unreact(BOB, msg);
    await eventually(async () => !(await h.bot.feedback.status(TRIGGER)).disputed, 3_000, 'withdrawn');
    assert.deepEqual(
      (await h.bot.feedback.votesFor(TRIGGER)).map((v) => v.userId),
      [ALICE],
    );
    react(BOB, msg);
    await eventually(async () => (await h.bot.feedback.status(TRIGGER)).disputed, 3_000, 'disputed again');
  });

  test('the next report shows the disputed item struck through, excludes it from counts, and shows detector precision', async () => {
    const i = await audit();
    const edit = await finalEdit(h.discord, i);
    const [embed] = embedsOf(edit);
    const description = String(embed?.description);
    assert.match(
      description,
      new RegExp(`~~\`${itemRef(TRIGGER)}\` Rule trigger fired~~ \\*\\(disputed\\)\\*`),
    );
    const fields = embed?.fields as Array<{ name: string; value: string }>;
    assert.equal(fields.find((f) => f.name === 'Flagged items')?.value, '1 counted · 1 disputed (excluded)');
    // Two text items shown so far, one disputed: 50 %.
    assert.equal(
      fields.find((f) => f.name === 'Detector precision (reader feedback)')?.value,
      'text: 50% (1 of 2 disputed)',
    );
    // Only the undisputed item gets a new votable line.
    const lines = await eventually(() => {
      const f = h.discord.requests.filter((r) => isFollowUp(i)(r) && r.status === 200);
      return f.length >= 1 ? f : null;
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.discord.requests.filter((r) => isFollowUp(i)(r)).length, 1);
    assert.match(String(lines[0]?.body?.content), new RegExp(`^\`${itemRef(DRIFT)}\``));
  });
});
