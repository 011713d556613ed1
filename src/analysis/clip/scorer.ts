import { access, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { AppError, ErrorCode } from '../errors.ts';
import { CLIP_IMAGE_SIZE, CLIP_TENSOR_LENGTH } from '../images/clip-preprocess.ts';
import { type Logger, silentLogger } from '../ports.ts';
import { CLIP_DEFAULT_BATCH, CLIP_DEFAULT_TEXT_BATCH } from './defaults.ts';
import {
  BUNDLED_CLIP_VOCAB_PATH,
  CLIP_CONTEXT_LENGTH,
  CLIP_DEFAULT_MAX_WINDOWS,
  CLIP_EOT,
  type ClipTokenizer,
  clipWindowsFromIds,
  loadClipTokenizer,
} from './tokenizer.ts';
import {
  openMainThreadSession,
  openWorkerSession,
  SessionOpenError,
  type SessionThread,
  type TowerSession,
  type WireTensor,
} from './tower-session.ts';

export const CLIP_VOCAB_FILE = 'bpe_simple_vocab_16e6.txt.gz';

/** File names of the Transformers.js export (Xenova/clip-vit-base-patch32 `onnx/…`). */
export const CLIP_MODEL_FILES = {
  fp32: { vision: 'vision_model.onnx', text: 'text_model.onnx' },
  quantized: { vision: 'vision_model_quantized.onnx', text: 'text_model_quantized.onnx' },
} as const;
export type ClipVariant = keyof typeof CLIP_MODEL_FILES;

// Names checked at session creation (Optimum/Transformers.js CLIP tower exports).
const visionIoSchema = z.object({
  inputNames: z.array(z.string()).refine((n) => n.length === 1 && n[0] === 'pixel_values', {
    message: 'vision model must take exactly one input named pixel_values',
  }),
  outputNames: z.array(z.string()).refine((n) => n.includes('image_embeds'), {
    message: 'vision model must output image_embeds',
  }),
});
const textIoSchema = z.object({
  inputNames: z
    .array(z.string())
    .refine((n) => n.includes('input_ids') && n.every((x) => x === 'input_ids' || x === 'attention_mask'), {
      message: 'text model must take input_ids (and optionally attention_mask) only',
    }),
  outputNames: z.array(z.string()).refine((n) => n.includes('text_embeds'), {
    message: 'text model must output text_embeds',
  }),
});

/** A prompt's embedding: one L2-normalised vector per 77-token window. */
export interface TextEmbedding {
  windows: Float32Array[];
  /** Start and end tokens plus the prompt's BPE ids, counted up to one more than the windows hold. */
  nTokens: number;
  /** The windows do not cover the whole prompt (only as much of it as they hold was encoded). */
  truncated: boolean;
}

/** CLIP ViT-B/32 image and text encoders behind one small interface. */
export interface ClipScorer {
  /** Stable id for cache keys: model family + variant. */
  readonly modelId: string;
  readonly variant: ClipVariant;
  /** Images per vision run. */
  readonly batchSize: number;
  /** Prompt windows per text run. */
  readonly textBatchSize: number;
  readonly tokenizer: ClipTokenizer;
  /** L2-normalised image embeddings for CHW float32 tensors of 3·224·224 values each. */
  embedImages(tensors: readonly Float32Array[]): Promise<Float32Array[]>;
  /**
   * L2-normalised text embeddings per prompt, one per 77-token window (long prompts are not truncated).
   * The windows of all `texts` are sorted by length together and batched (see {@link embedTokenRows}),
   * so pass many prompts at once: per call of 8 prompts, a third of the text tower's work is padding.
   */
  embedTexts(texts: readonly string[], options?: EmbedTextsOptions): Promise<TextEmbedding[]>;
  /**
   * L2-normalised embeddings for already tokenised rows of 77 ids, sorted by real length and run in
   * batches of {@link textBatchSize} at each batch's longest real length.
   */
  embedTokenRows(rows: readonly number[][], options?: EmbedRowsOptions): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

export interface EmbedRowsOptions {
  /** Called before every batch; what it throws ends the call (the caller's abort check). */
  beforeBatch?: () => void;
  /** After every batch, with the indices (into `rows`) it embedded; awaited before the next batch. */
  onBatch?: (indices: readonly number[], embeddings: readonly Float32Array[]) => void | Promise<void>;
}

export interface EmbedTextsOptions {
  /** Called before every batch; what it throws ends the call (the caller's abort check). */
  beforeBatch?: () => void;
  /**
   * As soon as every window of `texts[index]` is embedded (texts complete out of order: batches run
   * shortest windows first); awaited before the next batch, so a caller can cache each text at once.
   */
  onText?: (index: number, embedding: TextEmbedding) => void | Promise<void>;
}

export interface ClipScorerOptions {
  modelDir: string;
  variant?: ClipVariant;
  /** Defaults to the number of cores. */
  intraOpThreads?: number;
  /** Images per vision session.run (default {@link CLIP_DEFAULT_BATCH}). */
  batchSize?: number;
  /** Prompt windows per text session.run (default {@link CLIP_DEFAULT_TEXT_BATCH}). */
  textBatchSize?: number;
  /** Defaults to the vocabulary that ships with loralens (assets/models/bpe_simple_vocab_16e6.txt.gz). */
  vocabPath?: string;
  /** Windows per prompt at most (default 8, i.e. 600 BPE tokens). */
  maxWindows?: number;
  /** Let onnxruntime's threads spin-wait between runs (default false, see {@link clipSessionOptions}). */
  spinWait?: boolean;
  /**
   * Where `session.run` executes: `worker` (default) runs each tower's session in its own worker
   * thread, so the event loop stays free during a batch; `main` runs it on the calling thread
   * (blocking it for the whole batch), kept for the bench's before/after comparison.
   */
  sessionThread?: SessionThread;
  /** Called after every onnxruntime run (telemetry and tests: which thread ran it, how long, how wide). */
  onRun?: (run: ClipRunInfo) => void;
  logger?: Logger;
}

/** One onnxruntime run of a tower, as reported to {@link ClipScorerOptions.onRun}. */
export interface ClipRunInfo {
  tower: 'vision' | 'text';
  /** Rows in the batch. */
  rows: number;
  /** Text only: the sequence length the batch ran at (≤ 77, see {@link textSequenceLength}). */
  sequenceLength?: number;
  /** worker_threads `threadId` of the thread that executed `session.run` (0: the main thread). */
  threadId: number;
  ms: number;
}

export function l2Normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum);
  const out = new Float32Array(v.length);
  if (norm === 0) return out;
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return out;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}

async function requireFile(path: string, what: string): Promise<void> {
  try {
    await access(path);
    if (!(await stat(path)).isFile()) throw new Error('not a file');
  } catch (cause) {
    throw new AppError(ErrorCode.MODEL_MISSING, `${what} not found at ${path}`, {
      cause,
      details: { path },
      userMessage: `The CLIP model file ${path} is missing: run \`npm run models\`.`,
    });
  }
}

function checkPositiveInt(name: string, value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new AppError(ErrorCode.INPUT_INVALID, `${name} must be an integer in 1..${max}`, {
      details: { [name]: value },
      userFault: true,
      userMessage: `${name} must be an integer between 1 and ${max}.`,
    });
  }
  return value;
}

/**
 * onnxruntime session options for the CLIP towers. Spin-waiting is off by default: after a run,
 * onnxruntime's pool threads otherwise busy-wait for the next one, taking the cores that JS decoding
 * and preprocessing (and the other tower's pool) need; measured on 2 cores it slowed an alternating
 * text/image loop by ~45% and the overlapped pipeline not at all (`npm run bench`).
 */
export function clipSessionOptions(threads: number, spinWait = false): ort.InferenceSession.SessionOptions {
  // Plain data only: the options are structured-cloned into the session's worker thread.
  const spinning = spinWait ? '1' : '0';
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    logSeverityLevel: 3,
    // Config keys from onnxruntime_session_options_config_keys.h, passed through by onnxruntime-node.
    extra: { session: { intra_op: { allow_spinning: spinning }, inter_op: { allow_spinning: spinning } } },
  };
}

async function openSession(
  path: string,
  threads: number,
  spinWait: boolean,
  where: SessionThread,
): Promise<TowerSession> {
  const options = clipSessionOptions(threads, spinWait) as Record<string, unknown>;
  try {
    return where === 'main'
      ? await openMainThreadSession(path, options)
      : await openWorkerSession(path, options);
  } catch (cause) {
    if (!(cause instanceof SessionOpenError)) throw cause;
    throw new AppError(ErrorCode.MODEL_INVALID, `onnxruntime could not load ${path}`, {
      cause,
      details: { path },
      userMessage: `The CLIP model file ${path} is damaged: run \`npm run models -- --check\`.`,
    });
  }
}

function validateIo(schema: z.ZodType, session: TowerSession, path: string): void {
  const parsed = schema.safeParse({
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
  });
  if (!parsed.success) {
    throw new AppError(ErrorCode.MODEL_INVALID, `Unexpected inputs/outputs in ${path}`, {
      details: {
        path,
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        issues: parsed.error.issues.map((i) => i.message),
      },
      userMessage: `The CLIP model file ${path} has unexpected inputs or outputs: run \`npm run models\`.`,
    });
  }
}

function rowsOf(output: WireTensor | undefined, expectedRows: number, name: string): Float32Array[] {
  if (!output) throw new AppError(ErrorCode.MODEL_INVALID, `${name} missing from the model's outputs`);
  const dims = output.dims;
  if (output.type !== 'float32' || dims.length !== 2 || dims[0] !== expectedRows) {
    throw new AppError(ErrorCode.MODEL_INVALID, `${name} has shape [${dims.join(',')}] (${output.type})`);
  }
  const width = dims[1]!;
  const data = output.data as Float32Array;
  const rows: Float32Array[] = [];
  for (let r = 0; r < expectedRows; r++) rows.push(l2Normalize(data.subarray(r * width, (r + 1) * width)));
  return rows;
}

/**
 * The sequence length a 77-id window needs: up to and including its end-of-text token.
 *
 * Exactness: CLIP's text tower is causal (each position attends only to earlier ones) and pools the
 * hidden state at the end-of-text token (the argmax id, 49407), so the positions after it cannot
 * change the embedding; running a window at this length instead of 77 gives the same vector up to
 * float rounding (≤ 1e-5 cosine, tests/clip/text-windows.test.ts). The real export
 * (Xenova/clip-vit-base-patch32 `text_model.onnx`) declares input_ids `[batch_size, sequence_length]`,
 * a dynamic axis; a model with a fixed axis runs at 77 (see {@link fixedSequenceLength}).
 * A row without an end-of-text token keeps all 77 positions.
 */
export function textSequenceLength(row: readonly number[]): number {
  const eot = row.indexOf(CLIP_EOT);
  return eot < 0 ? row.length : eot + 1;
}

/** The fixed sequence length a model declares for input_ids, or undefined when the axis is dynamic. */
export function fixedSequenceLength(shape: ReadonlyArray<number | string> | undefined): number | undefined {
  const axis = shape?.[1];
  return typeof axis === 'number' && axis > 0 ? axis : undefined;
}

/**
 * Open the CLIP vision and text sessions from `modelDir` and check their input/output names.
 * Throws MODEL_MISSING (files absent), MODEL_INVALID (unloadable or unexpected I/O), INPUT_INVALID (options).
 */
export async function createClipScorer(options: ClipScorerOptions): Promise<ClipScorer> {
  const variant = options.variant ?? 'fp32';
  if (!(variant in CLIP_MODEL_FILES)) {
    throw new AppError(ErrorCode.INPUT_INVALID, `Unknown CLIP variant ${variant}`, { userFault: true });
  }
  const logger = options.logger ?? silentLogger;
  const threads = checkPositiveInt('intraOpThreads', options.intraOpThreads ?? availableParallelism(), 256);
  const batchSize = checkPositiveInt('batchSize', options.batchSize ?? CLIP_DEFAULT_BATCH, 1024);
  const textBatchSize = checkPositiveInt(
    'textBatchSize',
    options.textBatchSize ?? CLIP_DEFAULT_TEXT_BATCH,
    1024,
  );
  const maxWindows = checkPositiveInt('maxWindows', options.maxWindows ?? CLIP_DEFAULT_MAX_WINDOWS, 64);
  const files = CLIP_MODEL_FILES[variant];
  const visionPath = join(options.modelDir, files.vision);
  const textPath = join(options.modelDir, files.text);
  const vocabPath = options.vocabPath ?? BUNDLED_CLIP_VOCAB_PATH;
  await requireFile(visionPath, 'CLIP vision model');
  await requireFile(textPath, 'CLIP text model');
  const tokenizer = await loadClipTokenizer(vocabPath);
  const spinWait = options.spinWait ?? false;
  const where = options.sessionThread ?? 'worker';
  const onRun = options.onRun;
  const vision = await openSession(visionPath, threads, spinWait, where);
  let text: TowerSession;
  try {
    validateIo(visionIoSchema, vision, visionPath);
    text = await openSession(textPath, threads, spinWait, where);
  } catch (error) {
    await vision.release();
    throw error;
  }
  try {
    validateIo(textIoSchema, text, textPath);
  } catch (error) {
    await Promise.allSettled([vision.release(), text.release()]);
    throw error;
  }
  const useMask = text.inputNames.includes('attention_mask');
  const fixedLength = fixedSequenceLength(text.inputShapes.input_ids);
  if (fixedLength !== undefined && fixedLength !== CLIP_CONTEXT_LENGTH) {
    await Promise.allSettled([vision.release(), text.release()]);
    throw new AppError(ErrorCode.MODEL_INVALID, `${textPath} takes ${fixedLength} tokens, not 77`, {
      details: { path: textPath, shape: text.inputShapes.input_ids },
      userMessage: `The CLIP model file ${textPath} has unexpected inputs or outputs: run \`npm run models\`.`,
    });
  }
  // A model whose sequence axis is fixed at 77 runs every window at 77 (no shorter windows).
  const shortWindows = fixedLength === undefined;
  logger.debug(
    { visionPath, textPath, threads, batchSize, textBatchSize, variant, useMask, shortWindows, where },
    'CLIP sessions ready',
  );

  // Thread rule: each tower's worker gets `threads` intra-op threads (default: every core), and one
  // gate lets a single run execute at a time across both towers, so busy onnxruntime threads never
  // exceed the cores (two overlapping runs would oversubscribe them and slow both).
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };
  let disposed = false;
  const alive = (): void => {
    if (disposed) throw new AppError(ErrorCode.INTERNAL, 'CLIP scorer used after dispose()');
  };
  const runTower = async (
    tower: 'vision' | 'text',
    session: TowerSession,
    feeds: Record<string, WireTensor>,
    output: string,
    rows: number,
    sequenceLength?: number,
  ): Promise<Float32Array[]> => {
    const result = await serial(() => session.run(feeds, [output]));
    onRun?.({
      tower,
      rows,
      ...(sequenceLength === undefined ? {} : { sequenceLength }),
      threadId: result.threadId,
      ms: result.ms,
    });
    return rowsOf(result.outputs[output], rows, output);
  };

  const embedTokenRows = async (
    rows: readonly number[][],
    rowOptions: EmbedRowsOptions = {},
  ): Promise<Float32Array[]> => {
    alive();
    const lengths = rows.map((row) => {
      if (row.length !== CLIP_CONTEXT_LENGTH) {
        throw new AppError(ErrorCode.INPUT_INVALID, `Token row has ${row.length} ids, expected 77`);
      }
      return shortWindows ? textSequenceLength(row) : CLIP_CONTEXT_LENGTH;
    });
    // Bucket by length: shortest first, so each batch runs at nearly the length of its rows.
    const order = rows.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
    const out: Float32Array[] = new Array(rows.length);
    for (let start = 0; start < order.length; start += textBatchSize) {
      rowOptions.beforeBatch?.();
      const chunk = order.slice(start, start + textBatchSize);
      const seq = Math.max(...chunk.map((i) => lengths[i]!));
      const ids = new BigInt64Array(chunk.length * seq);
      const mask = useMask ? new BigInt64Array(chunk.length * seq) : undefined;
      chunk.forEach((rowIndex, r) => {
        const row = rows[rowIndex]!;
        const eot = row.indexOf(CLIP_EOT);
        for (let i = 0; i < seq; i++) {
          ids[r * seq + i] = BigInt(row[i]!);
          if (mask) mask[r * seq + i] = i <= eot ? 1n : 0n;
        }
      });
      const feeds: Record<string, WireTensor> = {
        input_ids: { type: 'int64', data: ids, dims: [chunk.length, seq] },
      };
      if (mask) feeds.attention_mask = { type: 'int64', data: mask, dims: [chunk.length, seq] };
      const embedded = await runTower('text', text, feeds, 'text_embeds', chunk.length, seq);
      chunk.forEach((rowIndex, r) => {
        out[rowIndex] = embedded[r]!;
      });
      await rowOptions.onBatch?.(chunk, embedded);
    }
    return out;
  };

  return {
    modelId: `openai/clip-vit-base-patch32:${variant}`,
    variant,
    batchSize,
    textBatchSize,
    tokenizer,
    async embedImages(tensors) {
      alive();
      const out: Float32Array[] = [];
      for (let start = 0; start < tensors.length; start += batchSize) {
        const chunk = tensors.slice(start, start + batchSize);
        const batch = new Float32Array(chunk.length * CLIP_TENSOR_LENGTH);
        chunk.forEach((t, i) => {
          if (t.length !== CLIP_TENSOR_LENGTH) {
            throw new AppError(
              ErrorCode.INPUT_INVALID,
              `Image tensor has ${t.length} values, expected 150528`,
            );
          }
          batch.set(t, i * CLIP_TENSOR_LENGTH);
        });
        // `batch` is fresh: its buffer is transferred to the worker, not copied.
        const feeds: Record<string, WireTensor> = {
          pixel_values: {
            type: 'float32',
            data: batch,
            dims: [chunk.length, 3, CLIP_IMAGE_SIZE, CLIP_IMAGE_SIZE],
          },
        };
        out.push(...(await runTower('vision', vision, feeds, 'image_embeds', chunk.length)));
      }
      return out;
    },
    async embedTexts(texts, textOptions = {}) {
      alive();
      // One id past what the windows hold tells whether they cover the prompt; the rest is never encoded.
      const held = maxWindows * (CLIP_CONTEXT_LENGTH - 2);
      const encoded = texts.map((t) => tokenizer.encodePrefix(t, held + 1));
      const windowsPerText = encoded.map((e) => clipWindowsFromIds(e.ids, CLIP_CONTEXT_LENGTH, maxWindows));
      const flat: number[][] = [];
      const owner: number[] = [];
      const first: number[] = [];
      windowsPerText.forEach((ws, i) => {
        first.push(flat.length);
        for (const w of ws) {
          flat.push(w.ids);
          owner.push(i);
        }
      });
      const embeddingOf = (i: number, rows: readonly (Float32Array | undefined)[]): TextEmbedding => {
        const ids = encoded[i]!.ids;
        const n = windowsPerText[i]!.length;
        const windows = rows.slice(first[i]!, first[i]! + n) as Float32Array[];
        return { windows, nTokens: ids.length + 2, truncated: ids.length > held };
      };
      const { onText, beforeBatch } = textOptions;
      // Windows left per text (every text has at least one): complete when its last window comes back.
      const left = windowsPerText.map((ws) => ws.length);
      const got: Array<Float32Array | undefined> = new Array(flat.length);
      const embeddings = await embedTokenRows(flat, {
        ...(beforeBatch ? { beforeBatch } : {}),
        ...(onText
          ? {
              onBatch: async (indices, rows) => {
                const complete: number[] = [];
                indices.forEach((k, j) => {
                  got[k] = rows[j];
                  const i = owner[k]!;
                  left[i]! -= 1;
                  if (left[i] === 0) complete.push(i);
                });
                for (const i of complete.sort((a, b) => a - b)) await onText(i, embeddingOf(i, got));
              },
            }
          : {}),
      });
      return windowsPerText.map((_, i) => embeddingOf(i, embeddings));
    },
    embedTokenRows,
    async dispose() {
      if (disposed) return;
      disposed = true;
      await queue;
      await Promise.allSettled([vision.release(), text.release()]);
    },
  };
}
