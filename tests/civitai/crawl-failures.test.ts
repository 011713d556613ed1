import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { collectRecords, mapOrdered } from '../../src/analysis/audit/collect.ts';
import type { AuditSelection } from '../../src/analysis/audit/types.ts';
import type { ResponseCache } from '../../src/analysis/civitai/client.ts';
import { DEFAULT_CRAWL_OPTIONS } from '../../src/analysis/civitai/crawl.ts';
import type { ModelRecord, RecordCache } from '../../src/analysis/civitai/record.ts';
import { AppError, ErrorCode, isAppError } from '../../src/analysis/errors.ts';
import { buildSafetensors, type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';
import { needsShared } from '../support/requirements.ts';
import { sharedCatalogue } from '../support/shared-catalogue.ts';
import { memoryResponseCache, testClient } from '../support/test-client.ts';

describe('crawl failures (needs ../shared)', needsShared(), () => {
  const catalogue = sharedCatalogue(20);
  let replay: CivitaiReplay;
  before(async () => {
    replay = await startCivitaiReplay({ catalogue });
  });
  after(() => replay.close());

  const top = (n: number): AuditSelection => ({
    kind: 'top',
    n,
    from: '2022-01-01',
    to: '2026-12-31',
    types: ['LORA', 'LoCon', 'DoRA'],
    sort: 'Most Downloaded',
    period: 'AllTime',
    nsfw: false,
    baseModels: [],
  });

  /** A record cache that keeps what was saved, in order. */
  function savingRecords(): RecordCache & { saved: ModelRecord[] } {
    const saved: ModelRecord[] = [];
    return {
      saved,
      get: async () => undefined,
      set: async (record) => {
        saved.push(record);
      },
    };
  }

  /** Wraps a response cache so that, after `okReads` reads, every read fails like a closed store. */
  function failingAfter(inner: ResponseCache, okReads: number): ResponseCache & { reads: () => number } {
    let reads = 0;
    return {
      reads: () => reads,
      async get(key) {
        reads++;
        if (reads > okReads) {
          throw new AppError(ErrorCode.STORAGE_IO, `Storage get failed for ${key}`, {
            cause: new Error('SQLITE_MISUSE: Database is closed'),
          });
        }
        return inner.get(key);
      },
      set: (key, value) => inner.set(key, value),
    };
  }

  /** Every model of the clean run, by id, to compare saved records against. */
  async function cleanRecords(): Promise<Map<number, ModelRecord>> {
    const t = testClient(replay.url, { apiKey: 'k-1234567890' });
    const { records } = await collectRecords(
      { client: t.client, clock: t.clock },
      top(6),
      DEFAULT_CRAWL_OPTIONS,
    );
    await t.close();
    return new Map(records.map((r) => [r.id, r]));
  }

  const withoutTime = (r: ModelRecord) => ({ ...r, fetchedAt: '' });

  describe('storage failures are never soft upstream failures', () => {
    for (const okReads of [3, 12, 25]) {
      test(`cache reads failing after ${okReads} reads: the crawl rejects with STORAGE_IO and saves nothing degraded`, async () => {
        const clean = await cleanRecords();
        const cache = failingAfter(memoryResponseCache(), okReads);
        const t = testClient(replay.url, { apiKey: 'k-1234567890', cache });
        const records = savingRecords();
        await assert.rejects(
          collectRecords({ client: t.client, records, clock: t.clock }, top(6), DEFAULT_CRAWL_OPTIONS),
          (e: unknown) => isAppError(e) && e.code === 'STORAGE_IO',
        );
        assert.ok(cache.reads() > okReads, 'the failure was reached');
        for (const saved of records.saved) {
          assert.deepEqual(
            withoutTime(saved),
            withoutTime(clean.get(saved.id)!),
            `model ${saved.id} saved intact`,
          );
        }
        await t.close();
      });
    }

    test('a --file lookup whose cache read fails rejects with STORAGE_IO (not "the Civitai lookup failed")', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'loralens-cf-'));
      const path = join(dir, 'x.safetensors');
      writeFileSync(path, buildSafetensors({ ss_output_name: 'x' }, 1024));
      const t = testClient(replay.url, { cache: failingAfter(memoryResponseCache(), 0) });
      await assert.rejects(
        collectRecords({ client: t.client }, { kind: 'file', path }, DEFAULT_CRAWL_OPTIONS),
        (e: unknown) => isAppError(e) && e.code === 'STORAGE_IO',
      );
      await t.close();
    });
  });

  describe('an aborted signal stops the crawl and saves nothing from then on', () => {
    test('abort while models are read from the raw cache (no request sees the signal): ABORTED, no record saved after it', async () => {
      // Warm the raw-response cache so the second run makes no HTTP request at all.
      const cache = memoryResponseCache();
      const warm = testClient(replay.url, { apiKey: 'k-1234567890', cache });
      await collectRecords({ client: warm.client }, top(6), DEFAULT_CRAWL_OPTIONS);
      await warm.close();

      const controller = new AbortController();
      let gets = 0;
      const counting: ResponseCache = {
        async get(key) {
          gets++;
          if (gets === 15) controller.abort(new Error('interrupted'));
          return cache.get(key);
        },
        set: (key, value) => cache.set(key, value),
      };
      const t = testClient(replay.url, { apiKey: 'k-1234567890', cache: counting });
      const records = savingRecords();
      let savedAtAbort = -1;
      controller.signal.addEventListener('abort', () => {
        savedAtAbort = records.saved.length;
      });
      const before = replay.requests.length;
      await assert.rejects(
        collectRecords({ client: t.client, records }, top(6), DEFAULT_CRAWL_OPTIONS, {
          signal: controller.signal,
        }),
        (e: unknown) => isAppError(e) && e.code === 'ABORTED',
      );
      assert.equal(replay.requests.length, before, 'everything came from the cache');
      assert.ok(savedAtAbort >= 0, 'the abort happened mid-crawl');
      assert.equal(records.saved.length, savedAtAbort, 'no record saved after the abort');
      assert.ok(gets < 40, `new work stopped after the abort (${gets} cache reads)`);
      await t.close();
    });
  });

  describe('mapOrdered', () => {
    test('on the first failure it starts nothing new and settles only after the work in flight has finished', async () => {
      const finished: number[] = [];
      const started: number[] = [];
      let release: () => void = () => {};
      const slowGate = new Promise<void>((r) => {
        release = r;
      });
      const run = mapOrdered([0, 1, 2, 3, 4], 2, async (i) => {
        started.push(i);
        if (i === 0) {
          await slowGate;
          finished.push(i);
          return i;
        }
        throw new Error(`item ${i} failed`);
      });
      let settled = false;
      void run
        .catch(() => {})
        .finally(() => {
          settled = true;
        });
      await new Promise((r) => setImmediate(r));
      assert.equal(settled, false, 'still waiting for item 0, which is in flight');
      release();
      await assert.rejects(run, /item 1 failed/);
      assert.deepEqual(finished, [0]);
      assert.deepEqual(started, [0, 1], 'nothing new after the failure');
    });
  });

  describe('hostile texts are per-item notes, never a run failure', () => {
    test('deeply nested description, changelog and comment, and an oversized comment: the top-N run completes', async () => {
      const cat = sharedCatalogue(4);
      const deep = (n: number, tag: string) => `${`<${tag}>`.repeat(n)}deep text${`</${tag}>`.repeat(n)}`;
      const model = cat.models.find((m) => m.id === 11821)!;
      model.description = deep(3_000, 'div');
      (model.modelVersions as Array<Record<string, unknown>>)[0]!.description = deep(2_000, 'blockquote');
      const comments = cat.comments.get(11821)!;
      comments[0]!.content = deep(3_000, 'span');
      comments[1]!.content = `<p>${'x'.repeat(50_000)}</p>`;
      const own = await startCivitaiReplay({ catalogue: cat });
      const t = testClient(own.url, { apiKey: 'k-1234567890' });
      try {
        const { records, notes } = await collectRecords({ client: t.client }, top(5), DEFAULT_CRAWL_OPTIONS);
        assert.equal(records.length, 5);
        const r = records.find((x) => x.id === 11821)!;
        assert.match(r.descriptionText, /deep text/);
        assert.match(r.versions[0]!.changelogText, /deep text/);
        assert.equal(r.comments.status, 'ok');
        const first = r.comments.items.find((i) => i.id === comments[0]!.id)!;
        assert.match(first.text, /deep text/);
        const long = r.comments.items.find((i) => i.id === comments[1]!.id)!;
        assert.ok(long.text.length <= 20_000);
        assert.ok(
          r.notes.some((n) => /^description: tags nested 3000 levels deep/.test(n)),
          r.notes.join('\n'),
        );
        assert.ok(
          r.notes.some((n) => n.startsWith(`changelog of version ${r.versions[0]!.id}: tags nested`)),
        );
        assert.ok(
          r.notes.some((n) => n.startsWith(`comment ${comments[0]!.id}: tags nested 3000 levels deep`)),
        );
        assert.ok(r.notes.some((n) => n.startsWith(`comment ${comments[1]!.id}: cut at 20000 of`)));
        assert.ok(
          notes.some((n) => n.startsWith('Model 11821 (')),
          notes.join('\n'),
        );
        assert.ok(records.filter((x) => x.id !== 11821).every((x) => x.notes.length === 0));
      } finally {
        await t.close();
        await own.close();
      }
    });
  });
});
