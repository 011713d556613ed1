import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { Agent } from 'undici';
import { z } from 'zod';
import { hasCode } from '../../src/analysis/errors.ts';
import type { DecodedImage } from '../../src/analysis/images/decode.ts';
import {
  featureOf,
  type ImageFeatureCache,
  type SampleImageRef,
} from '../../src/analysis/images/features.ts';
import { createImageFetcher } from '../../src/analysis/images/fetch.ts';
import {
  type BatchedImageFeatureExtractor,
  type ImagePassEvent,
  type PassExtractor,
  runImagePass,
  startImagePass,
} from '../../src/analysis/images/pass.ts';
import { openStorage } from '../../src/storage/backend.ts';
import {
  imageFeatureKey,
  keyvImageFeatureCache,
  memoryImageFeatureCache,
} from '../../src/storage/image-feature-cache.ts';
import { closeLocal, listenLocal } from '../support/local-server.ts';

// Real encoded images (sharp-generated PNG/JPEG) served on loopback; the pass fetches, decodes and
// runs extractors for real. Requests are counted at the server.
let server: Server;
let origin: string;
const requests: string[] = [];
const bodies = new Map<string, Buffer>();
const dispatcher = new Agent({ connections: 8 });

async function makeImage(
  width: number,
  height: number,
  rgb: [number, number, number],
  format: 'png' | 'jpeg',
) {
  const img = sharp({
    create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } },
  });
  return format === 'png' ? img.png().toBuffer() : img.jpeg().toBuffer();
}

before(async () => {
  bodies.set('/a.png', await makeImage(300, 260, [200, 10, 10], 'png'));
  bodies.set('/b.jpg', await makeImage(320, 240, [10, 200, 10], 'jpeg'));
  bodies.set('/c.png', await makeImage(256, 256, [10, 10, 200], 'png'));
  bodies.set('/d.jpg', await makeImage(400, 300, [120, 120, 120], 'jpeg'));
  bodies.set('/flaky.png', await makeImage(64, 64, [90, 90, 200], 'png'));
  bodies.set('/svg.png', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>'));
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/flaky.png' && requests.filter((u) => u === '/flaky.png').length <= 2) {
      res.writeHead(503).end();
      return;
    }
    const body = bodies.get(req.url ?? '');
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length }).end(body);
  });
  origin = await listenLocal(server);
});
after(async () => {
  await closeLocal(server);
  await dispatcher.close();
});

const fetcher = () => createImageFetcher({ dispatcher, extraAllowedOrigins: [origin], cdnWidth: null });
const ref = (path: string, i: number): SampleImageRef => ({
  key: `1:${i}`,
  modelId: 1,
  versionId: 10,
  imageId: i,
  url: `${origin}${path}`,
  prompt: `prompt ${i}`,
  width: null,
  height: null,
});
const refs = () => ['/a.png', '/b.jpg', '/c.png', '/d.jpg'].map(ref);

/** An extractor that records which decoded buffers it saw. */
function meanRed(name: string, seen: DecodedImage[]): PassExtractor {
  return {
    name,
    version: '1',
    schema: z.number(),
    extract(image) {
      seen.push(image);
      let sum = 0;
      for (let i = 0; i < image.data.length; i += image.channels) sum += image.data[i]!;
      return sum / (image.width * image.height);
    },
  };
}

describe('the one image pass', () => {
  test('each image is downloaded once and decoded once, and that one decode feeds every extractor', async () => {
    requests.length = 0;
    const seen: DecodedImage[][] = [[], [], []];
    const events: ImagePassEvent[] = [];
    const result = await runImagePass(
      {
        fetcher: fetcher(),
        extractors: seen.map((s, i) => meanRed(`red${i}`, s)),
        onEvent: (e) => events.push(e),
      },
      refs(),
    );
    assert.equal(requests.length, 4, requests.join(' '));
    assert.equal(result.stats.decoded, 4);
    assert.equal(events.filter((e) => e.kind === 'decoded').length, 4);
    // Three extractors, four images: each saw the same four decoded objects (one decode per image).
    for (const s of seen) assert.equal(s.length, 4);
    for (const decoded of seen[0]!) {
      assert.ok(seen[1]!.includes(decoded) && seen[2]!.includes(decoded), 'one decode shared by all three');
    }
    assert.equal(new Set(seen.flat()).size, 4);
    const a = result.images.get('1:0');
    assert.equal(a?.status, 'ok');
    assert.ok(Math.abs((featureOf<number>(a, { name: 'red0' }) ?? 0) - 200) < 2);
    assert.equal(a?.status === 'ok' && a.width, 300);
  });

  test('a second run with the cache downloads and decodes nothing and gives the same features', async () => {
    const cache = memoryImageFeatureCache();
    const seen: DecodedImage[] = [];
    const first = await runImagePass(
      { fetcher: fetcher(), extractors: [meanRed('red', seen)], cache },
      refs(),
    );
    requests.length = 0;
    seen.length = 0;
    const second = await runImagePass(
      { fetcher: fetcher(), extractors: [meanRed('red', seen)], cache },
      refs(),
    );
    assert.equal(requests.length, 0);
    assert.equal(seen.length, 0);
    assert.equal(second.stats.decoded, 0);
    assert.equal(second.stats.cacheHits, 4);
    for (const [key, rec] of first.images) {
      const again = second.images.get(key);
      assert.equal(again?.status, 'ok');
      assert.equal(again?.status === 'ok' && again.cached, true);
      assert.deepEqual(
        again?.status === 'ok' && [again.width, again.height, again.features],
        rec.status === 'ok' && [rec.width, rec.height, rec.features],
      );
    }
    // A new extractor version is a cache miss: only then is the image fetched again.
    requests.length = 0;
    const bumped = { ...meanRed('red', seen), version: '2' };
    await runImagePass({ fetcher: fetcher(), extractors: [bumped], cache }, refs());
    assert.equal(requests.length, 4);
  });

  test('a warm pass reads the cache in groups: one store round trip per 64 images, not one per entry', async () => {
    const inner = memoryImageFeatureCache();
    const calls: number[] = [];
    const cache: ImageFeatureCache = {
      get: inner.get,
      set: inner.set,
      getMany: (entries) => {
        calls.push(entries.length);
        return inner.getMany(entries);
      },
    };
    const paths = ['/a.png', '/b.jpg', '/c.png', '/d.jpg'];
    const many = Array.from({ length: 130 }, (_, i) => ref(paths[i % 4]!, i));
    const extractors = [meanRed('red', []), { ...meanRed('green', []), name: 'green' }];
    const pass = startImagePass({ fetcher: fetcher(), extractors, cache });
    pass.add(many.slice(0, 100));
    pass.add(many.slice(100));
    await pass.finish();
    calls.length = 0;
    requests.length = 0;
    const warm = startImagePass({ fetcher: fetcher(), extractors, cache });
    // As the crawl adds them: one model's images at a time.
    warm.add(many.slice(0, 100));
    warm.add(many.slice(100));
    const result = await warm.finish();
    assert.equal(requests.length, 0);
    assert.equal(result.stats.cacheHits, 130);
    // 100 images = groups of 64 and 36, then 30; each entry: two extractors and the decoded size.
    assert.deepEqual(calls, [64 * 3, 36 * 3, 30 * 3]);
    for (const [i, r] of many.entries()) {
      const rec = result.images.get(r.key);
      assert.equal(rec?.status === 'ok' && rec.cached, true, r.key);
      assert.equal(typeof featureOf(rec, { name: 'green' }), 'number', `${i}`);
    }
  });

  test('a cached value that fails its schema is recomputed, not trusted', async () => {
    const cache = memoryImageFeatureCache();
    const url = `${origin}/a.png`;
    await cache.set(url, 'red', '1', 'not a number');
    await cache.set(url, 'image-size', '1', { width: 300, height: 260 });
    const seen: DecodedImage[] = [];
    const r = await runImagePass({ fetcher: fetcher(), extractors: [meanRed('red', seen)], cache }, [
      ref('/a.png', 0),
    ]);
    assert.equal(seen.length, 1);
    assert.equal(typeof featureOf<number>(r.images.get('1:0'), { name: 'red' }), 'number');
  });

  test('an extractor that throws fails for its image only; the others keep their values', async () => {
    const seen: DecodedImage[] = [];
    const flaky: PassExtractor = {
      name: 'flaky',
      version: '1',
      schema: z.number(),
      extract(image) {
        if (image.width === 320) throw new Error('boom on b');
        return image.width;
      },
    };
    const r = await runImagePass({ fetcher: fetcher(), extractors: [flaky, meanRed('red', seen)] }, refs());
    const b = r.images.get('1:1');
    assert.equal(b?.status, 'ok');
    assert.ok(b?.status === 'ok' && /boom on b/.test(b.failed.flaky ?? ''));
    assert.equal(featureOf(b, { name: 'flaky' }), undefined);
    assert.equal(typeof featureOf(b, { name: 'red' }), 'number');
    assert.equal(featureOf(r.images.get('1:0'), { name: 'flaky' }), 300);
  });

  test('refusals are per-image skips with their reason; the rest of the pass goes on', async () => {
    const r = await runImagePass({ fetcher: fetcher(), extractors: [meanRed('red', [])] }, [
      ref('/a.png', 0),
      ref('/missing.png', 1),
      ref('/svg.png', 2),
    ]);
    assert.equal(r.images.get('1:0')?.status, 'ok');
    const missing = r.images.get('1:1');
    assert.equal(missing?.status === 'skipped' && missing.reason, 'http-status');
    const svg = r.images.get('1:2');
    assert.equal(svg?.status === 'skipped' && svg.reason, 'svg');
    assert.equal(r.stats.skipped, 2);
  });

  test('a batched extractor gets prepared inputs in batches and every image its own result', async () => {
    const calls: number[] = [];
    const batched: BatchedImageFeatureExtractor<number, number> = {
      name: 'w',
      version: '1',
      schema: z.number(),
      extract: (image) => image.width,
      batch: {
        size: 3,
        prepare: (image) => image.width,
        run: async (inputs) => {
          calls.push(inputs.length);
          return inputs.map((w) => w * 2);
        },
      },
    };
    const r = await runImagePass({ fetcher: fetcher(), extractors: [batched], concurrency: 4 }, refs());
    assert.equal(
      calls.reduce((a, b) => a + b, 0),
      4,
    );
    assert.ok(calls.every((n) => n <= 3));
    assert.equal(featureOf(r.images.get('1:0'), batched), 600);
    assert.equal(featureOf(r.images.get('1:3'), batched), 800);
  });

  test('images added while the pass runs are processed as they come (streaming)', async () => {
    const events: string[] = [];
    const pass = startImagePass({
      fetcher: fetcher(),
      extractors: [meanRed('red', [])],
      onEvent: (e) => events.push(`${e.kind}:${e.key}`),
    });
    pass.add([ref('/a.png', 0)]);
    while (!events.includes('done:1:0')) await new Promise((r) => setTimeout(r, 5));
    events.push('added-second');
    pass.add([ref('/b.jpg', 1)]);
    const result = await pass.finish();
    assert.equal(result.images.size, 2);
    assert.ok(events.indexOf('decoded:1:0') < events.indexOf('added-second'));
    assert.ok(events.indexOf('added-second') < events.indexOf('decoded:1:1'));
  });

  test('reference images from a folder are read from disk and land in `reference`', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loralens-pass-ref-'));
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'r.png'), bodies.get('/c.png')!);
    const fileRef: SampleImageRef = {
      key: 'ref:r.png',
      modelId: null,
      versionId: null,
      imageId: null,
      url: pathToFileURL(join(dir, 'r.png')).href,
      prompt: null,
      width: null,
      height: null,
    };
    requests.length = 0;
    const r = await runImagePass(
      { fetcher: fetcher(), extractors: [meanRed('red', [])] },
      [ref('/a.png', 0)],
      [fileRef],
    );
    assert.equal(requests.length, 1);
    const rec = r.reference.get('ref:r.png');
    assert.equal(rec?.status, 'ok');
    assert.ok(Math.abs((featureOf<number>(rec, { name: 'red' }) ?? 0) - 10) < 2);
    assert.equal(r.images.has('ref:r.png'), false);
  });

  test('an aborted pass rejects with ABORTED', async () => {
    const controller = new AbortController();
    const slow: PassExtractor = {
      name: 'slow',
      version: '1',
      schema: z.number(),
      async extract() {
        controller.abort();
        return 1;
      },
    };
    await assert.rejects(
      runImagePass(
        { fetcher: fetcher(), extractors: [slow], signal: controller.signal, concurrency: 1 },
        refs(),
      ),
      (e: unknown) => hasCode(e, 'ABORTED'),
    );
  });

  test('the Keyv feature cache round-trips values and reads a foreign or corrupt entry as missing', async () => {
    const storage = openStorage('memory://');
    try {
      const keyv = storage.keyv('image-features-test');
      const cache = keyvImageFeatureCache(keyv);
      await cache.set('https://x/a.jpeg', 'red', '1', [1, 2, 3]);
      assert.deepEqual(await cache.get('https://x/a.jpeg', 'red', '1'), [1, 2, 3]);
      assert.equal(await cache.get('https://x/a.jpeg', 'red', '2'), undefined);
      assert.equal(await cache.get('https://x/b.jpeg', 'red', '1'), undefined);
      await keyv.set(`v1:${imageFeatureKey('https://x/a.jpeg', 'red', '1')}`, { junk: true });
      assert.equal(await cache.get('https://x/a.jpeg', 'red', '1'), undefined);
    } finally {
      await storage.close();
    }
  });
});

test('a transient download failure (503) is retried with backoff; a 404 is not', async () => {
  requests.length = 0;
  const waits: number[] = [];
  const result = await runImagePass(
    {
      fetcher: fetcher(),
      extractors: [meanRed('red', [])],
      sleep: async (ms) => {
        waits.push(ms);
      },
    },
    [ref('/flaky.png', 1), ref('/missing.png', 2)],
  );
  assert.equal(result.images.get('1:1')?.status, 'ok', 'two 503s, then the image');
  assert.deepEqual(waits, [250, 500]);
  assert.equal(requests.filter((u) => u === '/flaky.png').length, 3);
  const missing = result.images.get('1:2');
  assert.equal(missing?.status, 'skipped');
  assert.equal(requests.filter((u) => u === '/missing.png').length, 1, 'a 404 is final');
});
