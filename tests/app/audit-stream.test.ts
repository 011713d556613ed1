import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { Agent, type Dispatcher } from 'undici';
import { z } from 'zod';
import { ensureTinyClipModels } from '../../scripts/make-tiny-models.ts';
import { type AnalysisContext, type Analyzer, emptyOutput } from '../../src/analysis/audit/analyzer.ts';
import { type ClipAnalyzer, createClipAnalyzer } from '../../src/analysis/audit/clip-analyzer.ts';
import type { AuditRunOptionsInput } from '../../src/analysis/audit/types.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import type { ImageFeatureExtractor } from '../../src/analysis/images/features.ts';
import { silentLogger } from '../../src/analysis/ports.ts';
import { createAuditService } from '../../src/app/create-audit-service.ts';
import { loadConfig } from '../../src/config.ts';
import { openStorage, type StorageBackend } from '../../src/storage/backend.ts';
import { keyvEmbeddingCache } from '../../src/storage/embedding-cache.ts';
import { demoCatalogue } from '../fixtures/demo/catalogue.ts';
import { type CivitaiReplay, startCivitaiReplay } from '../support/civitai-replay.ts';

// The audit service against the loopback replay of the demo catalogue (made-up models, PNG images):
// 910001 (versions 920011, 920012), 910002 (920021), 910003 (920031, 920032) lead the listing.
let replay: CivitaiReplay;
before(async () => {
  replay = await startCivitaiReplay({ catalogue: demoCatalogue() });
});
after(() => replay.close());

const config = (extra: Record<string, string> = {}) =>
  loadConfig({
    CIVITAI_BASE_URL: replay.url,
    CIVITAI_RATE_PER_SECOND: '200',
    LORALENS_MODELS_DIR: join(tmpdir(), 'loralens-no-models-here'),
    ...extra,
  });

/** An analyzer with one image extractor; logs what it sees. */
function probe(name: string, log: string[], contexts: AnalysisContext[] = []): Analyzer {
  const extractor: ImageFeatureExtractor<number> = {
    name: `${name}-width`,
    version: '1',
    schema: z.number(),
    extract(image, ref) {
      log.push(`extract ${ref.key}`);
      return image.width;
    },
  };
  return {
    name,
    columns: [],
    imageExtractors: [extractor],
    async analyze(_records, _hooks, _options, context) {
      if (context) contexts.push(context);
      const out = emptyOutput();
      out.notes.push(`${name} ran`);
      return out;
    },
  };
}

async function withService<T>(
  opts: {
    analyzers: Analyzer[];
    dispatcher?: Dispatcher;
    storage?: StorageBackend;
    env?: Record<string, string>;
  },
  fn: (svc: ReturnType<typeof createAuditService>) => Promise<T>,
): Promise<T> {
  const storage = opts.storage ?? openStorage('memory://');
  const svc = createAuditService({
    config: config(opts.env),
    storage,
    logger: silentLogger,
    analyzers: opts.analyzers,
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
  });
  try {
    return await fn(svc);
  } finally {
    await svc.close();
    if (!opts.storage) await storage.close();
  }
}

describe('the audit streams its stages', () => {
  test("model 1's images are decoded while model 2 is still being crawled", async () => {
    const log: string[] = [];
    let release: () => void = () => {};
    const model1Decoded = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Model 2's requests (version 920021) are held until an image of model 1 has been through the
    // extractors; a pipeline that crawls everything first never gets there (the hold gives up after 5 s).
    const held = (path: string) => path.includes('920021');
    const base = new Agent({ connections: 16 });
    const dispatcher = base.compose((dispatch) => (options, handler) => {
      if (!held(String(options.path))) return dispatch(options, handler);
      log.push('model 2 request held');
      const timeout = new Promise<void>((r) => setTimeout(r, 5_000).unref());
      void Promise.race([model1Decoded, timeout]).then(() => {
        log.push('model 2 request released');
        dispatch(options, handler);
      });
      return true;
    });
    const analyzer = probe('probe', log);
    const extractor = analyzer.imageExtractors![0]!;
    const watched: ImageFeatureExtractor = {
      ...extractor,
      extract: (image, ref, signal) => {
        const value = extractor.extract(image, ref, signal);
        if (ref.modelId === 910001) release();
        return value;
      },
    };
    try {
      await withService(
        {
          analyzers: [{ ...analyzer, imageExtractors: [watched] }],
          dispatcher,
          env: { CIVITAI_CONCURRENCY: '1' },
        },
        (svc) =>
          svc.audit(
            { kind: 'top', n: 2 },
            {},
            {
              onProgress: (e) => {
                if (e.stage === 'crawling') log.push(`crawled ${e.done}`);
              },
            },
          ),
      );
    } finally {
      await base.close();
    }
    const firstModel1Extract = log.findIndex((l) => l.startsWith('extract 910001:'));
    assert.ok(firstModel1Extract >= 0, log.join('\n'));
    assert.ok(log.indexOf('model 2 request held') < firstModel1Extract, log.join('\n'));
    assert.ok(firstModel1Extract < log.indexOf('model 2 request released'), log.join('\n'));
    assert.ok(firstModel1Extract < log.indexOf('crawled 2'), log.join('\n'));
    assert.ok(
      log.some((l) => l.startsWith('extract 910002:')),
      'model 2 images were extracted too',
    );
  });

  test('each analyzer gets the image pass and the outputs of the analyzers before it', async () => {
    const contexts: AnalysisContext[] = [];
    const result = await withService(
      { analyzers: [probe('first', [], contexts), probe('second', [], contexts)] },
      (svc) => svc.audit({ kind: 'top', n: 2 }),
    );
    assert.equal(contexts.length, 2);
    const [first, second] = contexts as [AnalysisContext, AnalysisContext];
    assert.equal(first.previous.size, 0);
    assert.deepEqual([...second.previous.keys()], ['first']);
    assert.deepEqual(second.previous.get('first')?.notes, ['first ran']);
    const images = first.images!;
    // 910001 has 3 + 3 images, 910002 has 2: each decoded once, both analyzers' extractors ran on it.
    assert.equal(images.images.size, 8);
    assert.equal(images.stats.decoded, 8);
    for (const rec of images.images.values()) {
      assert.equal(rec.status, 'ok');
      assert.ok(rec.status === 'ok' && typeof rec.features['first-width'] === 'number');
      assert.ok(rec.status === 'ok' && typeof rec.features['second-width'] === 'number');
    }
    assert.equal(result.models.length, 2);
  });

  test('a warm re-audit downloads and decodes no image', async () => {
    const storage = openStorage('memory://');
    try {
      const log: string[] = [];
      await withService({ analyzers: [probe('p', log)], storage }, (svc) => svc.audit({ kind: 'top', n: 2 }));
      const extracted = log.length;
      assert.equal(extracted, 8);
      const before = replay.requests.length;
      const contexts: AnalysisContext[] = [];
      await withService({ analyzers: [probe('p', log, contexts)], storage }, (svc) =>
        svc.audit({ kind: 'top', n: 2 }),
      );
      const cdn = replay.requests.slice(before).filter((r) => r.path.startsWith('/cdn/'));
      assert.deepEqual(cdn, []);
      assert.equal(log.length, extracted, 'no extractor ran again');
      assert.equal(contexts[0]?.images?.stats.decoded, 0);
      assert.equal(contexts[0]?.images?.stats.cacheHits, 8);
    } finally {
      await storage.close();
    }
  });
});

describe('reference sets', () => {
  const audit = (reference: AuditRunOptionsInput['reference'], contexts: AnalysisContext[]) =>
    withService({ analyzers: [probe('p', [], contexts)] }, (svc) =>
      svc.audit({ kind: 'model', ref: '910002' }, { reference }),
    );

  test('a folder reference: its JPEG/PNG/WebP files go through the same pass, keyed ref:<name>', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loralens-ref-'));
    const make = (format: 'png' | 'jpeg' | 'webp') =>
      sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 9, g: 9, b: 9 } } })
        [format]()
        .toBuffer();
    writeFileSync(join(dir, 'a.png'), await make('png'));
    writeFileSync(join(dir, 'b.JPG'), await make('jpeg'));
    writeFileSync(join(dir, 'c.webp'), await make('webp'));
    writeFileSync(join(dir, 'notes.txt'), 'not an image');
    mkdirSync(join(dir, 'nested.png'));
    const contexts: AnalysisContext[] = [];
    await audit({ kind: 'dir', path: dir }, contexts);
    const reference = contexts[0]!.images!.reference;
    assert.deepEqual([...reference.keys()].sort(), ['ref:a.png', 'ref:b.JPG', 'ref:c.webp']);
    for (const rec of reference.values()) {
      assert.equal(rec.status === 'ok' && rec.features['p-width'], 64);
    }
    assert.equal(contexts[0]!.images!.images.size, 2);
  });

  test('a model reference: that model is crawled through the same client and its images used', async () => {
    const contexts: AnalysisContext[] = [];
    await audit({ kind: 'model', ref: '910003' }, contexts);
    const keys = [...contexts[0]!.images!.reference.keys()];
    assert.equal(keys.length, 4);
    assert.ok(keys.every((k) => k.startsWith('910003:')));
  });

  test('a missing folder, a folder without images and an unknown model are one clear sentence each', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'loralens-ref-empty-'));
    writeFileSync(join(empty, 'readme.md'), '# nothing');
    for (const [reference, pattern] of [
      [{ kind: 'dir', path: join(empty, 'nope') }, /reference folder .* does not exist\./],
      [{ kind: 'dir', path: empty }, /reference folder .* has no JPEG, PNG or WebP images\./],
      [{ kind: 'model', ref: '999999' }, /^Reference model: Civitai has no model with id 999999\.$/],
    ] as const) {
      await assert.rejects(audit(reference, []), (e: unknown) => {
        assert.ok(hasCode(e, 'INPUT_INVALID'), String(e));
        assert.match(e.userMessage, pattern);
        return true;
      });
    }
  });
});

describe('warm runs do no inference', () => {
  let modelsDir: string;
  before(async () => {
    modelsDir = (await ensureTinyClipModels()).dir;
  });

  test('a re-audit with every embedding cached opens no ONNX session and gives the same CLIP rows', async () => {
    const storage = openStorage('memory://');
    const clip = (opened: string[]): ClipAnalyzer =>
      createClipAnalyzer({
        modelDir: modelsDir,
        dispatcher: new Agent(),
        extraAllowedOrigins: [replay.url],
        cache: keyvEmbeddingCache(storage.keyv('clip-embeddings')),
        onSessionsCreated: () => opened.push('sessions'),
      });
    try {
      const opened: string[] = [];
      const cold = clip(opened);
      const first = await withService(
        { analyzers: [cold], storage, env: { LORALENS_MODELS_DIR: modelsDir } },
        (svc) => svc.audit({ kind: 'top', n: 3 }),
      );
      assert.deepEqual(opened, ['sessions']);
      // Opened for the cold run and released when its analysis ended (before the bias analysis).
      assert.equal(cold.sessionsOpened, true);
      assert.equal(cold.sessionsOpen, false);
      const warmOpened: string[] = [];
      const warm = clip(warmOpened);
      const before = replay.requests.length;
      const second = await withService(
        { analyzers: [warm], storage, env: { LORALENS_MODELS_DIR: modelsDir } },
        (svc) => svc.audit({ kind: 'top', n: 3 }),
      );
      assert.deepEqual(warmOpened, []);
      assert.equal(warm.sessionsOpened, false);
      assert.deepEqual(
        replay.requests.slice(before).filter((r) => r.path.startsWith('/cdn/')),
        [],
      );
      const rows = (r: typeof first) => {
        const csv = r.files.find((f) => f.name === 'metrics.csv')!;
        const parsed = parse(Buffer.from(csv.data), { columns: true }) as Array<Record<string, string>>;
        return parsed.filter((row) => row.row_type === 'image').map((row) => [row.image_id, row.clip_cosine]);
      };
      assert.ok(rows(first).length > 0);
      assert.deepEqual(rows(second), rows(first));
    } finally {
      await storage.close();
    }
  });
});
