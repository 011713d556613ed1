import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuditSelection } from '../../src/analysis/audit/types.ts';
import { isAppError } from '../../src/analysis/errors.ts';
import { silentLogger } from '../../src/analysis/ports.ts';
import { ModelSearchCache } from '../../src/bot/autocomplete.ts';
import { loadBotConfig } from '../../src/bot/config.ts';
import { planAttachments } from '../../src/bot/report/attachments.ts';
import { renderReportEmbeds } from '../../src/bot/report/render.ts';
import { DiscordLimits, embedLength } from '../../src/commands/discord-limits.ts';
import { nextWeeklyRun } from '../../src/commands/weekly-slot.ts';
import { documentOf, FakeAuditService, finding, metricsCsv, model } from './support/fake-audit-service.ts';
import { ManualClock } from './support/manual-clock.ts';

describe('report rendering stays inside Discord limits', () => {
  test('a top-200 report with long names and evidence fits every embed limit and says how many are left out', () => {
    const long = 'x'.repeat(500);
    const models = Array.from({ length: 200 }, (_, i) =>
      model(i + 1, [finding(i + 1, `r${i}`, { evidence: long, title: long })], {
        name: `${long}${i}`,
        verdictLine: long,
      }),
    );
    const selection = AuditSelection.parse({ kind: 'top', n: 200 });
    const notes = Array.from({ length: 50 }, () => long);
    const result = {
      generatedAt: '2026-03-02T00:00:00Z',
      selection,
      models,
      notes,
      flaggedImages: [],
      document: documentOf(selection, models, notes),
      files: [metricsCsv(models)],
    };
    const embeds = renderReportEmbeds({
      result,
      locale: 'en-US',
      disputed: new Set(),
      precision: new Map([['text', { shown: 10, disputed: 1 }]]),
      chartNames: Array.from({ length: 12 }, (_, i) => `chart-${i}.png`),
      feedbackEmoji: '❌',
    });
    assert.ok(embeds.length <= DiscordLimits.embedsPerMessage);
    const total = embeds.reduce((n, e) => n + embedLength(e), 0);
    assert.ok(total <= DiscordLimits.embedsTotal, `total ${total}`);
    const [main] = embeds;
    assert.ok((main?.description?.length ?? 0) <= DiscordLimits.embedDescription);
    assert.match(main?.description ?? '', /…and \d+ more flagged models in metrics\.csv\.$/);
    for (const f of main?.fields ?? [])
      assert.ok(f.value.length <= DiscordLimits.fieldValue && f.name.length <= DiscordLimits.fieldName);
    assert.equal(main?.image?.url, 'attachment://chart-0.png');
  });

  test('attachments: at most 10 files, over-limit files omitted with a reason, CSV first', () => {
    const files = Array.from({ length: 12 }, (_, i) => ({
      name: `chart-${i}.png`,
      contentType: 'image/png',
      data: Buffer.alloc(10),
    }));
    files.push({ name: 'huge.pdf', contentType: 'application/pdf', data: Buffer.alloc(2_000) });
    files.push({ name: 'metrics.csv', contentType: 'text/csv', data: Buffer.from('a\n1\n') });
    files.push({ name: 'error_samples.zip', contentType: 'application/zip', data: Buffer.alloc(5) });
    const plan = planAttachments(files, [], 1_000);
    assert.equal(plan.files.length, 10);
    assert.equal(plan.files[0]?.name, 'metrics.csv');
    assert.ok(
      !plan.files.some((f) => f.name === 'error_samples.zip'),
      'the service ZIP is never forwarded unchecked',
    );
    assert.deepEqual(
      plan.omitted.find((o) => o.name === 'huge.pdf'),
      { name: 'huge.pdf', reason: 'tooLarge' },
    );
    assert.equal(plan.omitted.filter((o) => o.reason === 'tooMany').length, 3);
  });
});

describe('weekly slot computation', () => {
  test('next slot is strictly after now, in the subscription time zone, across a DST change', () => {
    const slot = { day: 'mon' as const, hour: 9, timezone: 'Europe/Berlin' };
    // Before the 2026-03-29 switch Berlin is UTC+1, after it UTC+2.
    assert.equal(nextWeeklyRun(slot, Date.UTC(2026, 2, 20)), Date.UTC(2026, 2, 23, 8));
    assert.equal(nextWeeklyRun(slot, Date.UTC(2026, 2, 23, 8)), Date.UTC(2026, 2, 30, 7));
    assert.equal(
      nextWeeklyRun({ day: 'sun', hour: 0, timezone: 'UTC' }, Date.UTC(2026, 2, 1, 0, 0, 0)),
      Date.UTC(2026, 2, 8),
    );
  });
});

describe('autocomplete cache', () => {
  test('a slow search answers within the budget from the best cached prefix, and fills the cache when it lands', async () => {
    const service = new FakeAuditService();
    service.hits = [
      { id: 1, name: 'Pony Soraka', type: 'LORA', creator: 'a' },
      { id: 2, name: 'Pony Style', type: 'LoCon', creator: null },
      { id: 3, name: 'Other', type: 'LORA', creator: 'b' },
    ];
    const clock = new ManualClock();
    const cache = new ModelSearchCache({ service, clock, logger: silentLogger, budgetMs: 2_000 });
    assert.equal((await cache.choices('pony')).length, 2);
    service.searchDelayMs = 200;
    const pending = cache.choices('pony s');
    await new Promise((r) => setTimeout(r, 20));
    clock.advance(2_000);
    const fromCache = await pending;
    assert.deepEqual(fromCache, [
      { name: 'Pony Soraka · LORA · a', value: '1' },
      { name: 'Pony Style · LoCon', value: '2' },
    ]);
    await new Promise((r) => setTimeout(r, 250));
    const searches = service.searches.length;
    await cache.choices('pony s');
    assert.equal(service.searches.length, searches, 'the late answer was cached');
  });

  test('a model id or civitai link is offered as typed', async () => {
    const cache = new ModelSearchCache({
      service: new FakeAuditService(),
      clock: new ManualClock(),
      logger: silentLogger,
    });
    assert.deepEqual(await cache.choices('https://civitai.com/models/11821/x'), [
      { name: 'https://civitai.com/models/11821/x', value: 'https://civitai.com/models/11821/x' },
    ]);
    assert.deepEqual((await cache.choices('11821'))[0], { name: '11821', value: '11821' });
  });
});

describe('bot configuration', () => {
  const base = {
    DISCORD_TOKEN: 'MTEx.secret-token-value.abcdef',
    DISCORD_APPLICATION_ID: '200000000000000001',
  };
  test('defaults apply and DISCORD_API_URL loses its trailing slash', () => {
    const c = loadBotConfig({ ...base, DISCORD_API_URL: 'http://127.0.0.1:9/api/', DISCORD_GUILD_ID: '' });
    assert.equal(c.apiUrl, 'http://127.0.0.1:9/api');
    assert.equal(c.guildId, undefined);
    assert.equal(c.feedbackEmoji, '❌');
    assert.equal(c.disputeVotes, 3);
    assert.equal(c.progressIntervalMs, 2_000);
  });

  test('a bad value is one CONFIG_INVALID sentence that never contains the token', () => {
    for (const env of [
      { ...base, LORALENS_DISPUTE_VOTES: 'many' },
      { ...base, DISCORD_APPLICATION_ID: base.DISCORD_TOKEN },
    ]) {
      assert.throws(
        () => loadBotConfig(env),
        (e: unknown) => {
          assert.ok(isAppError(e) && e.code === 'CONFIG_INVALID');
          assert.ok(
            !JSON.stringify({ m: e.message, u: e.userMessage, d: e.details }).includes(base.DISCORD_TOKEN),
          );
          return true;
        },
      );
    }
    assert.throws(
      () => loadBotConfig({ DISCORD_APPLICATION_ID: base.DISCORD_APPLICATION_ID }),
      /DISCORD_TOKEN/,
    );
  });
});
