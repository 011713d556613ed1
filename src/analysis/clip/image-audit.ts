import { z } from 'zod';
import { AppError, ErrorCode } from '../errors.ts';
import { CLIP_IMAGE_SIZE, clipTensor } from '../images/clip-preprocess.ts';
import { type DecodeLimits, decodeImage } from '../images/decode.ts';
import {
  type ImageFetcher,
  type ImageSkip,
  ImageSkipReason,
  imageSkipReasonSchema,
  skip,
} from '../images/types.ts';
import type { Logger, ProgressListener } from '../ports.ts';
import { silentLogger } from '../ports.ts';
import { seededRandom } from '../stats/random.ts';
import { wilsonInterval } from '../stats/wilson.ts';
import { cleanPrompt, type PromptCleanOptions } from '../text/prompt-clean.ts';
import {
  type CalibrationOptions,
  calibrate,
  checkCalibrationOptions,
  windowSimilarity,
} from './calibration.ts';
import {
  type EmbeddingCache,
  imageEmbeddingKey,
  setTextEmbedding,
  textEmbeddingKey,
} from './embedding-cache.ts';
import type { ClipScorer } from './scorer.ts';

export const imageAuditInputSchema = z.object({
  modelId: z.number().int(),
  versionId: z.number().int(),
  imageId: z.number().int(),
  url: z.string().min(1),
  prompt: z.string().nullable(),
  /** Original size from Civitai's metadata, when known: wide images are asked for wider from the CDN. */
  width: z.number().nullish(),
  height: z.number().nullish(),
});
export type ImageAuditInput = z.infer<typeof imageAuditInputSchema>;

export const imageScoreRowSchema = z.object({
  model_id: z.number().int(),
  version_id: z.number().int(),
  image_id: z.number().int(),
  image_url: z.string(),
  prompt_clean: z.string(),
  /** Max cosine over the prompt's 77-token windows. */
  clip_cosine: z.number().nullable(),
  clip_cosine_mean: z.number().nullable(),
  /** 2.5 · max(cos, 0) (Hessel et al. 2021). */
  clipscore: z.number().nullable(),
  clip_null_p: z.number().nullable(),
  clip_null_quantile: z.number().nullable(),
  low_match: z.boolean().nullable(),
  prompt_windows: z.number().int(),
  skipped: imageSkipReasonSchema.nullable(),
  skip_detail: z.string().nullable(),
});
export type ImageScoreRow = z.infer<typeof imageScoreRowSchema>;

export const modelMatchSummarySchema = z.object({
  model_id: z.number().int(),
  scored: z.number().int(),
  skipped: z.number().int(),
  /** Images with a decision (calibrated null large enough, or raw mode). */
  decided: z.number().int(),
  flagged: z.number().int(),
  low_match_rate: z.number().nullable(),
  low_match_ci_low: z.number().nullable(),
  low_match_ci_high: z.number().nullable(),
});
export type ModelMatchSummary = z.infer<typeof modelMatchSummarySchema>;

export const ClipMatchMode = {
  CALIBRATED: 'calibrated',
  RAW_THRESHOLD: 'raw-threshold-uncalibrated',
} as const;
export type ClipMatchMode = (typeof ClipMatchMode)[keyof typeof ClipMatchMode];

export interface ImageAuditResult {
  mode: ClipMatchMode;
  clipModelId: string;
  alpha: number;
  nullK: number;
  seed: number;
  rawThreshold: number | null;
  images: ImageScoreRow[];
  models: ModelMatchSummary[];
  stats: {
    fetched: number;
    imageCacheHits: number;
    textCacheHits: number;
    imageBatches: number;
    uniquePrompts: number;
  };
  notes: string[];
}

export interface ImageAuditOptions {
  alpha?: number;
  nullK?: number;
  /** Minimum distinct other prompts for a calibrated decision (default 19). */
  minNull?: number;
  seed?: number;
  /** Uncalibrated mode: flag when the raw cosine is below this (the seed's `--clip-threshold`). */
  rawThreshold?: number;
  /** Images per vision run (default: the scorer's). */
  batchSize?: number;
  /** Downloads/decodes in flight (default 4). */
  concurrency?: number;
  decodeLimits?: DecodeLimits;
  promptClean?: PromptCleanOptions;
}

/** What the audit needs of a CLIP scorer; a lazy one opens its sessions on the first embed call. */
export type ClipEmbedder = Pick<
  ClipScorer,
  'modelId' | 'batchSize' | 'textBatchSize' | 'embedImages' | 'embedTexts'
>;

export interface ScoreImagePromptsInput {
  images: ImageAuditInput[];
  scorer: ClipEmbedder;
  /**
   * Image embeddings (or skips) already computed by the image pass, by input index: such an image is
   * neither downloaded nor embedded here. undefined = not known, fetched and embedded as usual.
   */
  precomputed?: (index: number) => Float32Array | ImageSkip | undefined;
  fetcher: ImageFetcher;
  cache?: EmbeddingCache;
  options: ImageAuditOptions;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
  logger?: Logger;
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new AppError(ErrorCode.ABORTED, 'CLIP image audit aborted', { cause: signal.reason });
  }
}

function intOption(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AppError(ErrorCode.INPUT_INVALID, `${name} must be an integer in ${min}..${max}`, {
      details: { [name]: value },
      userFault: true,
      userMessage: `${name} must be a whole number between ${min} and ${max}.`,
    });
  }
  return value;
}

/** A promise that can be awaited repeatedly and woken by `notify`. */
function signalBox(): { wait(): Promise<void>; notify(): void } {
  let waiters: Array<() => void> = [];
  return {
    wait: () => new Promise<void>((r) => waiters.push(r)),
    notify: () => {
      const w = waiters;
      waiters = [];
      for (const r of w) r();
    },
  };
}

/**
 * Score each sample image against its own cleaned prompt with CLIP and flag mismatches against a
 * calibrated per-image null (or the uncalibrated raw threshold), with per-model Wilson intervals.
 * Downloads and decodes overlap with batched inference through a bounded queue; image and prompt
 * embeddings are cached. Per-image failures are recorded as skip reasons. Throws ABORTED,
 * INPUT_INVALID (options), MODEL_INVALID (model output shape) and STORAGE_IO (cache).
 */
export async function scoreImagePrompts(input: ScoreImagePromptsInput): Promise<ImageAuditResult> {
  const { scorer, fetcher, cache, signal } = input;
  const logger = input.logger ?? silentLogger;
  const images = z.array(imageAuditInputSchema).parse(input.images);
  const o = input.options;
  const calibration: CalibrationOptions = checkCalibrationOptions({
    alpha: o.alpha ?? 0.05,
    nullK: o.nullK ?? 99,
    minNull: o.minNull ?? 19,
  });
  const seed = intOption('seed', o.seed ?? 42, 0, 2 ** 32 - 1);
  const batchSize = intOption('batchSize', o.batchSize ?? scorer.batchSize, 1, 1024);
  const concurrency = intOption('concurrency', o.concurrency ?? 4, 1, 64);
  const rawThreshold = o.rawThreshold ?? null;
  if (rawThreshold !== null && !(rawThreshold >= -1 && rawThreshold <= 1)) {
    throw new AppError(ErrorCode.INPUT_INVALID, 'rawThreshold must be a cosine in [-1, 1]', {
      userFault: true,
      userMessage: 'The CLIP threshold must be between -1 and 1.',
    });
  }
  const mode = rawThreshold === null ? ClipMatchMode.CALIBRATED : ClipMatchMode.RAW_THRESHOLD;
  const progress = input.onProgress ?? (() => {});
  checkAbort(signal);

  // 1. Clean prompts; images without one are skipped before any download. Images often share a
  //    prompt (one prompt, several seeds): each distinct one is cleaned once.
  const cleanedByPrompt = new Map<string, string>();
  const cleaned = images.map((img) => {
    if (img.prompt === null) return '';
    let text = cleanedByPrompt.get(img.prompt);
    if (text === undefined) {
      text = cleanPrompt(img.prompt, o.promptClean).text.trim();
      cleanedByPrompt.set(img.prompt, text);
    }
    return text;
  });
  const skips = new Map<number, ImageSkip>();
  cleaned.forEach((text, i) => {
    if (text === '') skips.set(i, skip(ImageSkipReason.NO_PROMPT, 'no prompt left after cleaning'));
  });

  // 2. Prompt embeddings, once per distinct cleaned prompt (cache by cleaned-prompt hash).
  const uniquePrompts = [...new Set(cleaned.filter((t) => t !== ''))];
  const textEmbeddings = new Map<string, Float32Array[]>();
  let textCacheHits = 0;
  const dim = 512;
  const missingTexts: string[] = [];
  for (const prompt of uniquePrompts) {
    const hit = cache ? await cache.get(textEmbeddingKey(prompt, scorer.modelId)) : undefined;
    if (hit && hit.length > 0 && hit.length % dim === 0) {
      const windows: Float32Array[] = [];
      for (let k = 0; k < hit.length; k += dim) windows.push(hit.slice(k, k + dim));
      textEmbeddings.set(prompt, windows);
      textCacheHits += 1;
    } else {
      missingTexts.push(prompt);
    }
  }
  // 3. Image embeddings: producers fetch+decode+preprocess (bounded), one consumer runs batches. The
  //    producers start while the prompts are encoded, so downloads and decoding overlap that too.
  const imageEmbeddings = new Map<number, Float32Array>();
  let imageCacheHits = 0;
  let fetched = 0;
  let imageBatches = 0;
  const todo = images.map((_, i) => i).filter((i) => !skips.has(i));
  const total = todo.length;
  let done = 0;
  // Image progress is reported once the prompt stage is over, so the two stages do not interleave.
  let imageStage = false;
  const bump = (): void => {
    done += 1;
    if (imageStage) progress({ stage: 'clip-images', done, total });
  };
  const pending: Array<{ index: number; key: string; tensor: Float32Array }> = [];
  const maxPending = batchSize * 2;
  const wake = signalBox();
  let producersLeft = concurrency;
  let next = 0;
  let failure: unknown = null;

  const produce = async (): Promise<void> => {
    try {
      while (next < todo.length && failure === null) {
        checkAbort(signal);
        const index = todo[next++]!;
        const img = images[index]!;
        const known = input.precomputed?.(index);
        if (known instanceof Float32Array) {
          imageEmbeddings.set(index, known);
          imageCacheHits += 1;
          bump();
          continue;
        }
        if (known !== undefined) {
          skips.set(index, known);
          bump();
          continue;
        }
        const fetchOptions = { width: img.width, height: img.height, minShortSide: CLIP_IMAGE_SIZE };
        // Keyed on the rendition actually requested: another CDN width is another image.
        const key = imageEmbeddingKey(fetcher.requestUrl(img.url, fetchOptions), scorer.modelId);
        const hit = cache ? await cache.get(key) : undefined;
        if (hit && hit.length === dim) {
          imageEmbeddings.set(index, hit);
          imageCacheHits += 1;
          bump();
          continue;
        }
        const got = await fetcher.fetch(img.url, signal, fetchOptions);
        if (!got.ok) {
          skips.set(index, got);
          bump();
          continue;
        }
        fetched += 1;
        const decoded = await decodeImage(got.bytes, o.decodeLimits);
        if (!decoded.ok) {
          skips.set(index, decoded);
          bump();
          continue;
        }
        // Only the 224×224 tensor outlives this iteration; pixels and bytes are dropped here.
        const tensor = clipTensor(decoded);
        while (pending.length >= maxPending && failure === null) await wake.wait();
        pending.push({ index, key, tensor });
        wake.notify();
      }
    } catch (error) {
      failure ??= error;
    } finally {
      producersLeft -= 1;
      wake.notify();
    }
  };

  // One call for every missing prompt: the scorer sorts all their windows by length before batching
  // (per call of 8 prompts a third of the text work was padding). Each prompt is kept and cached as
  // soon as its last window is embedded, so an interrupted run resumes from there.
  const embedPrompts = async (): Promise<void> => {
    if (missingTexts.length === 0) return;
    let embeddedPrompts = 0;
    const keep = async (k: number, windows: Float32Array[]): Promise<void> => {
      const prompt = missingTexts[k]!;
      if (textEmbeddings.has(prompt)) return;
      textEmbeddings.set(prompt, windows);
      if (cache) await setTextEmbedding(cache, prompt, scorer.modelId, windows);
      embeddedPrompts += 1;
      progress({ stage: 'clip-prompts', done: embeddedPrompts, total: missingTexts.length });
    };
    const embedded = await scorer.embedTexts(missingTexts, {
      beforeBatch: () => {
        checkAbort(signal);
        if (failure !== null) throw failure; // a producer failed: the audit ends with its error
      },
      onText: (k, embedding) => keep(k, embedding.windows),
    });
    // An embedder that does not report texts as they complete: keep them now.
    for (const [k, e] of embedded.entries()) await keep(k, e.windows);
  };

  const consume = async (): Promise<void> => {
    try {
      await embedPrompts();
    } catch (error) {
      failure ??= error;
      wake.notify();
      return;
    }
    if (failure !== null) return;
    imageStage = true;
    if (total > 0) progress({ stage: 'clip-images', done, total });
    while (failure === null) {
      if (pending.length >= batchSize || (producersLeft === 0 && pending.length > 0)) {
        const batch = pending.splice(0, batchSize);
        wake.notify();
        try {
          const embeddings = await scorer.embedImages(batch.map((b) => b.tensor));
          imageBatches += 1;
          for (const [k, item] of batch.entries()) {
            imageEmbeddings.set(item.index, embeddings[k]!);
            if (cache) await cache.set(item.key, embeddings[k]!);
            bump();
          }
        } catch (error) {
          failure ??= error;
          wake.notify();
        }
        continue;
      }
      if (producersLeft === 0) return;
      await wake.wait();
    }
  };

  await Promise.all([...Array.from({ length: concurrency }, produce), consume()]);
  if (failure !== null) throw failure;
  checkAbort(signal);

  // 4. Decisions: calibrated null from the other distinct prompts, or the raw threshold. The others are a
  //    view over the distinct prompts without the image's own (no per-image copy: linear in images).
  const rng = seededRandom(seed);
  const uniqueEmbeddings = uniquePrompts.map((p) => textEmbeddings.get(p)!);
  const uniqueIndex = new Map(uniquePrompts.map((p, k) => [p, k]));
  const othersOf = (own: number): Pick<ReadonlyArray<readonly Float32Array[]>, 'length' | 'at'> => ({
    length: uniqueEmbeddings.length - 1,
    at: (j: number) => uniqueEmbeddings[j < own ? j : j + 1],
  });
  const rows: ImageScoreRow[] = images.map((img, i) => {
    const base = {
      model_id: img.modelId,
      version_id: img.versionId,
      image_id: img.imageId,
      image_url: img.url,
      prompt_clean: cleaned[i]!,
    };
    const skipped = skips.get(i);
    const embedding = imageEmbeddings.get(i);
    const own = textEmbeddings.get(cleaned[i]!);
    if (skipped || !embedding || !own) {
      return {
        ...base,
        clip_cosine: null,
        clip_cosine_mean: null,
        clipscore: null,
        clip_null_p: null,
        clip_null_quantile: null,
        low_match: null,
        prompt_windows: own?.length ?? 0,
        skipped: skipped?.reason ?? ImageSkipReason.DECODE_ERROR,
        skip_detail: skipped?.detail ?? 'no embedding',
      };
    }
    const others = othersOf(uniqueIndex.get(cleaned[i]!)!);
    const sim = windowSimilarity(embedding, own);
    const decision = calibrate(embedding, own, others, calibration, rng);
    const lowMatch = rawThreshold === null ? decision.lowMatch : sim.max < rawThreshold;
    return {
      ...base,
      clip_cosine: sim.max,
      clip_cosine_mean: sim.mean,
      clipscore: 2.5 * Math.max(sim.max, 0),
      clip_null_p: decision.pValue,
      clip_null_quantile: decision.nullQuantile,
      low_match: lowMatch,
      prompt_windows: own.length,
      skipped: null,
      skip_detail: null,
    };
  });

  const byModel = new Map<number, ImageScoreRow[]>();
  for (const row of rows) {
    const list = byModel.get(row.model_id) ?? [];
    list.push(row);
    byModel.set(row.model_id, list);
  }
  const models: ModelMatchSummary[] = [...byModel.entries()].map(([modelId, list]) => {
    const decided = list.filter((r) => r.low_match !== null);
    const flagged = decided.filter((r) => r.low_match === true).length;
    const ci = wilsonInterval(flagged, decided.length);
    return {
      model_id: modelId,
      scored: list.filter((r) => r.skipped === null).length,
      skipped: list.filter((r) => r.skipped !== null).length,
      decided: decided.length,
      flagged,
      low_match_rate: ci?.rate ?? null,
      low_match_ci_low: ci?.low ?? null,
      low_match_ci_high: ci?.high ?? null,
    };
  });

  const notes: string[] = [];
  if (mode === ClipMatchMode.RAW_THRESHOLD) {
    notes.push(
      `CLIP mismatch uses the raw cosine threshold ${rawThreshold} (uncalibrated: ViT-B/32 matching pairs sit around 0.25–0.35).`,
    );
  } else {
    notes.push(
      `CLIP mismatch is calibrated per image: own-prompt cosine vs the ${1 - calibration.alpha} quantile of ${calibration.nullK} shuffled prompts (seed ${seed}).`,
    );
    if (uniquePrompts.length - 1 < calibration.minNull) {
      notes.push(
        `Only ${uniquePrompts.length} distinct prompts: at least ${calibration.minNull + 1} are needed for a calibrated decision, so no image was flagged.`,
      );
    }
  }
  logger.info(
    { images: images.length, fetched, imageCacheHits, textCacheHits, imageBatches },
    'CLIP image audit done',
  );
  return {
    mode,
    clipModelId: scorer.modelId,
    alpha: calibration.alpha,
    nullK: calibration.nullK,
    seed,
    rawThreshold,
    images: rows,
    models,
    stats: { fetched, imageCacheHits, textCacheHits, imageBatches, uniquePrompts: uniquePrompts.length },
    notes,
  };
}
