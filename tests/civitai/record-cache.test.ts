import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectRecords } from '../../src/analysis/audit/collect.ts';
import { DEFAULT_CRAWL_OPTIONS } from '../../src/analysis/civitai/crawl.ts';
import { openStorage } from '../../src/storage/backend.ts';
import { createRecordCache } from '../../src/storage/crawl-cache.ts';
import { startCivitaiReplay } from '../support/civitai-replay.ts';
import { needsShared, skipIfMissing } from '../support/requirements.ts';
import { sharedCatalogue } from '../support/shared-catalogue.ts';
import { testClient } from '../support/test-client.ts';

test('a cached model record is reused until the model or a version changes, then re-crawled', async (ctx) => {
  if (skipIfMissing(ctx, needsShared())) return;
  const cat = sharedCatalogue(0);
  const replay = await startCivitaiReplay({ catalogue: cat });
  const storage = openStorage(`sqlite://${join(mkdtempSync(join(tmpdir(), 'loralens-rc-')), 'r.sqlite')}`);
  const records = createRecordCache(storage, 3_600_000);
  const t = testClient(replay.url);
  const images = () => replay.requests.filter((r) => r.path.startsWith('/api/v1/images?')).length;
  const run = () =>
    collectRecords({ client: t.client, records }, { kind: 'model', ref: '11821' }, DEFAULT_CRAWL_OPTIONS);

  const first = await run();
  assert.equal(first.fromCache, 0);
  const afterFirst = images();
  assert.ok(afterFirst > 0);

  const second = await run();
  assert.equal(second.fromCache, 1);
  assert.equal(images(), afterFirst, 'no image pages fetched for an unchanged model');
  assert.deepEqual(second.records[0]?.versions, first.records[0]?.versions);

  const version = (
    cat.models.find((m) => m.id === 11821)!.modelVersions as Array<Record<string, unknown>>
  )[0]!;
  version.updatedAt = '2026-02-01T00:00:00.000Z';
  const third = await run();
  assert.equal(third.fromCache, 0, 'updatedAt changed → cached audit invalid');
  assert.ok(images() > afterFirst);
  assert.notEqual(third.records[0]?.fingerprint, first.records[0]?.fingerprint);

  await t.close();
  await storage.close();
  await replay.close();
});

test('a record crawled without comments is not reused for a run that reads them', needsShared(), async () => {
  const replay = await startCivitaiReplay({ catalogue: sharedCatalogue(0) });
  const storage = openStorage('memory://');
  const records = createRecordCache(storage, 3_600_000);
  const t = testClient(replay.url, { apiKey: 'k-1234567890' });
  const run = (comments: boolean) =>
    collectRecords(
      { client: t.client, records },
      { kind: 'model', ref: '11821' },
      { ...DEFAULT_CRAWL_OPTIONS, comments },
    );
  const without = await run(false);
  assert.equal(without.records[0]?.comments.status, 'skipped');
  const withComments = await run(true);
  assert.equal(withComments.fromCache, 0);
  assert.equal(withComments.records[0]?.comments.status, 'ok');
  assert.equal((await run(true)).fromCache, 1);
  await t.close();
  await storage.close();
  await replay.close();
});
