import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { CLIP_DEFAULT_BATCH, CLIP_DEFAULT_TEXT_BATCH } from '../clip/defaults.ts';
import { type EmbeddingCache, setTextEmbedding, textEmbeddingKey } from '../clip/embedding-cache.ts';
import { type ClipEmbedder, type ImageAuditOptions, scoreImagePrompts } from '../clip/image-audit.ts';
import { type ClipScorer, type ClipVariant, createClipScorer } from '../clip/scorer.ts';
import { AppError, ErrorCode } from '../errors.ts';
import { clipTensor } from '../images/clip-preprocess.ts';
import type { DecodedImage } from '../images/decode.ts';
import { featureOf, type SampleImageRef } from '../images/features.ts';
import { createImageFetcher } from '../images/fetch.ts';
import { type BatchedImageFeatureExtractor, type PassExtractor, sampleImageKey } from '../images/pass.ts';
import { type ImageSkip, ImageSkipReason, skip } from '../images/types.ts';
import { clipModelAvailability } from '../models/availability.ts';
import { type Logger, silentLogger } from '../ports.ts';
import { cleanPrompt } from '../text/prompt-clean.ts';
import { snippet } from '../text/snippet.ts';
import { type Analyzer, emptyOutput } from './analyzer.ts';
import { findingKey } from './finding-key.ts';
import type { Cell } from './metrics-csv.ts';

export interface ClipAnalyzerOptions {
  modelDir: string;
  variant?: ClipVariant;
  dispatcher: Dispatcher;
  /** Origins besides Civitai's image CDN that images may come from (the configured CIVITAI_BASE_URL). */
  extraAllowedOrigins: readonly string[];
  cache?: EmbeddingCache | undefined;
  image?: ImageAuditOptions;
  /** Prompt windows per text run (default {@link CLIP_DEFAULT_TEXT_BATCH}). */
  textBatchSize?: number;
  /**
   * A model is flagged when the Wilson lower bound of its low-match rate reaches this (default 0.25):
   * for an honest model nearly every image beats its shuffled-prompt null, so a quarter is a lot.
   */
  modelRateFlag?: number;
  logger?: Logger;
  /** Called when the ONNX sessions are opened (at most once per analyzer; warm runs open none). */
  onSessionsCreated?: () => void;
}

/** The CLIP analyzer, with the image-pass extractor that embeds each decoded image. */
export type ClipAnalyzer = Analyzer & {
  readonly imageExtractors: readonly PassExtractor[];
  /**
   * Whether the ONNX sessions are open now: they open on the first embedding that is not cached and
   * close when an analysis ends with no embedding in flight (a later one opens them again).
   */
  readonly sessionsOpen: boolean;
  /** Whether this analyzer ever opened its ONNX sessions (a warm run opens none). */
  readonly sessionsOpened: boolean;
};

/** The cache key of CLIP results; equals the scorer's `modelId` (checked when the sessions open). */
export function clipModelId(variant: ClipVariant): string {
  return `openai/clip-vit-base-patch32:${variant}`;
}

/**
 * A cached CLIP embedding: a non-empty array of finite numbers. Checked in one loop rather than by
 * `z.array(z.number().finite())`, which checked the 512 elements one schema call each: 0.2 s of a warm
 * top-200 audit (3 591 embeddings).
 */
const clipFeatureSchema = z.custom<number[]>(
  (v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && Number.isFinite(x)),
  { message: 'expected a non-empty array of finite numbers' },
);

const MODEL_COLUMNS = [
  'clip_images_scored',
  'low_match_rate',
  'low_match_ci_low',
  'low_match_ci_high',
  'clip_mode',
] as const;

/**
 * CLIP image–prompt matching over every sample image of the audited set: calibrated per image
 * against shuffled prompts of the same and other models, summarised per model with Wilson intervals.
 * Without model files it measures nothing and says so (one sentence in the notes).
 */
export function createClipAnalyzer(options: ClipAnalyzerOptions): ClipAnalyzer {
  const logger = options.logger ?? silentLogger;
  const variant = options.variant ?? 'fp32';
  const modelId = clipModelId(variant);
  const batchSize = options.image?.batchSize ?? CLIP_DEFAULT_BATCH;
  const textBatchSize = options.textBatchSize ?? CLIP_DEFAULT_TEXT_BATCH;
  let opening: Promise<ClipScorer> | undefined;
  let sessionsOpened = false;
  // Sessions open lazily: a run whose embeddings are all cached never loads the ONNX models.
  const open = (): Promise<ClipScorer> => {
    opening ??= createClipScorer({
      modelDir: options.modelDir,
      variant,
      batchSize,
      textBatchSize,
      logger,
    }).then(
      (scorer) => {
        if (scorer.modelId !== modelId) {
          throw new AppError(ErrorCode.INTERNAL, `CLIP model id ${scorer.modelId} is not ${modelId}`);
        }
        sessionsOpened = true;
        options.onSessionsCreated?.();
        return scorer;
      },
      (error: unknown) => {
        opening = undefined;
        throw error;
      },
    );
    return opening;
  };
  // Embed calls in flight (across concurrent audits sharing this analyzer): sessions are released only
  // when none is, and a later call opens them again.
  let inFlight = 0;
  const using = async <T>(fn: (scorer: ClipScorer) => Promise<T>): Promise<T> => {
    inFlight += 1;
    try {
      return await fn(await open());
    } finally {
      inFlight -= 1;
    }
  };
  const release = async (): Promise<void> => {
    const o = opening;
    opening = undefined;
    const scorer = await o?.catch(() => undefined);
    await scorer?.dispose();
  };
  const releaseIfIdle = async (): Promise<void> => {
    await prefetch.drain().catch(() => undefined);
    if (inFlight === 0) await release();
  };
  const embedder: ClipEmbedder = {
    modelId,
    batchSize,
    textBatchSize,
    embedImages: (tensors) => using((s) => s.embedImages(tensors)),
    embedTexts: (texts, textOptions) => using((s) => s.embedTexts(texts, textOptions)),
  };

  // Prompts of images decoded during the pass are embedded meanwhile (into the cache), so the text
  // tower overlaps the crawl too; the analysis then finds them cached.
  const prefetch = createPromptPrefetch(embedder, options, logger);

  const extractor: BatchedImageFeatureExtractor<Float32Array, number[]> & {
    available(): Promise<boolean>;
  } = {
    name: 'clip',
    version: modelId,
    schema: clipFeatureSchema,
    available: async () => (await clipModelAvailability(options.modelDir, variant)).ok,
    async extract(image: DecodedImage) {
      const [embedding] = await embedder.embedImages([clipTensor(image)]);
      return Array.from(embedding!);
    },
    batch: {
      size: batchSize,
      prepare(image: DecodedImage, ref: SampleImageRef) {
        prefetch.add(ref.prompt);
        return clipTensor(image);
      },
      run: async (tensors: readonly Float32Array[]) =>
        (await embedder.embedImages(tensors)).map((e) => Array.from(e)),
    },
  };

  const analyzeAll: Analyzer['analyze'] = async (records, hooks, runOptions, context) => {
    const out = emptyOutput();
    const unmeasured = (why: string, short: string): void => {
      for (const r of records) {
        out.perModel.set(r.id, {
          flagged: null,
          unmeasured: short,
          findings: [],
          metrics: Object.fromEntries(MODEL_COLUMNS.map((c) => [c, null])) as Record<string, Cell>,
          evidence: { status: 'not-measured', reason: why },
        });
      }
    };
    const availability = await clipModelAvailability(options.modelDir, variant);
    if (!availability.ok) {
      out.notes.push(availability.sentence);
      unmeasured(availability.sentence, 'not run: CLIP model files are missing, run npm run models');
      return out;
    }
    const images = records.flatMap((r) =>
      r.versions.flatMap((v) =>
        v.images
          .filter((im) => im.kind === 'image')
          .map((im) => ({
            modelId: r.id,
            versionId: v.id,
            imageId: im.id,
            url: im.url,
            prompt: im.prompt,
            width: im.width,
            height: im.height,
          })),
      ),
    );
    if (images.length === 0) {
      unmeasured('no still sample images', 'no still sample images');
      return out;
    }
    const pass = context?.images;
    // From the image pass: the embedding, or why the image has none. Absent: fetched here.
    const precomputed = (index: number): Float32Array | ImageSkip | undefined => {
      const img = images[index]!;
      const rec = pass?.images.get(sampleImageKey(img.modelId, img.imageId));
      if (rec === undefined) return undefined;
      if (rec.status === 'skipped') return skip(rec.reason, rec.detail);
      const embedding = featureOf<number[]>(rec, extractor);
      if (embedding !== undefined) return Float32Array.from(embedding);
      return skip(ImageSkipReason.DECODE_ERROR, `CLIP: ${rec.failed.clip ?? 'no embedding'}`);
    };
    await prefetch.drain();
    const fetcher = createImageFetcher({
      dispatcher: options.dispatcher,
      extraAllowedOrigins: options.extraAllowedOrigins,
    });
    const result = await scoreImagePrompts({
      images,
      scorer: embedder,
      ...(pass ? { precomputed } : {}),
      fetcher,
      ...(options.cache ? { cache: options.cache } : {}),
      options: {
        ...options.image,
        ...(runOptions.clipThreshold === undefined ? {} : { rawThreshold: runOptions.clipThreshold }),
        ...(runOptions.clipAlpha === undefined ? {} : { alpha: runOptions.clipAlpha }),
        ...(runOptions.clipNullK === undefined ? {} : { nullK: runOptions.clipNullK }),
      },
      ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
      ...(hooks.signal ? { signal: hooks.signal } : {}),
      logger,
    });
    out.notes.push(...result.notes);
    if (result.mode === 'raw-threshold-uncalibrated') {
      out.notes.push(
        `CLIP mismatch flags use a raw cosine threshold of ${result.rawThreshold}: uncalibrated, for comparison only.`,
      );
    }
    // Keyed by version and image: ids taken from URLs can repeat across versions.
    const levels = new Map(
      records.flatMap((r) =>
        r.versions.flatMap((v) => v.images.map((im) => [`${v.id}:${im.id}`, im.nsfwLevel] as const)),
      ),
    );
    const flagRate = options.modelRateFlag ?? 0.25;
    const rowsByModel = new Map<number, typeof result.images>();
    for (const row of result.images) {
      const list = rowsByModel.get(row.model_id);
      if (list) list.push(row);
      else rowsByModel.set(row.model_id, [row]);
    }
    const summaries = new Map(result.models.map((m) => [m.model_id, m]));
    for (const record of records) {
      const summary = summaries.get(record.id);
      const rows = rowsByModel.get(record.id) ?? [];
      const flaggedRows = rows.filter((row) => row.low_match === true);
      const measured = summary !== undefined && summary.decided > 0;
      const flagged = measured ? (summary.low_match_ci_low ?? 0) >= flagRate : null;
      out.perModel.set(record.id, {
        flagged,
        ...(measured
          ? {}
          : {
              unmeasured:
                summary === undefined || summary.scored === 0
                  ? 'no sample image could be scored'
                  : 'too few distinct prompts for a calibrated decision',
            }),
        findings: flagged
          ? flaggedRows.map((row) => ({
              itemKey: findingKey(record.id, 'clip', 'clip.low-match', String(row.image_id)),
              detector: 'clip' as const,
              rule: 'clip.low-match',
              severity: 'warning' as const,
              title: `Image ${row.image_id} does not match its prompt (p=${row.clip_null_p?.toFixed(3) ?? 'n/a'})`,
              evidence: `cos ${row.clip_cosine?.toFixed(3)} vs null q${Number(((1 - result.alpha) * 100).toFixed(2))} ${row.clip_null_quantile?.toFixed(3) ?? 'n/a'}: "${snippet(row.prompt_clean, 160)}"`,
              source: row.image_url,
              versionId: row.version_id,
            }))
          : [],
        metrics: {
          clip_images_scored: summary?.scored ?? 0,
          low_match_rate: summary?.low_match_rate ?? null,
          low_match_ci_low: summary?.low_match_ci_low ?? null,
          low_match_ci_high: summary?.low_match_ci_high ?? null,
          clip_mode: result.mode,
        },
        evidence: {
          mode: result.mode,
          alpha: result.alpha,
          nullK: result.nullK,
          seed: result.seed,
          summary: summary ?? null,
        },
      });
      // error_samples.zip shows the evidence of flagged models only, matching the findings.
      for (const row of flagged ? flaggedRows : []) {
        out.flaggedImages.push({
          modelId: record.id,
          versionId: row.version_id,
          imageId: row.image_id,
          url: row.image_url,
          nsfwLevel: levels.get(`${row.version_id}:${row.image_id}`) ?? 16,
          reason: `low CLIP match (cos ${row.clip_cosine?.toFixed(3)}, p=${row.clip_null_p?.toFixed(3) ?? 'n/a'})`,
        });
      }
    }
    out.rows = result.images.map((row) => ({
      row_type: 'image',
      model_id: row.model_id,
      version_id: row.version_id,
      image_id: row.image_id,
      image_url: row.image_url,
      prompt_clean: row.prompt_clean,
      clip_cosine: row.clip_cosine,
      clip_cosine_mean: row.clip_cosine_mean,
      clipscore: row.clipscore,
      clip_null_p: row.clip_null_p,
      low_match: row.low_match,
      prompt_windows: row.prompt_windows,
      skipped: row.skipped,
    }));
    return out;
  };

  return {
    name: 'clip',
    columns: MODEL_COLUMNS,
    imageExtractors: [extractor],
    get sessionsOpen() {
      return opening !== undefined;
    },
    get sessionsOpened() {
      return sessionsOpened;
    },
    async analyze(records, hooks, runOptions, context) {
      try {
        return await analyzeAll(records, hooks, runOptions, context);
      } finally {
        // The sessions are not needed again this audit: free their memory (≈ 0.6 GB) before the bias
        // analysis, unless another audit is embedding right now (it releases them when it ends).
        await releaseIfIdle();
      }
    },
    async close() {
      await prefetch.drain().catch(() => undefined);
      await release();
    },
  };
}

/**
 * Prompts per prefetch call, in text batches: the scorer sorts one call's windows by length before
 * batching them, so a larger group wastes less of the text tower on padding (audit prompt mix: 1.28×
 * the real tokens at 8 prompts per call, 1.03× at 64) at the cost of embedding a little later.
 * 8 × 8 = 64 prompts a call (about 128 windows) with the default text batch.
 */
export const PROMPT_PREFETCH_GROUP_BATCHES = 8;

/**
 * Embeds the cleaned prompts of decoded images in the background, in groups of
 * {@link PROMPT_PREFETCH_GROUP_BATCHES} text batches, into the embedding cache (without a cache there is
 * nowhere to keep them, and nothing is prefetched); each prompt is cached as soon as its windows are.
 * Failures are logged and left to the analysis, which embeds what is missing and reports its own errors.
 */
export function createPromptPrefetch(
  embedder: ClipEmbedder,
  options: Pick<ClipAnalyzerOptions, 'cache' | 'image'>,
  logger: Logger,
) {
  const cache = options.cache;
  const seen = new Set<string>();
  let queued: string[] = [];
  let chain: Promise<void> = Promise.resolve();
  const store = async (text: string, windows: readonly Float32Array[]): Promise<void> => {
    if (cache) await setTextEmbedding(cache, text, embedder.modelId, windows);
  };
  const flush = (): void => {
    const batch = queued;
    queued = [];
    if (!cache || batch.length === 0) return;
    chain = chain.then(async () => {
      try {
        const todo: string[] = [];
        for (const text of batch) {
          if ((await cache.get(textEmbeddingKey(text, embedder.modelId))) === undefined) todo.push(text);
        }
        if (todo.length === 0) return;
        const stored = new Set<number>();
        const embedded = await embedder.embedTexts(todo, {
          onText: async (k, e) => {
            stored.add(k);
            await store(todo[k]!, e.windows);
          },
        });
        for (const [k, e] of embedded.entries()) if (!stored.has(k)) await store(todo[k]!, e.windows);
      } catch (error) {
        logger.warn(
          { err: error instanceof Error ? error.message : String(error) },
          'prompt prefetch failed',
        );
      }
    });
  };
  return {
    add(prompt: string | null): void {
      if (!cache || prompt === null) return;
      const text = cleanPrompt(prompt, options.image?.promptClean).text.trim();
      if (text === '' || seen.has(text)) return;
      seen.add(text);
      queued.push(text);
      if (queued.length >= embedder.textBatchSize * PROMPT_PREFETCH_GROUP_BATCHES) flush();
    },
    /** Embed what is queued and wait for every batch; the next audit starts with an empty memory. */
    async drain(): Promise<void> {
      flush();
      await chain;
      seen.clear();
    },
  };
}
