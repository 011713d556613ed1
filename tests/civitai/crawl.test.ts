import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { collectRecords } from '../../src/analysis/audit/collect.ts';
import { TopSelection } from '../../src/analysis/audit/types.ts';
import {
  DEFAULT_CRAWL_OPTIONS,
  inDateWindow,
  iterateTopModels,
  normalizeTrainedWords,
  parseModelRef,
  toSampleImage,
} from '../../src/analysis/civitai/crawl.ts';
import { Model } from '../../src/analysis/civitai/schemas.ts';
import { isAppError } from '../../src/analysis/errors.ts';
import type { Catalogue } from '../support/catalogue.ts';
import { type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { needsShared, skipIfMissing } from '../support/requirements.ts';
import { readShared, sharedCatalogue } from '../support/shared-catalogue.ts';
import { testClient } from '../support/test-client.ts';

// The replay serves the recorded models in ../shared; without that folder its tests are skipped.
const shared = needsShared();
let catalogue: Catalogue;
let replay: CivitaiReplay;
before(async () => {
  if (shared.skip) return;
  catalogue = sharedCatalogue(320);
  replay = await startCivitaiReplay({ catalogue });
});
after(() => replay?.close());

const top = (n: number, extra: Partial<TopSelection> = {}) =>
  TopSelection.parse({ kind: 'top', n, from: '2022-01-01', to: '2026-12-31', ...extra });

describe('top-N listing', shared, () => {
  test('N=250 is paged with cursors (limit ≤ 100) and returns 250 distinct models of the asked types', async () => {
    const t = testClient(replay.url);
    const start = replay.requests.length;
    const models = [];
    for await (const m of iterateTopModels(t.client, top(250))) models.push(m);
    assert.equal(models.length, 250);
    assert.equal(new Set(models.map((m) => m.id)).size, 250);
    assert.ok(models.every((m) => ['LORA', 'LoCon', 'DoRA'].includes(m.type)));
    const listing = replay.requests.slice(start).filter((r) => r.path.startsWith('/api/v1/models?'));
    assert.equal(listing.length, 3);
    assert.ok(listing.every((r) => /limit=100/.test(r.path) && !/page=/.test(r.path)));
    assert.match(listing[1]?.path ?? '', /cursor=100%7C/);
    // Order follows the listing (most downloaded first).
    const downloads = models.map((m) => m.stats?.downloadCount ?? 0);
    assert.deepEqual(
      downloads,
      [...downloads].sort((a, b) => b - a),
    );
    await t.close();
  });

  test('N larger than what exists returns everything that matches, without looping', async () => {
    const t = testClient(replay.url);
    const models = [];
    for await (const m of iterateTopModels(t.client, top(5000))) models.push(m);
    const expected = catalogue.models.filter((m) => ['LORA', 'LoCon', 'DoRA'].includes(m.type as string));
    assert.equal(models.length, expected.length);
    await t.close();
  });

  test('type filtering: only LoCon asked → only LoCon, sent as types=LoCon', async () => {
    const t = testClient(replay.url);
    const start = replay.requests.length;
    const models = [];
    for await (const m of iterateTopModels(t.client, top(30, { types: ['LoCon'] }))) models.push(m);
    assert.equal(models.length, 30);
    assert.ok(models.every((m) => m.type === 'LoCon'));
    assert.ok(
      replay.requests
        .slice(start)
        .every((r) => !r.path.startsWith('/api/v1/models?') || /types=LoCon(&|$)/.test(r.path)),
    );
    await t.close();
  });

  test('the published-date window keeps only models first published inside it (inclusive)', async () => {
    const t = testClient(replay.url);
    const models = [];
    for await (const m of iterateTopModels(t.client, top(1000, { from: '2024-01-01', to: '2024-12-31' })))
      models.push(m);
    assert.ok(models.length > 10);
    for (const m of models) {
      const first = m.modelVersions.map((v) => v.publishedAt ?? '').sort()[0] ?? '';
      assert.ok(first >= '2024-01-01' && first < '2025-01-01', `${m.id} first published ${first}`);
    }
    const all = catalogue.models.filter((m) => ['LORA', 'LoCon', 'DoRA'].includes(m.type as string));
    const expected = all.filter((m) => inDateWindow(Model.parse(m), '2024-01-01', '2024-12-31'));
    assert.equal(models.length, expected.length);
    await t.close();
  });
});

describe('one model', () => {
  test('crawl record holds versions, changelogs, files, images with prompts, and the kohya header', async (ctx) => {
    if (skipIfMissing(ctx, shared)) return;
    const t = testClient(replay.url);
    const { records } = await collectRecords(
      { client: t.client, clock: t.clock },
      { kind: 'model', ref: '101892' },
      DEFAULT_CRAWL_OPTIONS,
    );
    const [r] = records;
    assert.ok(r);
    assert.equal(r.id, 101892);
    assert.equal(
      r.fetchedAt,
      new Date(t.clock.now()).toISOString(),
      'fetchedAt comes from the injected clock',
    );
    assert.equal(r.versions.length, 1);
    const v = r.versions[0]!;
    assert.deepEqual(v.triggerWords, ['RetroXL', 'toon (style)', 'flat color', 'black eyes']);
    assert.equal(v.imagesSource, 'images-api');
    const video = v.images.find((im) => im.kind === 'video');
    assert.match(video?.skipped ?? '', /video/);
    const withPrompt = v.images.filter((im) => im.prompt !== null);
    assert.equal(withPrompt.length, 9);
    assert.match(withPrompt[0]?.prompt ?? '', /RetroXL/);
    assert.ok(v.images.every((im) => im.url.startsWith(replay.url)));
    assert.equal(v.training?.status, 'ok');
    assert.equal(v.training?.outputName, 'Soraka_Classic');
    assert.equal(v.training?.tagFrequency?.Soraka_Classic?.soraka_classic, 38);
    assert.deepEqual(v.training?.datasetDirs?.Soraka_Classic, { n_repeats: 10, img_count: 46 });
    assert.equal(r.comments.status, 'unavailable');
    assert.match(r.comments.reason ?? '', /CIVITAI_API_KEY/);
    await t.close();
  });

  test('images are asked for with withMeta=true (prompts are null otherwise)', shared, async () => {
    const t = testClient(replay.url);
    const page = await t.client.listImages({
      modelVersionId: 1448477,
      limit: 10,
      browsingLevel: 3,
      nsfw: false,
    });
    assert.ok(page.items.some((i) => i.meta && (i.meta as { prompt?: unknown }).prompt));
    const req = replay.requests.filter((r) => r.path.startsWith('/api/v1/images?')).at(-1);
    assert.match(req?.path ?? '', /withMeta=true/);
    await t.close();
  });

  test('a model URL with a version id parses; junk does not', () => {
    assert.deepEqual(parseModelRef('https://civitai.com/models/11821/vsk-94?modelVersionId=127062'), {
      modelId: 11821,
      versionId: 127062,
    });
    assert.deepEqual(parseModelRef(' 42 '), { modelId: 42, versionId: undefined });
    for (const bad of ['abc', 'https://civitai.com/images/5', 'ftp://civitai.com/models/3', '0', '-3']) {
      assert.throws(
        () => parseModelRef(bad),
        (e: unknown) => isAppError(e) && e.code === 'INPUT_INVALID',
        bad,
      );
    }
  });

  test('an unknown model id is a user error with one sentence', shared, async () => {
    const t = testClient(replay.url);
    await assert.rejects(
      collectRecords({ client: t.client }, { kind: 'model', ref: '424242424' }, DEFAULT_CRAWL_OPTIONS),
      (e: unknown) =>
        isAppError(e) && e.userFault && e.userMessage === 'Civitai has no model with id 424242424.',
    );
    await t.close();
  });

  test('by hash: SHA256 of a real version file resolves to its model', shared, async () => {
    const t = testClient(replay.url);
    const sha = '324965B61F03B1915AFA5C616FDFDC486AE6A72E591868B5168BE99C34964C60';
    const { records, notes } = await collectRecords(
      { client: t.client },
      { kind: 'hash', hash: sha.toLowerCase() },
      DEFAULT_CRAWL_OPTIONS,
    );
    assert.equal(records[0]?.id, 101892);
    assert.match(notes[0] ?? '', /version 1448477/);
    await t.close();
  });
});

describe('comments and reviews through tRPC', shared, () => {
  for (const encoding of ['superjson', 'devalue'] as const) {
    test(`with an API key they are read, paged, hidden ones dropped (${encoding})`, async () => {
      const r2 = await startCivitaiReplay({ catalogue, trpcEncoding: encoding });
      const t = testClient(r2.url, { apiKey: 'k-1234567890' });
      const { records } = await collectRecords(
        { client: t.client },
        { kind: 'model', ref: '11821' },
        DEFAULT_CRAWL_OPTIONS,
      );
      const c = records[0]!.comments;
      assert.equal(c.status, 'ok');
      const comments = c.items.filter((i) => i.kind === 'comment');
      assert.equal(comments.length, 129); // 130 minus one hidden, across two pages of 100
      assert.equal(r2.requests.filter((r) => r.path.startsWith('/api/trpc/comment.getAll')).length, 2);
      assert.ok(comments.some((i) => i.text.includes('タグが間違っています')));
      assert.ok(comments.every((i) => !i.text.includes('<p>')));
      assert.equal(typeof comments[0]?.createdAt, 'string');
      assert.ok(
        r2.requests.every(
          (r) => !r.path.startsWith('/api/trpc/') || r.headers.authorization === 'Bearer k-1234567890',
        ),
      );
      await t.close();
      await r2.close();
    });
  }

  test('reviews and their threads are read', async () => {
    const t = testClient(replay.url, { apiKey: 'k-1234567890' });
    const { records } = await collectRecords(
      { client: t.client },
      { kind: 'model', ref: '1580878' },
      DEFAULT_CRAWL_OPTIONS,
    );
    const items = records[0]!.comments.items;
    assert.deepEqual(
      items.map((i) => [i.kind, i.id]),
      [
        ['review', 7001],
        ['review', 7002],
        ['review-comment', 8001],
        ['review-comment', 8002],
      ],
    );
    assert.equal(items[0]?.versionId, 1967584);
    assert.equal(items[0]?.rating, 4);
    await t.close();
  });

  test('without an API key no tRPC call is made and the record says why', async () => {
    const t = testClient(replay.url);
    const start = replay.requests.length;
    const { records } = await collectRecords(
      { client: t.client },
      { kind: 'model', ref: '11821' },
      DEFAULT_CRAWL_OPTIONS,
    );
    assert.equal(records[0]?.comments.status, 'unavailable');
    assert.equal(replay.requests.slice(start).filter((r) => r.path.startsWith('/api/trpc/')).length, 0);
    await t.close();
  });

  test('when Civitai refuses (UNAUTHORIZED envelope) the crawl goes on without comments', async () => {
    const t = testClient(replay.url, { apiKey: 'k-1234567890' });
    replay.inject({ match: /comment\.getAll/, kind: 'missing-field', field: 'result.data.json.comments' });
    const { records } = await collectRecords(
      { client: t.client },
      { kind: 'model', ref: '11821' },
      DEFAULT_CRAWL_OPTIONS,
    );
    assert.equal(records[0]?.comments.status, 'unavailable');
    assert.match(records[0]?.comments.reason ?? '', /refused|understand/);
    assert.equal(records[0]?.versions.length, 2);
    await t.close();
  });
});

describe('normalisation', () => {
  test('trained words: commas split, escapes removed, empties and repeats dropped', () => {
    assert.deepEqual(
      normalizeTrainedWords(['RetroXL,,', 'toon \\(style\\), flat color, black eyes,,', 'retroxl']),
      ['RetroXL', 'toon (style)', 'flat color', 'black eyes'],
    );
    assert.deepEqual(normalizeTrainedWords(['Thigh clothes, semi-realistic, shiny skin']), [
      'Thigh clothes',
      'semi-realistic',
      'shiny skin',
    ]);
  });

  test('nested meta (meta.meta.prompt) and flat meta both give the prompt', () => {
    const flat = toSampleImage(
      { id: 1, url: 'https://image.civitai.com/a/1.jpeg', meta: { prompt: 'a cat' } },
      0,
    );
    const nested = toSampleImage(
      {
        id: 2,
        url: 'https://image.civitai.com/a/2.jpeg',
        meta: { id: 9, meta: { prompt: 'a dog' } },
      } as never,
      0,
    );
    const none = toSampleImage({ id: 3, url: 'https://image.civitai.com/a/3.jpeg', meta: null }, 0);
    assert.equal(flat.prompt, 'a cat');
    assert.equal(nested.prompt, 'a dog');
    assert.equal(none.prompt, null);
    assert.match(none.skipped ?? '', /no prompt/);
    assert.equal(toSampleImage({ id: 4, url: 'x/4.jpeg', nsfwLevel: 'Mature' }, 0).nsfwLevel, 4);
    assert.equal(toSampleImage({ id: 5, url: 'x/5.jpeg', nsfwLevel: null }, 0).nsfwLevel, 16);
  });

  test('the real version fixture validates and its images normalise', shared, () => {
    const v = readShared<{ images: unknown[] }>(
      'fixtures/civitai/model-version-1448477-lora-illustrious.json',
    );
    const images = (v.images as Parameters<typeof toSampleImage>[0][]).map((im, i) => toSampleImage(im, i));
    assert.equal(images.filter((i) => i.kind === 'video').length, 1);
    assert.ok(
      images.some((i) => i.resources.some((r) => r.type === 'lora' && r.name === 'RetroToonXL_Style-10-IL')),
    );
  });
});

describe('review fixes', () => {
  test('unrated (0), missing and junk image levels count as the most restricted', () => {
    for (const v of [0, '0', -1, null, undefined, 'weird']) {
      assert.equal(
        toSampleImage({ id: 1, url: 'x/1.jpeg', nsfwLevel: v as never }, 0).nsfwLevel,
        16,
        String(v),
      );
    }
    assert.equal(toSampleImage({ id: 1, url: 'x/1.jpeg', nsfwLevel: 2 }, 0).nsfwLevel, 2);
  });

  test('model URLs: scheme optional, host must be Civitai (or the configured one)', () => {
    assert.equal(parseModelRef('civitai.com/models/11821/vsk-94').modelId, 11821);
    assert.equal(parseModelRef('https://www.civitai.com/models/5').modelId, 5);
    assert.throws(
      () => parseModelRef('https://evil.example/models/123'),
      (e: unknown) => isAppError(e) && e.userFault,
    );
    assert.equal(parseModelRef('http://127.0.0.1:8080/models/7', ['127.0.0.1:8080']).modelId, 7);
  });

  test('a model URL naming an older version crawls that version too (images and header)', async (ctx) => {
    if (skipIfMissing(ctx, shared)) return;
    const t = testClient(replay.url);
    const { records } = await collectRecords(
      { client: t.client },
      { kind: 'model', ref: 'https://civitai.com/models/11821?modelVersionId=13966' },
      { ...DEFAULT_CRAWL_OPTIONS, versionsWithImages: 1, headerVersions: 1 },
    );
    const r = records[0]!;
    assert.equal(r.targetVersionId, 13966);
    const old = r.versions.find((v) => v.id === 13966)!;
    assert.notEqual(old.training, null, 'the target version header was read');
    assert.ok(old.images.length > 0, 'the target version images were fetched');
    await assert.rejects(
      collectRecords(
        { client: t.client },
        { kind: 'model', ref: 'https://civitai.com/models/11821?modelVersionId=1' },
        DEFAULT_CRAWL_OPTIONS,
      ),
      (e: unknown) => isAppError(e) && e.userFault && /no published version 1/.test(e.userMessage),
    );
    await t.close();
  });

  test('comments already read survive when a later endpoint (reviews) fails', shared, async () => {
    const t = testClient(replay.url, { apiKey: 'k-1234567890', maxRetries: 0 });
    replay.inject({ match: /resourceReview\.getInfinite/, kind: '500', times: 1 });
    const { records } = await collectRecords(
      { client: t.client },
      { kind: 'model', ref: '11821' },
      DEFAULT_CRAWL_OPTIONS,
    );
    const c = records[0]!.comments;
    assert.equal(c.status, 'ok');
    assert.match(c.reason ?? '', /^partial/);
    assert.equal(c.items.filter((i) => i.kind === 'comment').length, 129);
    await t.close();
  });
});
