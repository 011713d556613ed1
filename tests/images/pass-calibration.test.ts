import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  imageEmbeddingKey,
  memoryEmbeddingCache,
  textEmbeddingKey,
} from '../../src/analysis/clip/embedding-cache.ts';
import {
  type ClipEmbedder,
  type ImageAuditInput,
  scoreImagePrompts,
} from '../../src/analysis/clip/image-audit.ts';
import type { ImageFetcher } from '../../src/analysis/images/types.ts';
import { sampleIndices, seededRandom } from '../../src/analysis/stats/random.ts';
import { cleanPrompt } from '../../src/analysis/text/prompt-clean.ts';

// Warm runs: every embedding is known, so what is left is the calibration. Its cost per image must not
// grow with the number of distinct prompts in the audit (it used to copy them all for every image).

const DIM = 512;
function unit(rng: () => number): Float32Array {
  const v = new Float32Array(DIM);
  let s = 0;
  for (let i = 0; i < DIM; i++) {
    v[i] = rng() - 0.5;
    s += v[i]! * v[i]!;
  }
  const n = Math.sqrt(s);
  for (let i = 0; i < DIM; i++) v[i]! /= n;
  return v;
}

const refusingFetcher: ImageFetcher = {
  fetch: () => Promise.reject(new Error('nothing may be downloaded')),
  requestUrl: (url) => url,
};

async function calibrationTime(n: number): Promise<number> {
  const r = seededRandom(n);
  const texts = new Map<string, Float32Array>();
  const inference = { texts: 0 };
  const embedder: ClipEmbedder = {
    modelId: 'fake',
    batchSize: 64,
    textBatchSize: 64,
    embedImages: () => Promise.reject(new Error('no image inference on a warm run')),
    embedTexts: async (batch) =>
      batch.map((t) => {
        inference.texts += 1;
        const w = texts.get(t) ?? unit(r.next);
        texts.set(t, w);
        return { windows: [w], nTokens: 5, truncated: false };
      }),
  };
  const images: ImageAuditInput[] = Array.from({ length: n }, (_, i) => ({
    modelId: i % 7,
    versionId: 1,
    imageId: i,
    url: `https://image.civitai.com/x/${i}.jpeg`,
    prompt: `prompt number ${i} of a cat`,
  }));
  const embeddings = images.map(() => unit(r.next));
  // A warm run: every image and prompt embedding is in the cache.
  const cache = memoryEmbeddingCache();
  for (const [i, im] of images.entries()) {
    await cache.set(imageEmbeddingKey(im.url, embedder.modelId), embeddings[i]!);
    const [text] = await embedder.embedTexts([cleanPrompt(im.prompt!).text.trim()]);
    await cache.set(
      textEmbeddingKey(cleanPrompt(im.prompt!).text.trim(), embedder.modelId),
      text!.windows[0]!,
    );
  }
  inference.texts = 0;
  let best = Number.POSITIVE_INFINITY;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = process.hrtime.bigint();
    const result = await scoreImagePrompts({
      images,
      scorer: embedder,
      fetcher: refusingFetcher,
      cache,
      options: { nullK: 9, minNull: 5 },
    });
    best = Math.min(best, Number(process.hrtime.bigint() - t0));
    assert.equal(inference.texts, 0, 'no prompt was embedded again');
    assert.equal(result.stats.imageCacheHits, n);
    assert.equal(result.images.filter((row) => row.clip_null_p !== null).length, n);
  }
  return best;
}

describe('calibration on warm runs', () => {
  test('sampleIndices draws from populations larger than any array, the same draws as before', () => {
    const big = sampleIndices(2 ** 33, 10, seededRandom(1));
    assert.equal(big.length, 10);
    assert.equal(new Set(big).size, 10);
    assert.ok(big.every((i) => Number.isInteger(i) && i >= 0 && i < 2 ** 33));
    // Reference values of the dense Fisher–Yates shuffle (the algorithm before this change), seed 7.
    assert.deepEqual(sampleIndices(10, 4, seededRandom(7)), denseSample(10, 4, 7));
    assert.deepEqual(sampleIndices(1000, 99, seededRandom(3)), denseSample(1000, 99, 3));
    assert.deepEqual(sampleIndices(5, 9, seededRandom(3)), denseSample(5, 9, 3));
  });

  test('image decisions with every embedding known grow linearly with the audit, not quadratically', async () => {
    // 4× the images and 4× the distinct prompts: linear work is ~4× the time, the old per-image copy ~16×.
    await calibrationTime(300); // warm-up (JIT)
    const small = await calibrationTime(1_000);
    const large = await calibrationTime(4_000);
    const ratio = large / small;
    console.log('RATIO', ratio, small / 1e6, large / 1e6);
    assert.ok(
      ratio < 6.5,
      `4× the images took ${ratio.toFixed(1)}× as long (linear ≈ 4×; the old per-image copy measured ≈ 9×)`,
    );
  });
});

function denseSample(n: number, k: number, seed: number): number[] {
  const rng = seededRandom(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(k, n);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(n - i);
    const tmp = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = tmp;
  }
  return idx.slice(0, m);
}
