import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Keyv } from 'keyv';
import type { AnalyzerOutput, ModelAnalysis } from '../../src/analysis/audit/analyzer.ts';
import { createBiasAnalyzer } from '../../src/analysis/audit/bias-analyzer.ts';
import { buildAuditResult } from '../../src/analysis/audit/build.ts';
import { AuditRunOptions } from '../../src/analysis/audit/types.ts';
import { colourPart } from '../../src/analysis/bias/analysis-parts.ts';
import { type ColourFeatures, colourExtractor } from '../../src/analysis/bias/colour.ts';
import {
  biasInputKey,
  type CachedBiasModel,
  decodeBiasResults,
  encodeBiasResults,
} from '../../src/analysis/bias/result-cache.ts';
import type {
  ImageFeatureRecord,
  ImagePassResult,
  SampleImageRef,
} from '../../src/analysis/images/features.ts';
import { type Random, seededRandom } from '../../src/analysis/stats/random.ts';
import { keyvBiasResultCache, memoryBiasResultCache } from '../../src/storage/bias-result-cache.ts';
import { decodedRgb } from '../support/images.ts';
import { blankRecord } from '../support/records.ts';

const MODELS = [1, 2, 3, 4];
const PER_MODEL = 12;
const DIM = 8;
const records = MODELS.map((id) => blankRecord(id));

function ref(modelId: number, imageId: number): SampleImageRef {
  return {
    key: `${modelId}:${imageId}`,
    modelId,
    versionId: modelId * 10,
    imageId,
    url: `https://image.civitai.com/x/${imageId}.jpeg`,
    prompt: null,
    width: 16,
    height: 16,
  };
}

/** A 16² image of one hue with per-pixel jitter, as the colour extractor sees it. */
function solid(rgb: [number, number, number], rng: Random) {
  const size = 16;
  const data = new Uint8Array(size * size * 3);
  for (let p = 0; p < size * size; p++) {
    for (let c = 0; c < 3; c++) data[p * 3 + c] = Math.round(rgb[c]! * (0.8 + 0.2 * rng.next()));
  }
  return decodedRgb(data, size);
}

/** Generated audit images: colour features from the real extractor, random unit CLIP embeddings. */
async function generatedPass(): Promise<Map<string, ImageFeatureRecord>> {
  const rng = seededRandom(11);
  const images = new Map<string, ImageFeatureRecord>();
  for (const modelId of MODELS) {
    for (let i = 0; i < PER_MODEL; i++) {
      const r = ref(modelId, modelId * 100 + i);
      const rgb: [number, number, number] = modelId === 1 ? [220, 30, 30] : [30, 60, 200];
      const colour = await colourExtractor.extract(solid(rgb, rng), r);
      const v = Array.from({ length: DIM }, () => rng.normal());
      const n = Math.hypot(...v);
      images.set(r.key, {
        ref: r,
        status: 'ok',
        width: 16,
        height: 16,
        features: { colour, clip: v.map((x) => x / n) },
        failed: {},
        cached: false,
      });
    }
  }
  return images;
}

/** The same images as a warm run reads them: every feature from the cache, keys in another order. */
function asWarm(images: ReadonlyMap<string, ImageFeatureRecord>): Map<string, ImageFeatureRecord> {
  const out = new Map<string, ImageFeatureRecord>();
  for (const key of [...images.keys()].reverse()) {
    const rec = structuredClone(images.get(key)!);
    if (rec.status === 'ok') {
      rec.cached = true;
      rec.features = Object.fromEntries(Object.entries(rec.features).reverse());
    }
    out.set(key, rec);
  }
  return out;
}

const passOf = (images: Map<string, ImageFeatureRecord>): ImagePassResult => ({
  images,
  reference: new Map(),
  stats: { images: images.size, decoded: images.size, cacheHits: 0, skipped: 0 },
});

/** The colour part, counting its comparisons (each one bootstraps the S and V differences). */
function countingColour(): ReturnType<typeof colourPart> & { calls: number } {
  const part = colourPart();
  const spy = {
    calls: 0,
    extractors: part.extractors,
    compare: (...args: Parameters<typeof part.compare>) => {
      spy.calls += 1;
      return part.compare(...args);
    },
    imageCells: part.imageCells,
  };
  return spy;
}

function flags(): ReadonlyMap<string, AnalyzerOutput> {
  const perModel = new Map<number, ModelAnalysis>(
    MODELS.map((id) => [id, { flagged: id % 2 === 0, findings: [], metrics: {}, evidence: null }]),
  );
  return new Map([['text', { perModel, rows: [], notes: [], flaggedImages: [] }]]);
}

/** audit.json and metrics.csv of an audit whose only analysis is the bias one. */
async function auditFiles(
  images: Map<string, ImageFeatureRecord>,
  deps: { cache?: ReturnType<typeof memoryBiasResultCache>; seed?: number } = {},
): Promise<{ json: string; csv: string; calls: number }> {
  const colour = countingColour();
  const bias = createBiasAnalyzer({
    colour,
    distanceResamples: 20,
    ...(deps.cache ? { cache: deps.cache } : {}),
  });
  const options = AuditRunOptions.parse({ reference: { kind: 'population' }, seed: deps.seed ?? 7 });
  const out = await bias.analyze(records, {}, options, { images: passOf(images), previous: flags() });
  const result = buildAuditResult({
    selection: { kind: 'model', ref: '1' },
    options,
    records,
    analyzers: [bias],
    outputs: [out],
    notes: [],
    now: new Date('2026-01-01T00:00:00Z'),
  });
  const file = (name: string) => result.files.find((f) => f.name === name)!.data.toString('utf8');
  return { json: file('audit.json'), csv: file('metrics.csv'), calls: colour.calls };
}

test('bias cache: a warm audit with the same inputs compares nothing again and writes identical audit.json and metrics.csv', async () => {
  const images = await generatedPass();
  const uncached = await auditFiles(images);
  const cache = memoryBiasResultCache();
  // A fresh extraction may carry fields its schema drops when the feature cache reads it back.
  const fresh = structuredClone(images);
  for (const rec of fresh.values()) {
    if (rec.status === 'ok') rec.features.colour = { ...(rec.features.colour as object), scratch: 1 };
  }
  const cold = await auditFiles(fresh, { cache });
  assert.equal(cold.calls, MODELS.length);
  assert.deepEqual(cache.stats, { gets: 1, hits: 0, sets: 1 });
  const warmImages = asWarm(images);
  for (const rec of warmImages.values()) {
    if (rec.status === 'ok') rec.features.colour = colourExtractor.schema.parse(rec.features.colour);
  }
  const warm = await auditFiles(warmImages, { cache });
  assert.equal(warm.calls, 0, 'no comparison (no bootstrap) on the warm run');
  assert.equal(cache.stats.hits, 1);
  assert.equal(warm.json, uncached.json);
  assert.equal(warm.csv, uncached.csv);
  assert.equal(cold.json, uncached.json);
  assert.match(warm.csv, /population\(n=36\)/);
});

test('bias cache: one changed colour value, one changed CLIP embedding or another seed recomputes', async () => {
  const images = await generatedPass();
  const cache = memoryBiasResultCache();
  await auditFiles(images, { cache });
  assert.equal(cache.stats.sets, 1, 'the first run stores its results');
  const edit = (key: string, change: (features: Record<string, unknown>) => void) => {
    const copy = structuredClone(images);
    const rec = copy.get(key)!;
    assert.equal(rec.status, 'ok');
    if (rec.status === 'ok') change(rec.features);
    return copy;
  };
  const colourChanged = edit('3:305', (f) => {
    const c = f.colour as ColourFeatures;
    f.colour = { ...c, satMean: c.satMean + 1e-9 };
  });
  const clipChanged = edit('2:207', (f) => {
    const v = [...(f.clip as number[])];
    v[0] = v[0]! + 1e-12;
    f.clip = v;
  });
  for (const [what, changed, seed] of [
    ['colour value', colourChanged, 7],
    ['CLIP embedding', clipChanged, 7],
    ['seed', images, 8],
  ] as const) {
    const { hits, sets } = cache.stats;
    const run = await auditFiles(changed, { cache, seed });
    assert.equal(run.calls, MODELS.length, `${what}: every model compared again`);
    assert.equal(cache.stats.hits, hits, `${what}: no cache hit`);
    assert.equal(cache.stats.sets, sets + 1, `${what}: stored under its own key`);
    const fresh = await auditFiles(changed, { seed });
    assert.equal(run.json, fresh.json, `${what}: the same numbers as an uncached run`);
  }
});

test('bias cache: −0 and exact doubles survive the stored text; non-finite, damaged or foreign entries read as misses', () => {
  const model = (id: number, value: number): CachedBiasModel => ({
    id,
    analysis: {
      flagged: null,
      unmeasured: 'no decodable sample images',
      informational: true,
      findings: [],
      metrics: { hue_js: value, bias_reference: null },
      evidence: {
        reference: { kind: 'population', label: 'all other audited models (leave-one-out)', nImages: 0 },
        nImages: 0,
        colour: { status: 'not-measured', reason: 'x' },
        faces: { status: 'not-measured', reason: 'x' },
        composition: { status: 'not-measured', reason: 'x' },
        distance: { status: 'not-measured', reason: 'x' },
      },
    },
  });
  const values = [-0, 0.1, 5e-324, 1 / 3];
  const models = values.map((v, i) => model(i + 1, v));
  const ids = models.map((m) => m.id);
  const back = decodeBiasResults(encodeBiasResults(models), ids);
  assert.ok(back);
  back.forEach((m, i) => {
    assert.ok(Object.is(m.analysis.metrics.hue_js, values[i]), `value ${values[i]}`);
  });
  // Plain JSON would bring a non-finite number back as null, a valid cell: it must miss instead.
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    assert.equal(decodeBiasResults(encodeBiasResults([model(1, bad)]), [1]), undefined, `value ${bad}`);
  }
  assert.equal(decodeBiasResults('{not json', ids), undefined);
  assert.equal(decodeBiasResults(encodeBiasResults(models), [...ids].reverse()), undefined);
  assert.equal(decodeBiasResults(JSON.stringify([{ id: 1, analysis: {} }]), [1]), undefined);
});

test('bias cache: the Keyv adapter stores and reads back the results text', async () => {
  const cache = keyvBiasResultCache(new Keyv());
  assert.equal(await cache.get('k'), undefined);
  await cache.set('k', '[]');
  assert.equal(await cache.get('k'), '[]');
});

test('biasInputKey: the keys of stored bias results are those of earlier versions (golden)', () => {
  // Varied inputs: unicode with a surrogate pair, a ':'-string, −0, NaN, ±Infinity, a Float32Array, an
  // undefined property, a skipped image. The hashes were computed by biasInputKey before the hashing
  // was batched (one hash.update per token), so stored results of earlier audits still match.
  const refOf = (k: number, prompt: string | null): SampleImageRef => ({
    key: `7:${k}`,
    modelId: 7,
    versionId: 70,
    imageId: k,
    url: `https://image.civitai.com/x/${k}.jpeg`,
    prompt,
    width: 512,
    height: 768,
  });
  const images = [
    {
      ref: refOf(2, 'masterpiece, 1girl, 日本語 😀 (smile:1.2)'),
      status: 'ok',
      width: 512,
      height: 768,
      cached: true,
      features: {
        clip: [0.1, -0, 0.25, 1e-7, -3.5],
        colour: { hue: [0, 0.5, 0.5], satMean: 0.3, warmCoolRatio: null, flag: true },
        faces: { faces: [], detectors: ['yunet', 'peppa'] },
        extra: {
          nested: [
            [1, 2],
            ['a', null],
          ],
          u: undefined,
        },
      },
      failed: { saliency: 'boom: ü' },
    },
    { ref: refOf(1, null), status: 'skipped', reason: 'network', detail: 'x' },
    {
      ref: refOf(3, ':colon start'),
      status: 'ok',
      width: 1,
      height: 2,
      cached: false,
      features: { clip: new Float32Array([0.5, 0.25]), colour: { hue: [Number.NaN, Infinity, -Infinity] } },
      failed: {},
    },
  ] as unknown as ImageFeatureRecord[];
  const inputs = {
    modelIds: [7, 3],
    reference: { kind: 'population' },
    seed: 42,
    distanceResamples: 200,
    extractors: { clip: 'm1', colour: 'colour-1' },
    parts: ['colour', 'faces'],
    images,
    referenceImages: [],
  };
  assert.equal(biasInputKey(inputs), '8ab6a3362a2430baf31925dbf578038e96466f8f455ed10a79bb56d13a6a0f4d');
  // normalise applies to freshly extracted records; a cached one already is its schema's output.
  const normalise = (feature: string, value: unknown): unknown =>
    feature === 'clip' && ArrayBuffer.isView(value) ? [...(value as Float32Array)].map((x) => x * 2) : value;
  assert.equal(
    biasInputKey({ ...inputs, normalise }),
    '0f36a8129e7fe8c164f314807a4c75ad0cd52b652985f87542dcbebb2e27850c',
  );
});
