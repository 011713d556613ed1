import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent } from 'undici';
import { ensureTinyClipModels } from '../../scripts/make-tiny-models.ts';
import { memoryEmbeddingCache } from '../../src/analysis/clip/embedding-cache.ts';
import { type ImageAuditInput, scoreImagePrompts } from '../../src/analysis/clip/image-audit.ts';
import { type ClipScorer, createClipScorer } from '../../src/analysis/clip/scorer.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import { createImageFetcher } from '../../src/analysis/images/fetch.ts';
import type { ImageFetcher, ImageFetchOptions } from '../../src/analysis/images/types.ts';
import type { ProgressEvent } from '../../src/analysis/ports.ts';
import { needsShared, SHARED_DIR } from '../support/requirements.ts';

// Real images and the real vocabulary from ../shared; without that folder these tests are skipped.
const sharedRequirement = needsShared();
const shared = SHARED_DIR;
const VOCAB = resolve(shared, 'models', 'clip-tokenizer', 'bpe_simple_vocab_16e6.txt.gz');
const index = (
  sharedRequirement.skip ? '' : readFileSync(resolve(shared, 'fixtures', 'images', 'index.jsonl'), 'utf8')
)
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as { file: string; prompt: string });

let server: Server;
let origin: string;
let requests = 0;
const agent = new Agent();
let scorer: ClipScorer;
let scorer1: ClipScorer;

before(async () => {
  if (sharedRequirement.skip) return;
  server = createServer((req, res) => {
    requests += 1;
    const name = (req.url ?? '').replace(/^\/img\//, '');
    if (name === 'vector.svg') {
      res.writeHead(200, { 'content-type': 'image/svg+xml' });
      res.end('<svg/>');
      return;
    }
    try {
      const body = readFileSync(resolve(shared, 'fixtures', 'images', name));
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { dir } = await ensureTinyClipModels();
  scorer = await createClipScorer({ modelDir: dir, vocabPath: VOCAB, batchSize: 8, intraOpThreads: 1 });
  scorer1 = await createClipScorer({ modelDir: dir, vocabPath: VOCAB, batchSize: 1, intraOpThreads: 1 });
});
after(async () => {
  if (sharedRequirement.skip) return agent.close();
  await scorer.dispose();
  await scorer1.dispose();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await agent.close();
});

function inputs(): ImageAuditInput[] {
  const rows: ImageAuditInput[] = index.map((rec, i) => ({
    modelId: i < 14 ? 1 : 2,
    versionId: i < 14 ? 10 : 20,
    imageId: 100 + i,
    url: `${origin}/img/${rec.file}`,
    prompt: rec.prompt,
  }));
  rows.push(
    { modelId: 2, versionId: 20, imageId: 900, url: `${origin}/img/vector.svg`, prompt: 'a logo' },
    { modelId: 2, versionId: 20, imageId: 901, url: `${origin}/img/missing.png`, prompt: 'a cat' },
    { modelId: 2, versionId: 20, imageId: 902, url: `${origin}/img/comfyex-1.png`, prompt: null },
    { modelId: 2, versionId: 20, imageId: 903, url: 'https://evil.example.com/x.png', prompt: 'a dog' },
  );
  return rows;
}

describe('scoreImagePrompts end to end (tiny models, loopback images)', sharedRequirement, () => {
  test('scores every image, records skip reasons, and summarises per model with Wilson intervals', async () => {
    const fetcher = createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [origin] });
    const events: ProgressEvent[] = [];
    const result = await scoreImagePrompts({
      images: inputs(),
      scorer,
      fetcher,
      options: { nullK: 15, minNull: 10, seed: 3, concurrency: 3 },
      onProgress: (e) => events.push(e),
    });
    assert.equal(result.mode, 'calibrated');
    assert.equal(result.images.length, index.length + 4);
    const bySkip = Object.fromEntries(
      result.images.filter((r) => r.skipped).map((r) => [r.image_id, r.skipped]),
    );
    // 111 (sdwcnet-1: only a LoRA tag and quality tags), 125/126 (a1111show-6/7: no metadata) have nothing
    // left after cleaning and are never downloaded.
    assert.deepEqual(bySkip, {
      111: 'no-prompt',
      125: 'no-prompt',
      126: 'no-prompt',
      900: 'svg',
      901: 'http-status',
      902: 'no-prompt',
      903: 'host-not-allowed',
    });
    for (const r of result.images.filter((x) => !x.skipped)) {
      assert.ok(r.clip_cosine! >= -1 && r.clip_cosine! <= 1);
      assert.equal(r.clipscore, 2.5 * Math.max(r.clip_cosine!, 0));
      assert.ok(r.clip_null_p! > 0 && r.clip_null_p! <= 1);
      assert.equal(typeof r.low_match, 'boolean');
      assert.ok(r.clip_cosine_mean! <= r.clip_cosine! + 1e-6);
      assert.ok(!/<lora:/i.test(r.prompt_clean), 'prompts are cleaned before tokenising');
    }
    // comfyex-5 has a prompt far longer than 77 tokens: scored over several windows.
    assert.ok(result.images.find((r) => r.image_url.endsWith('comfyex-5.png'))!.prompt_windows >= 2);
    const m2 = result.models.find((m) => m.model_id === 2)!;
    assert.equal(m2.skipped, 6);
    assert.equal(m2.scored, index.length - 14 - 2);
    assert.equal(m2.low_match_rate, m2.flagged / m2.decided);
    assert.ok(m2.low_match_ci_low! <= m2.low_match_rate! && m2.low_match_rate! <= m2.low_match_ci_high!);
    const last = events.filter((e) => e.stage === 'clip-images').at(-1)!;
    assert.equal(last.done, last.total);
    const scored = result.images.filter((r) => !r.skipped).length;
    assert.equal(result.stats.fetched, scored);
    // Batched: fewer session runs than images, never more than 8 per run.
    assert.ok(result.stats.imageBatches >= Math.ceil(scored / 8) && result.stats.imageBatches < scored);
  });

  test('batch size 8 and batch size 1 give the same cosines within 1e-5', async () => {
    const fetcher = createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [origin] });
    const a = await scoreImagePrompts({
      images: inputs(),
      scorer,
      fetcher,
      options: { nullK: 15, minNull: 10 },
    });
    const b = await scoreImagePrompts({
      images: inputs(),
      scorer: scorer1,
      fetcher,
      options: { nullK: 15, minNull: 10 },
    });
    for (let i = 0; i < a.images.length; i++) {
      const x = a.images[i]!.clip_cosine;
      const y = b.images[i]!.clip_cosine;
      if (x === null) assert.equal(y, null);
      else assert.ok(Math.abs(x - y!) < 1e-5);
    }
  });

  test('a re-audit with the embedding cache downloads nothing and gives the same result', async () => {
    const fetcher = createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [origin] });
    const cache = memoryEmbeddingCache();
    const first = await scoreImagePrompts({ images: inputs(), scorer, fetcher, cache, options: { seed: 5 } });
    const before = requests;
    const second = await scoreImagePrompts({
      images: inputs(),
      scorer,
      fetcher,
      cache,
      options: { seed: 5 },
    });
    // Only the images that failed the first time are requested again (svg, 404).
    assert.equal(requests - before, 2);
    assert.equal(second.stats.imageCacheHits, index.length - 3);
    assert.equal(second.stats.fetched, 0);
    assert.equal(second.stats.textCacheHits, second.stats.uniquePrompts);
    assert.deepEqual(second.images, first.images);
  });

  test('raw-threshold mode is labelled uncalibrated and flags by raw cosine', async () => {
    const fetcher = createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [origin] });
    const r = await scoreImagePrompts({ images: inputs(), scorer, fetcher, options: { rawThreshold: 0.4 } });
    assert.equal(r.mode, 'raw-threshold-uncalibrated');
    assert.ok(r.notes.some((n) => n.includes('uncalibrated')));
    for (const row of r.images.filter((x) => !x.skipped)) assert.equal(row.low_match, row.clip_cosine! < 0.4);
  });

  test('too few distinct prompts: no image is flagged, and the outputs say why', async () => {
    const fetcher = createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [origin] });
    const r = await scoreImagePrompts({ images: inputs().slice(0, 3), scorer, fetcher, options: {} });
    assert.ok(r.images.every((x) => x.low_match === null));
    assert.equal(r.models[0]!.low_match_rate, null);
    assert.ok(r.notes.some((n) => n.includes('distinct prompts')));
  });

  test("the fetcher is told each image's size and CLIP's 224-px minimum, and caches by the URL requested", async () => {
    const real = createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [origin] });
    const asked = new Map<string, ImageFetchOptions | undefined>();
    const keyed: string[] = [];
    const fetcher: ImageFetcher = {
      fetch: (url, signal, options) => {
        asked.set(url, options);
        return real.fetch(url, signal, options);
      },
      requestUrl: (url, options) => {
        const u = `${real.requestUrl(url, options)}#w=${options?.width ?? 'unknown'}`;
        keyed.push(u);
        return u;
      },
    };
    const rows = inputs().slice(0, 3);
    rows[0] = { ...rows[0]!, width: 3072, height: 1024 };
    rows[1] = { ...rows[1]!, width: 0, height: 0 }; // Civitai sometimes reports 0: unknown, not an error
    const cache = memoryEmbeddingCache();
    await scoreImagePrompts({ images: rows, scorer, fetcher, cache, options: {} });
    assert.deepEqual(asked.get(rows[0]!.url), { width: 3072, height: 1024, minShortSide: 224 });
    assert.deepEqual(asked.get(rows[1]!.url), { width: 0, height: 0, minShortSide: 224 });
    assert.deepEqual(asked.get(rows[2]!.url), { width: undefined, height: undefined, minShortSide: 224 });
    const second = await scoreImagePrompts({ images: rows, scorer, fetcher, cache, options: {} });
    assert.equal(second.stats.imageCacheHits, 3);
    assert.ok(keyed.includes(`${rows[0]!.url}#w=3072`));
  });

  test('a failing download ends the audit with its error and no image-stage progress', async () => {
    const fetcher: ImageFetcher = {
      fetch: async () => {
        throw new Error('disk full');
      },
      requestUrl: (url) => url,
    };
    const events: ProgressEvent[] = [];
    await assert.rejects(
      scoreImagePrompts({
        images: inputs(),
        scorer,
        fetcher,
        options: {},
        onProgress: (e) => events.push(e),
      }),
      /disk full/,
    );
    assert.ok(!events.some((e) => e.stage === 'clip-images'), JSON.stringify(events));
  });

  test('an aborted audit throws ABORTED', async () => {
    const fetcher = createImageFetcher({ dispatcher: agent, extraAllowedOrigins: [origin] });
    const ctl = new AbortController();
    ctl.abort();
    await assert.rejects(
      scoreImagePrompts({ images: inputs(), scorer, fetcher, options: {}, signal: ctl.signal }),
      (e: unknown) => hasCode(e, 'ABORTED'),
    );
  });
});
