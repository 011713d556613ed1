import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ensureTinyClipModels } from '../../scripts/make-tiny-models.ts';
import {
  createPromptPrefetch,
  PROMPT_PREFETCH_GROUP_BATCHES,
} from '../../src/analysis/audit/clip-analyzer.ts';
import {
  type EmbeddingCache,
  memoryEmbeddingCache,
  textEmbeddingKey,
} from '../../src/analysis/clip/embedding-cache.ts';
import {
  type ClipEmbedder,
  type ImageAuditInput,
  type ScoreImagePromptsInput,
  scoreImagePrompts,
} from '../../src/analysis/clip/image-audit.ts';
import {
  type ClipRunInfo,
  type ClipScorer,
  cosine,
  createClipScorer,
  type TextEmbedding,
  textSequenceLength,
} from '../../src/analysis/clip/scorer.ts';
import { hasCode } from '../../src/analysis/errors.ts';
import type { ImageFetcher } from '../../src/analysis/images/types.ts';
import { silentLogger } from '../../src/analysis/ports.ts';
import { cleanPrompt } from '../../src/analysis/text/prompt-clean.ts';

// The text tower's work is proportional to the tokens it runs, padding included. Windows are sorted by
// length before batching, but only within one embedTexts call: per call of 8 prompts a third of the
// audit mix's text work was padding. The audit now passes every missing prompt in one call.

const VOCAB = fileURLToPath(new URL('../../assets/models/bpe_simple_vocab_16e6.txt.gz', import.meta.url));
const BATCH = 4;

/**
 * Alternating two-window and one-window prompts; every group of BATCH prompts mixes short and long
 * windows (lengths L + 2), so sorting per group pads more than sorting them all together.
 */
const LENGTHS = [3, 60, 10, 55, 20, 45, 30, 35, 5, 58, 12, 50, 25, 40, 8, 62, 15, 48, 28, 38];
const PROMPTS = LENGTHS.map((l, i) => (i % 2 === 0 ? 'cat '.repeat(75 + l) : 'dog '.repeat(l)).trim());

const refusingFetcher: ImageFetcher = {
  fetch: () => Promise.reject(new Error('nothing may be downloaded')),
  requestUrl: (url) => url,
};

function imagesFor(prompts: readonly string[]): ImageAuditInput[] {
  return prompts.map((prompt, i) => ({
    modelId: 1 + (i % 3),
    versionId: 1,
    imageId: i,
    url: `https://image.civitai.com/x/${i}.jpeg`,
    prompt,
  }));
}

/** A fixed unit image embedding for every image: the audit then only embeds prompts. */
const knownImage = (): Float32Array => {
  const v = new Float32Array(512);
  v[0] = 1;
  return v;
};

/** Tokens run (rows × sequence length) if these windows are sorted together and batched by `batch`. */
function sortedTokens(rows: number[][], batch: number): { runs: number; tokens: number } {
  const lengths = rows.map(textSequenceLength).sort((a, b) => a - b);
  let tokens = 0;
  let runs = 0;
  for (let s = 0; s < lengths.length; s += batch) {
    const chunk = lengths.slice(s, s + batch);
    tokens += chunk.length * chunk.at(-1)!;
    runs += 1;
  }
  return { runs, tokens };
}

describe('text windows are batched across prompts', () => {
  const runs: ClipRunInfo[] = [];
  let scorer: ClipScorer;
  let cleaned: string[];
  let windows: number[][];
  before(async () => {
    const tiny = await ensureTinyClipModels();
    scorer = await createClipScorer({
      modelDir: tiny.dir,
      vocabPath: VOCAB,
      textBatchSize: BATCH,
      intraOpThreads: 1,
      onRun: (r) => runs.push(r),
    });
    cleaned = PROMPTS.map((p) => cleanPrompt(p).text.trim());
    windows = cleaned.flatMap((p) => scorer.tokenizer.windows(p).map((w) => w.ids));
  });
  after(async () => {
    await scorer.dispose();
  });
  /** The prompt pass of an audit of PROMPTS (images known: only prompts are embedded). */
  const auditPrompts = (cache: EmbeddingCache, extra: Partial<ScoreImagePromptsInput> = {}) =>
    scoreImagePrompts({
      images: imagesFor(PROMPTS),
      scorer,
      fetcher: refusingFetcher,
      cache,
      precomputed: knownImage,
      options: { batchSize: BATCH },
      ...extra,
    });

  test('the prompt mix has two-window and one-window prompts', () => {
    const counts = cleaned.map((p) => scorer.tokenizer.windows(p).length);
    assert.deepEqual([...new Set(counts)].sort(), [1, 2]);
  });

  test('scoreImagePrompts runs every missing prompt’s windows sorted together: no more runs or padding than that', async () => {
    const cache = memoryEmbeddingCache();
    runs.length = 0;
    await auditPrompts(cache);
    const textRuns = runs.filter((r) => r.tower === 'text');
    const best = sortedTokens(windows, BATCH);
    const ran = textRuns.reduce((a, r) => a + r.rows * r.sequenceLength!, 0);
    assert.equal(textRuns.length, best.runs, `text runs ${textRuns.length}, sorted together ${best.runs}`);
    assert.equal(ran, best.tokens, `tokens run ${ran}, sorted together ${best.tokens}`);
    // Per call of BATCH prompts (the old way) the same windows cost more: the test can tell them apart.
    let perCall = 0;
    for (let s = 0; s < cleaned.length; s += BATCH) {
      const rows = cleaned.slice(s, s + BATCH).flatMap((p) => scorer.tokenizer.windows(p).map((w) => w.ids));
      perCall += sortedTokens(rows, BATCH).tokens;
    }
    assert.ok(perCall > best.tokens * 1.1, `per call ${perCall} vs together ${best.tokens}`);
    // Every prompt is cached, equal to embedding it on its own (≤ 1e-5 cosine per window).
    for (const prompt of cleaned) {
      const hit = await cache.get(textEmbeddingKey(prompt, scorer.modelId));
      assert.ok(hit, `prompt not cached: ${prompt.slice(0, 20)}`);
      const [alone] = await scorer.embedTexts([prompt]);
      assert.equal(hit.length, alone!.windows.length * 512);
      alone!.windows.forEach((w, j) => {
        assert.ok(1 - cosine(hit.subarray(j * 512, (j + 1) * 512), w) <= 1e-5);
      });
    }
  });

  test('onText reports each text once, as soon as its last window is embedded, equal to the result', async () => {
    const reported: Array<[number, TextEmbedding]> = [];
    runs.length = 0;
    const got = await scorer.embedTexts(cleaned, {
      onText: (i, e) => {
        reported.push([i, e]);
        // Reported before the next batch runs: the runs so far cover this text's longest window.
        const longest = Math.max(
          ...scorer.tokenizer.windows(cleaned[i]!).map((w) => textSequenceLength(w.ids)),
        );
        assert.ok(runs.at(-1)!.sequenceLength! >= longest);
      },
    });
    assert.deepEqual(
      reported.map(([i]) => i).sort((a, b) => a - b),
      cleaned.map((_, i) => i),
    );
    for (const [i, e] of reported) assert.deepEqual(e.windows, got[i]!.windows);
    // Shortest windows run first, so one-window prompts complete before any two-window prompt.
    const order = reported.map(([i]) => i);
    const lastShort = Math.max(...order.flatMap((i, k) => (i % 2 === 1 ? [k] : [])));
    const firstLong = Math.min(...order.flatMap((i, k) => (i % 2 === 0 ? [k] : [])));
    assert.ok(lastShort < firstLong, `completion order ${order.join(',')}`);
  });

  test('an abort between batches stops the prompt pass; prompts done so far stay cached (resume)', async () => {
    const cache = memoryEmbeddingCache();
    const controller = new AbortController();
    runs.length = 0;
    await assert.rejects(
      auditPrompts(cache, {
        signal: controller.signal,
        onProgress: (e) => {
          if (e.stage === 'clip-prompts' && e.done >= 3) controller.abort();
        },
      }),
      (e: unknown) => hasCode(e, 'ABORTED'),
    );
    const textRuns = runs.filter((r) => r.tower === 'text').length;
    assert.ok(textRuns < sortedTokens(windows, BATCH).runs, `${textRuns} runs after the abort`);
    assert.ok(cache.size() >= 3 && cache.size() < cleaned.length, `${cache.size()} cached`);
    // The resumed run embeds only the rest.
    runs.length = 0;
    await auditPrompts(cache);
    assert.equal(cache.size(), cleaned.length);
    const resumedRows = runs.filter((r) => r.tower === 'text').reduce((a, r) => a + r.rows, 0);
    assert.ok(
      resumedRows < windows.length,
      `resumed run embedded ${resumedRows} of ${windows.length} windows`,
    );
  });
});

describe('prompt prefetch during the image pass', () => {
  test(`embeds in groups of ${PROMPT_PREFETCH_GROUP_BATCHES} batches of prompts and caches each one`, async () => {
    const calls: string[][] = [];
    const embedder: ClipEmbedder = {
      modelId: 'fake',
      batchSize: 3,
      textBatchSize: 2,
      embedImages: () => Promise.reject(new Error('no images here')),
      embedTexts: async (texts, options) => {
        calls.push([...texts]);
        const out = texts.map((t) => ({
          windows: [Float32Array.of(t.length, 1)],
          nTokens: 3,
          truncated: false,
        }));
        for (const [i, e] of out.entries()) await options?.onText?.(i, e);
        return out;
      },
    };
    const cache = memoryEmbeddingCache();
    const prefetch = createPromptPrefetch(embedder, { cache }, silentLogger);
    const group = 2 * PROMPT_PREFETCH_GROUP_BATCHES; // text batches (2), not image batches (3)
    for (let i = 0; i < group - 1; i++) prefetch.add(`prompt ${i}`);
    prefetch.add('prompt 0'); // a repeat is not queued twice
    await new Promise((r) => setImmediate(r));
    assert.equal(calls.length, 0, 'a group is embedded only when full');
    prefetch.add(`prompt ${group - 1}`);
    prefetch.add('one more');
    await prefetch.drain();
    assert.deepEqual(
      calls.map((c) => c.length),
      [group, 1],
    );
    assert.equal(cache.size(), group + 1);
    const hit = await cache.get(textEmbeddingKey('one more', 'fake'));
    assert.deepEqual(hit, Float32Array.of(8, 1));
  });
});
