import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { escapeUserText } from '../../src/bot/discord-text.ts';
import { defaultResult, FakeAuditService, finding, model } from './support/fake-audit-service.ts';
import { type Harness, startHarness } from './support/harness.ts';
import { embedsOf, eventually, finalEdit, isFollowUp, isOriginalEdit } from './support/helpers.ts';

const HOSTILE = '@everyone **x** <@123>';

describe('user-controlled text in Discord messages', () => {
  test('escapeUserText neutralises Markdown, mentions, masked links, headings and quotes', () => {
    const out = escapeUserText('@everyone **x** <@123> <@&45> <#67> @here [click](https://evil.example) _y_');
    assert.equal(
      out,
      '@\u200beveryone \\*\\*x\\*\\* <@\u200b123> <@&\u200b45> <#\u200b67> @\u200bhere \\[click](https://evil.example) \\_y\\_',
    );
    assert.equal(
      escapeUserText('# title\n> quote\n- item\n1. first'),
      '\\# title\n\\> quote\n\\- item\n1\\. first',
    );
    assert.equal(escapeUserText('plain text, 100% fine'), 'plain text, 100% fine');
  });

  describe('a model named "@everyone **x** <@123>"', () => {
    let h: Harness;
    before(async () => {
      const service = new FakeAuditService((selection) => {
        const result = defaultResult(selection);
        result.models = [
          model(
            5,
            [finding(5, 'trigger', { evidence: `${HOSTILE} says the trigger is wrong`, title: HOSTILE })],
            {
              name: HOSTILE,
              verdictLine: `1 problem in ${HOSTILE}`,
            },
          ),
        ];
        return result;
      });
      h = await startHarness({ service });
    });
    after(async () => {
      await h.close();
    });

    test('is escaped in the embed and the item line, and no message may ping anyone', async () => {
      const i = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '5' } });
      const edit = await finalEdit(h.discord, i);
      const [embed] = embedsOf(edit);
      assert.equal(embed?.title, '@\u200beveryone \\*\\*x\\*\\* <@\u200b123>');
      assert.ok(!String(embed?.description).includes('<@123>'), String(embed?.description));
      assert.ok(!String(embed?.description).includes('**x**'), String(embed?.description));
      assert.ok(!/@everyone/.test(JSON.stringify(embed)), 'no live @everyone anywhere in the embed');
      const line = await eventually(() => h.discord.requests.find(isFollowUp(i)), 5_000, 'item line');
      assert.ok(!String(line.body?.content).includes('<@123>'), String(line.body?.content));
      assert.ok(!/@everyone/.test(String(line.body?.content)));
      for (const r of h.discord.requests.filter((r) => isOriginalEdit(i)(r) || isFollowUp(i)(r))) {
        assert.deepEqual((r.body?.allowed_mentions as { parse?: unknown } | undefined)?.parse, [], r.path);
      }
    });
  });
});

describe('long evidence in Discord messages', () => {
  const words = Array.from({ length: 120 }, (_, i) => `word${i}z`).join(' ');
  let h: Harness;
  before(async () => {
    const service = new FakeAuditService((selection) => {
      const result = defaultResult(selection);
      result.models = [model(6, [finding(6, 'trigger', { evidence: words, title: 'Long report' })])];
      return result;
    });
    h = await startHarness({ service });
  });
  after(async () => {
    await h.close();
  });

  test('is cut at a word boundary with an ellipsis in the embed and the item line', async () => {
    const i = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '6' } });
    const edit = await finalEdit(h.discord, i);
    const description = String(embedsOf(edit)[0]?.description);
    const line = await eventually(() => h.discord.requests.find(isFollowUp(i)), 5_000, 'item line');
    for (const text of [description, String(line.body?.content)]) {
      const cut = /(\S+)…/.exec(text);
      assert.ok(cut, text);
      // The word before the ellipsis is whole (every word ends in z): one of the evidence's words.
      assert.ok(words.split(' ').includes(cut[1]!), `cut mid-word: ${cut[1]}`);
    }
  });
});
