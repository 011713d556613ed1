import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { unzipSync } from 'fflate';
import { AppError, ErrorCode } from '../../src/analysis/errors.ts';
import { defaultResult, FakeAuditService, flagged, PNG_HEADER } from './support/fake-audit-service.ts';
import { type Harness, startHarness } from './support/harness.ts';
import {
  editsOf,
  embedsOf,
  eventually,
  finalEdit,
  isCallback,
  isFollowUp,
  isOriginalEdit,
  type LogEntry,
  recordingLogger,
} from './support/helpers.ts';

describe('/audit through the real discord.js client and the fake Discord', () => {
  let h: Harness;
  const log: LogEntry[] = [];
  before(async () => {
    h = await startHarness({ logger: recordingLogger(log) });
  });
  after(async () => {
    await h.close();
  });

  test('identifies with the Guilds and GuildMessageReactions intents over the JSON gateway', () => {
    assert.equal(h.discord.gateway.identifies.length, 1);
    const intents = h.discord.gateway.identifies[0]?.intents ?? 0;
    assert.equal(intents & 1, 1, 'Guilds');
    assert.equal(intents & (1 << 10), 1 << 10, 'GuildMessageReactions');
    assert.match(h.discord.gateway.query[0] ?? '', /v=10/);
    assert.match(h.discord.gateway.query[0] ?? '', /encoding=json/);
  });

  test('/audit model defers within the 3 s deadline, then edits the reply with the report and attachments', async () => {
    const i = h.discord.invoke({
      name: 'audit',
      subcommand: 'model',
      options: { model: 'https://civitai.com/models/11821/soraka' },
    });
    const cb = await h.discord.waitFor(isCallback(i));
    assert.equal(cb.body?.type, 5, 'deferred channel message');
    assert.equal((cb.body?.data as { flags?: number } | undefined)?.flags ?? 0, 0, 'public defer');
    assert.ok(cb.at - i.dispatchedAt < 3_000, `deferred after ${cb.at - i.dispatchedAt} ms`);

    const edit = await finalEdit(h.discord, i);
    const [embed] = embedsOf(edit);
    assert.equal(embed?.title, 'Model 11821');
    assert.equal(embed?.url, 'https://civitai.com/models/11821');
    assert.deepEqual(embed?.author, { name: 'alice' });
    assert.match(String(embed?.description), /^\*\*Flagged\*\* — 2 tag problems found in comments/);
    assert.match(String(embed?.description), /“Comment says the trigger word trigger is wrong”/);
    const fields = embed?.fields as Array<{ name: string; value: string }>;
    assert.equal(fields.find((f) => f.name === 'Versions')?.value, '2');
    assert.equal(fields.find((f) => f.name === 'Flagged items')?.value, '2 counted');
    assert.match(fields.find((f) => f.name === 'Notes')?.value ?? '', /without an API key/);

    assert.deepEqual(
      edit.files.map((f) => f.name),
      ['metrics.csv', 'Executive_Summary_EN.pdf', 'audit.json'],
    );
    const pdf = edit.files.find((f) => f.name === 'Executive_Summary_EN.pdf');
    assert.equal(pdf?.data.subarray(0, 5).toString('latin1'), '%PDF-');
    const csv = edit.files.find((f) => f.name === 'metrics.csv');
    const rows = parse(csv?.data ?? Buffer.alloc(0), { columns: true }) as Array<Record<string, string>>;
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.model_id, '11821');
    assert.equal(rows[0]?.verdict, 'flagged');
    assert.equal(rows[0]?.findings, '2');
    assert.equal(h.service.calls.at(-1)?.selection.kind, 'model');

    // One votable line per flagged item, with the ❌ seed reaction.
    const lines = await eventually(
      () => {
        const f = h.discord.requests.filter(isFollowUp(i));
        return f.length === 2 ? f : null;
      },
      5_000,
      'two item lines',
    );
    assert.match(String(lines[0]?.body?.content), /^`[0-9a-f]{6}` \*\*Rule trigger fired\*\*/);
    await h.discord.waitFor(
      (r) => r.method === 'PUT' && r.path.endsWith('/reactions/❌/@me') && r.status === 204,
    );
  });

  test('a free-text model is refused with one ephemeral sentence and no audit', async () => {
    const before = h.service.calls.length;
    const i = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: 'pony diffusion' } });
    const cb = await h.discord.waitFor(isCallback(i));
    assert.equal(cb.body?.type, 4);
    const data = cb.body?.data as { content: string; flags: number };
    assert.equal(data.flags & 64, 64, 'ephemeral');
    assert.equal(data.content, 'Pick a model from the list, or give a model id or a civitai.com model link.');
    assert.equal(h.service.calls.length, before);
  });

  test('the refusal is in the user’s language (ja), English being the fallback (fr)', async () => {
    const ja = h.discord.invoke({
      name: 'audit',
      subcommand: 'model',
      options: { model: 'pony' },
      locale: 'ja',
    });
    const fr = h.discord.invoke({
      name: 'audit',
      subcommand: 'model',
      options: { model: 'pony' },
      locale: 'fr',
    });
    const cbJa = await h.discord.waitFor(isCallback(ja));
    const cbFr = await h.discord.waitFor(isCallback(fr));
    assert.match(
      String((cbJa.body?.data as { content?: string } | undefined)?.content),
      /^一覧からモデルを選ぶか/,
    );
    assert.match(
      String((cbFr.body?.data as { content?: string } | undefined)?.content),
      /^Pick a model from the list/,
    );
  });

  test('a Civitai "not found" becomes an ephemeral sentence; the public placeholder is removed', async () => {
    h.service.failWith = new AppError(ErrorCode.CIVITAI_NOT_FOUND, 'model 999 not found');
    try {
      const i = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '999' } });
      const follow = await h.discord.waitFor(isFollowUp(i));
      assert.equal(follow.body?.content, 'Civitai has no such model or version.');
      assert.equal(Number(follow.body?.flags) & 64, 64);
      assert.ok(
        h.discord.requests.some(
          (r) => r.method === 'DELETE' && r.path.endsWith(`${i.token}/messages/@original`),
        ),
      );
    } finally {
      h.service.failWith = null;
    }
  });

  test('an internal failure answers "failed, reference <id>" and logs the cause under the same id', async () => {
    h.service.failWith = new TypeError('cannot read properties of undefined');
    try {
      const i = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '998' } });
      const follow = await h.discord.waitFor(isFollowUp(i));
      const m = /^Something failed inside loralens \(reference ([0-9a-f]{8})\)\.$/.exec(
        String(follow.body?.content),
      );
      assert.ok(m, String(follow.body?.content));
      const entry = log.find((e) => e.level === 'error' && e.obj.reference === m[1]);
      assert.ok(entry, 'logged with the reference');
      assert.match(String((entry.obj.err as Error).message), /cannot read properties/);
    } finally {
      h.service.failWith = null;
    }
    // The bot is still alive and answers the next command.
    const next = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '11821' } });
    await finalEdit(h.discord, next);
  });

  test('autocomplete answers with at most 25 choices and serves a repeated query from cache', async () => {
    h.service.hits = Array.from({ length: 40 }, (_, k) => ({
      id: 500 + k,
      name: `Pony style ${k}`,
      type: 'LORA',
      creator: 'bob',
    }));
    const a = h.discord.autocomplete({
      name: 'audit',
      subcommand: 'model',
      options: { model: 'pony' },
      focused: 'model',
    });
    const cb = await h.discord.waitFor(isCallback(a));
    assert.equal(cb.body?.type, 8);
    const choices =
      (cb.body?.data as { choices?: Array<{ name: string; value: string }> } | undefined)?.choices ?? [];
    assert.equal(choices.length, 25);
    assert.deepEqual(choices[0], { name: 'Pony style 0 · LORA · bob', value: '500' });
    assert.ok(cb.at - a.dispatchedAt < 3_000);
    const searches = h.service.searches.length;
    const b = h.discord.autocomplete({
      name: 'audit',
      subcommand: 'model',
      options: { model: 'Pony' },
      focused: 'model',
    });
    await h.discord.waitFor(isCallback(b));
    assert.equal(h.service.searches.length, searches, 'second identical query is cached');
  });

  test('no log line ever contains the bot token', () => {
    const token = 'MTEx.fake-token.for-tests-only-0123456789';
    for (const e of log)
      assert.ok(!JSON.stringify(e, (_k, v) => (v instanceof Error ? v.message : v)).includes(token));
  });
});

describe('/audit progress, queue and dedup', () => {
  let h: Harness;
  before(async () => {
    const service = new FakeAuditService();
    service.hold = true;
    service.progress = [
      { stage: 'images', done: 1, total: 3 },
      { stage: 'images', done: 2, total: 3 },
      { stage: 'images', done: 3, total: 3 },
    ];
    h = await startHarness({ service });
  });
  after(async () => {
    await h.close();
  });

  test('progress edits are throttled to one per 2 s; the latest progress is flushed after the interval', async () => {
    const i = h.discord.invoke({ name: 'audit', subcommand: 'top', options: { n: 5, types: 'LORA' } });
    await h.service.started(1);
    await h.discord.waitFor((r) => isOriginalEdit(i)(r) && r.body?.content === '🔎 Auditing…');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(editsOf(h.discord, i).length, 1, 'three progress events inside 2 s made no extra edit');
    h.clock.advance(2_000);
    const trailing = await h.discord.waitFor(
      (r) => isOriginalEdit(i)(r) && r.body?.content === '🔎 Fetching images 3/3…',
    );
    assert.ok(trailing);
    assert.equal(editsOf(h.discord, i).length, 2);

    // An identical request joins the running job; a different one waits in line.
    const twin = h.discord.invoke({
      name: 'audit',
      subcommand: 'top',
      options: { n: 5, types: 'LORA' },
      userId: '300000000000000002',
    });
    await h.discord.waitFor(
      (r) => isOriginalEdit(twin)(r) && /same audit is already running/.test(String(r.body?.content)),
    );
    const other = h.discord.invoke({ name: 'audit', subcommand: 'model', options: { model: '42' } });
    await h.discord.waitFor(
      (r) => isOriginalEdit(other)(r) && r.body?.content === '⏳ Queued: position 1 in line.',
    );
    assert.equal(h.service.calls.length, 1, 'one audit for two identical requests');
    const top = h.service.calls[0]?.selection;
    assert.ok(top?.kind === 'top');
    assert.deepEqual(top.types, ['LORA']);
    assert.equal(top.n, 5);

    h.service.release();
    const [a, b] = await Promise.all([finalEdit(h.discord, i), finalEdit(h.discord, twin)]);
    assert.match(String(embedsOf(a)[0]?.title), /^Top 5 · LORA · Most downloaded · All time$/);
    assert.equal(embedsOf(a)[0]?.description, embedsOf(b)[0]?.description);
    assert.match(String(embedsOf(a)[0]?.description), /^Audited 5: 2 flagged, 3 clean, 0 unknown\./);
    await h.service.started(2);
    assert.equal(h.service.calls[1]?.selection.kind, 'model');
    h.service.release();
    await finalEdit(h.discord, other);
  });
});

describe('/audit NSFW safety and attachment limits', () => {
  let h: Harness;
  const levels = [1, 2, 4, 16];
  before(async () => {
    const service = new FakeAuditService((selection) => {
      const result = defaultResult(selection);
      result.flaggedImages = levels.map((lvl, k) => flagged(77, 9000 + k, lvl));
      result.document.flaggedImages = result.flaggedImages.map((f) => ({ ...f, prompt: 'a prompt' }));
      return result;
    });
    levels.forEach((_, k) => {
      service.images.set(
        `https://image.civitai.com/x/${9000 + k}.png`,
        Buffer.concat([PNG_HEADER, Buffer.alloc(100_000, k + 1)]),
      );
    });
    h = await startHarness({ service });
  });
  after(async () => {
    await h.close();
  });

  test('outside age-restricted channels R/X images are withheld from the ZIP, the reply says how many, and the API browsing level is PG/PG-13', async () => {
    const i = h.discord.invoke({
      name: 'audit',
      subcommand: 'model',
      options: { model: '77' },
      channelId: h.general,
    });
    const edit = await finalEdit(h.discord, i);
    assert.equal(h.service.calls.at(-1)?.options.maxBrowsingLevel, 3);
    assert.match(
      String(edit.body?.content),
      /2 sample image\(s\) withheld: this channel is not age-restricted\./,
    );
    const zip = edit.files.find((f) => f.name === 'error_samples.zip');
    assert.ok(zip);
    const entries = unzipSync(new Uint8Array(zip.data));
    const images = Object.keys(entries).filter((n) => n.endsWith('.png'));
    assert.deepEqual(images.sort(), [
      '77-model-77-v770-i9000-low-match.png',
      '77-model-77-v770-i9001-low-match.png',
    ]);
    const levelsIn = images.map(
      (n) =>
        (
          JSON.parse(Buffer.from(entries[n.replace(/\.png$/, '.json')] ?? new Uint8Array()).toString()) as {
            nsfwLevel: number;
          }
        ).nsfwLevel,
    );
    assert.deepEqual(levelsIn.sort(), [1, 2]);
    const manifest = JSON.parse(Buffer.from(entries['manifest.json'] ?? new Uint8Array()).toString()) as {
      withheld: number;
    };
    assert.equal(manifest.withheld, 2);
    assert.ok(
      !h.service.imageFetches.includes('https://image.civitai.com/x/9002.png'),
      'R image never even downloaded',
    );
  });

  test('in an age-restricted channel every flagged image is attached and the browsing level is unrestricted', async () => {
    const i = h.discord.invoke({
      name: 'audit',
      subcommand: 'model',
      options: { model: '77' },
      channelId: h.adult,
    });
    const edit = await finalEdit(h.discord, i);
    assert.equal(h.service.calls.at(-1)?.options.maxBrowsingLevel, 31);
    assert.doesNotMatch(String(edit.body?.content), /withheld/);
    const zip = edit.files.find((f) => f.name === 'error_samples.zip');
    const images = Object.keys(unzipSync(new Uint8Array(zip?.data ?? Buffer.alloc(0)))).filter((n) =>
      n.endsWith('.png'),
    );
    assert.equal(images.length, 4);
  });

  test('a ZIP over the channel upload limit is shrunk to fit, and the reply says so', async () => {
    const i = h.discord.invoke({
      name: 'audit',
      subcommand: 'model',
      options: { model: '77' },
      channelId: h.adult,
      attachmentSizeLimit: 250_000,
    });
    const edit = await finalEdit(h.discord, i);
    const zip = edit.files.find((f) => f.name === 'error_samples.zip');
    assert.ok(zip && zip.data.length <= 250_000, `zip ${zip?.data.length} bytes`);
    assert.match(
      String(edit.body?.content),
      /error_samples\.zip reduced to 2 of 4 images to fit the upload limit\./,
    );
  });
});

describe('/audit in a DM with the bot', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  test('works outside a server, treats the DM as not age-restricted, and /subscribe is refused there', async () => {
    const dmChannel = '600000000000000001';
    const i = h.discord.invoke({
      name: 'audit',
      subcommand: 'model',
      options: { model: '11821' },
      dm: true,
      channelId: dmChannel,
    });
    await finalEdit(h.discord, i);
    assert.equal(h.service.calls.at(-1)?.options.maxBrowsingLevel, 3);
    const s = h.discord.invoke({
      name: 'subscribe',
      options: { channel: { channelId: h.general } },
      dm: true,
      channelId: dmChannel,
    });
    const cb = await h.discord.waitFor(isCallback(s));
    assert.equal(
      (cb.body?.data as { content?: string } | undefined)?.content,
      'This command only works inside a server.',
    );
  });
});
