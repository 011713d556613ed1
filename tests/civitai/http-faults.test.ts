import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CivitaiSchemaError } from '../../src/analysis/civitai/errors.ts';
import { parseRetryAfter } from '../../src/analysis/civitai/http.ts';
import { isAppError } from '../../src/analysis/errors.ts';
import { type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { needsShared } from '../support/requirements.ts';
import { sharedCatalogue } from '../support/shared-catalogue.ts';
import { testClient } from '../support/test-client.ts';

// The replay serves the recorded models in ../shared; without that folder its tests are skipped.
const shared = needsShared();
let replay: CivitaiReplay;
before(async () => {
  if (shared.skip) return;
  replay = await startCivitaiReplay({ catalogue: sharedCatalogue(20) });
});
after(() => replay?.close());

const hits = (path: RegExp) => replay.requests.filter((r) => path.test(r.path)).length;

describe('HTTP faults against the replay server', shared, () => {
  test('429 with Retry-After is retried after waiting at least Retry-After', async () => {
    const t = testClient(replay.url);
    replay.inject({ match: /\/api\/v1\/models\/11821$/, kind: '429', retryAfter: 7, times: 2 });
    const before = hits(/\/api\/v1\/models\/11821$/);
    const model = await t.client.getModel(11821);
    assert.equal(model.id, 11821);
    assert.equal(hits(/\/api\/v1\/models\/11821$/) - before, 3);
    assert.deepEqual(t.clock.sleeps.slice(0, 2), [7000, 7000]);
    await t.close();
  });

  test('500 then success: retried with exponential backoff and jitter', async () => {
    const t = testClient(replay.url);
    replay.inject({ match: /\/api\/v1\/models\/1580878$/, kind: '500', times: 3 });
    const model = await t.client.getModel(1580878);
    assert.equal(model.name, 'Semi-realistic illustrious');
    // random() = 0.5 → half of 500·2^attempt.
    assert.deepEqual(t.clock.sleeps, [250, 500, 1000]);
    await t.close();
  });

  test('503 that never ends gives up with a typed error after maxRetries', async () => {
    const t = testClient(replay.url, { maxRetries: 2 });
    replay.inject({ match: /\/api\/v1\/models\/101892$/, kind: '503', times: 3 });
    await assert.rejects(
      t.client.getModel(101892),
      (e: unknown) => isAppError(e) && e.code === 'CIVITAI_HTTP',
    );
    await t.close();
  });

  test('a Retry-After beyond the deadline fails fast as RATE_LIMITED', async () => {
    const t = testClient(replay.url, { deadlineMs: 5000 });
    replay.inject({ match: /\/api\/v1\/models\/11821$/, kind: '429', retryAfter: 3600 });
    await assert.rejects(
      t.client.getModel(11821),
      (e: unknown) => isAppError(e) && e.code === 'RATE_LIMITED',
    );
    assert.deepEqual(t.clock.sleeps, []);
    await t.close();
  });

  test('a hanging server times out, is retried, and ends as TIMEOUT', async () => {
    const t = testClient(replay.url, { timeoutMs: 300, maxRetries: 1 });
    replay.inject({ match: /\/api\/v1\/model-versions\/127062$/, kind: 'hang', times: 2 });
    await assert.rejects(
      t.client.getModelVersion(127062),
      (e: unknown) => isAppError(e) && e.code === 'TIMEOUT',
    );
    await t.close();
  });

  test('a hang followed by a good answer succeeds', async () => {
    const t = testClient(replay.url, { timeoutMs: 300, maxRetries: 2 });
    replay.inject({ match: /\/api\/v1\/model-versions\/13966$/, kind: 'hang', times: 1 });
    const v = await t.client.getModelVersion(13966);
    assert.equal(v.id, 13966);
    await t.close();
  });

  test('a connection dropped in the middle of the body is retried', async () => {
    const t = testClient(replay.url);
    replay.inject({ match: /\/api\/v1\/models\/11821$/, kind: 'cut', times: 1 });
    const before = hits(/\/api\/v1\/models\/11821$/);
    const model = await t.client.getModel(11821);
    assert.equal(model.id, 11821);
    assert.equal(hits(/\/api\/v1\/models\/11821$/) - before, 2);
    await t.close();
  });

  test('a connection reset is retried', async () => {
    const t = testClient(replay.url);
    replay.inject({ match: /\/api\/v1\/model-versions\/1967584$/, kind: 'reset', times: 1 });
    const v = await t.client.getModelVersion(1967584);
    assert.equal(v.modelId, 1580878);
    await t.close();
  });

  test('truncated JSON is retried; if it persists it is a CIVITAI_SCHEMA error, not a crash', async () => {
    const t = testClient(replay.url, { maxRetries: 2 });
    replay.inject({ match: /\/api\/v1\/models\/11821$/, kind: 'truncate', times: 1 });
    assert.equal((await t.client.getModel(11821)).id, 11821);
    replay.inject({ match: /\/api\/v1\/models\/1580878$/, kind: 'truncate', times: 5 });
    await assert.rejects(
      t.client.getModel(1580878),
      (e: unknown) => e instanceof CivitaiSchemaError && /not valid JSON/.test(e.message),
    );
    await t.close();
  });

  test('a missing required field is a CivitaiSchemaError naming the field and the URL', async () => {
    const t = testClient(replay.url);
    replay.inject({ match: /\/api\/v1\/models\/101892$/, kind: 'missing-field', field: 'modelVersions' });
    await assert.rejects(t.client.getModel(101892), (e: unknown) => {
      assert.ok(e instanceof CivitaiSchemaError);
      assert.equal(e.code, 'CIVITAI_SCHEMA');
      assert.equal(e.field, 'modelVersions');
      assert.match(e.url, /\/api\/v1\/models\/101892$/);
      assert.match(e.userMessage, /modelVersions/);
      return true;
    });
    replay.inject({ match: /\/api\/v1\/models\?/, kind: 'missing-field', field: 'items.1.id' });
    await assert.rejects(
      t.client.listModels({
        types: ['LORA'],
        sort: 'Most Downloaded',
        period: 'AllTime',
        nsfw: false,
        baseModels: [],
        limit: 5,
      }),
      (e: unknown) => e instanceof CivitaiSchemaError && e.field === 'items.1.id',
    );
    await t.close();
  });

  test('404 is CIVITAI_NOT_FOUND and is not retried', async () => {
    const t = testClient(replay.url);
    const before = hits(/\/api\/v1\/models\/999999999$/);
    await assert.rejects(
      t.client.getModel(999999999),
      (e: unknown) => isAppError(e) && e.code === 'CIVITAI_NOT_FOUND',
    );
    assert.equal(hits(/\/api\/v1\/models\/999999999$/) - before, 1);
    await t.close();
  });

  test('429 "too many pages" is a programming error and is not retried', async () => {
    const t = testClient(replay.url);
    await assert.rejects(
      t.http.getJsonUnknown(`${replay.url}/api/v1/models?limit=100&page=11`),
      (e: unknown) => isAppError(e) && e.code === 'RATE_LIMITED' && /cursors/.test(e.userMessage),
    );
    assert.deepEqual(t.clock.sleeps, []);
    await t.close();
  });

  test('connection refused ends as NETWORK after retries, never an unhandled rejection', async () => {
    const t = testClient('http://127.0.0.1:9', { maxRetries: 1 });
    await assert.rejects(t.client.getModel(1), (e: unknown) => isAppError(e) && e.code === 'NETWORK');
    await t.close();
  });

  test('an aborted request ends as ABORTED', async () => {
    const t = testClient(replay.url, { timeoutMs: 5000 });
    replay.inject({ match: /\/api\/v1\/models\/1580878$/, kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(
      t.client.getModel(1580878, controller.signal),
      (e: unknown) => isAppError(e) && e.code === 'ABORTED',
    );
    await t.close();
  });

  test('the API key is sent as a bearer token to Civitai only', async () => {
    const t = testClient(replay.url, { apiKey: 'secret-key-123456' });
    await t.client.getModel(11821);
    const req = replay.requests.filter((r) => r.path === '/api/v1/models/11821').at(-1);
    assert.equal(req?.headers.authorization, 'Bearer secret-key-123456');
    await t.close();
  });
});

test('Retry-After accepts seconds and HTTP dates', () => {
  const now = Date.UTC(2026, 0, 1, 0, 0, 0);
  assert.equal(parseRetryAfter('2', now), 2000);
  assert.equal(parseRetryAfter('0.5', now), 500);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});
