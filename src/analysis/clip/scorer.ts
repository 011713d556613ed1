import { access, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { AppError, ErrorCode } from '../errors.ts';
import { CLIP_IMAGE_SIZE, CLIP_TENSOR_LENGTH } from '../images/clip-preprocess.ts';
import { type Logger, silentLogger } from '../ports.ts';
import { CLIP_DEFAULT_BATCH } from './defaults.ts';
import {
  BUNDLED_CLIP_VOCAB_PATH,
  CLIP_CONTEXT_LENGTH,
  CLIP_DEFAULT_MAX_WINDOWS,
  type ClipTokenizer,
  clipWindowsFromIds,
  loadClipTokenizer,
} from './tokenizer.ts';

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
  readonly batchSize: number;
  readonly tokenizer: ClipTokenizer;
  /** L2-normalised image embeddings for CHW float32 tensors of 3·224·224 values each. */
  embedImages(tensors: readonly Float32Array[]): Promise<Float32Array[]>;
  /** L2-normalised text embeddings per prompt, one per 77-token window (long prompts are not truncated). */
  embedTexts(texts: readonly string[]): Promise<TextEmbedding[]>;
  /** L2-normalised embeddings for already tokenised rows of 77 ids. */
  embedTokenRows(rows: readonly number[][]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

export interface ClipScorerOptions {
  modelDir: string;
  variant?: ClipVariant;
  /** Defaults to the number of cores. */
  intraOpThreads?: number;
  /** Images/texts per session.run (default {@link CLIP_DEFAULT_BATCH}). */
  batchSize?: number;
  /** Defaults to the vocabulary that ships with loralens (assets/models/bpe_simple_vocab_16e6.txt.gz). */
  vocabPath?: string;
  /** Windows per prompt at most (default 8, i.e. 600 BPE tokens). */
  maxWindows?: number;
  /** Let onnxruntime's threads spin-wait between runs (default false, see {@link clipSessionOptions}). */
  spinWait?: boolean;
  logger?: Logger;
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

async function openSession(path: string, threads: number, spinWait: boolean): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(path, clipSessionOptions(threads, spinWait));
  } catch (cause) {
    throw new AppError(ErrorCode.MODEL_INVALID, `onnxruntime could not load ${path}`, {
      cause,
      details: { path },
      userMessage: `The CLIP model file ${path} is damaged: run \`npm run models -- --check\`.`,
    });
  }
}

function validateIo(schema: z.ZodType, session: ort.InferenceSession, path: string): void {
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

function rowsOf(output: ort.Tensor, expectedRows: number, name: string): Float32Array[] {
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
  const maxWindows = checkPositiveInt('maxWindows', options.maxWindows ?? CLIP_DEFAULT_MAX_WINDOWS, 64);
  const files = CLIP_MODEL_FILES[variant];
  const visionPath = join(options.modelDir, files.vision);
  const textPath = join(options.modelDir, files.text);
  const vocabPath = options.vocabPath ?? BUNDLED_CLIP_VOCAB_PATH;
  await requireFile(visionPath, 'CLIP vision model');
  await requireFile(textPath, 'CLIP text model');
  const tokenizer = await loadClipTokenizer(vocabPath);
  const spinWait = options.spinWait ?? false;
  const vision = await openSession(visionPath, threads, spinWait);
  let text: ort.InferenceSession;
  try {
    validateIo(visionIoSchema, vision, visionPath);
    text = await openSession(textPath, threads, spinWait);
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
  logger.debug({ visionPath, textPath, threads, batchSize, variant, useMask }, 'CLIP sessions ready');

  // One run at a time per session: onnxruntime already uses every intra-op thread.
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

  const embedTokenRows = async (rows: readonly number[][]): Promise<Float32Array[]> => {
    alive();
    const out: Float32Array[] = [];
    for (let start = 0; start < rows.length; start += batchSize) {
      const chunk = rows.slice(start, start + batchSize);
      const ids = new BigInt64Array(chunk.length * CLIP_CONTEXT_LENGTH);
      const mask = new BigInt64Array(chunk.length * CLIP_CONTEXT_LENGTH);
      chunk.forEach((row, r) => {
        if (row.length !== CLIP_CONTEXT_LENGTH) {
          throw new AppError(ErrorCode.INPUT_INVALID, `Token row has ${row.length} ids, expected 77`);
        }
        const eot = row.indexOf(49407);
        for (let i = 0; i < CLIP_CONTEXT_LENGTH; i++) {
          ids[r * CLIP_CONTEXT_LENGTH + i] = BigInt(row[i]!);
          mask[r * CLIP_CONTEXT_LENGTH + i] = i <= eot ? 1n : 0n;
        }
      });
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', ids, [chunk.length, CLIP_CONTEXT_LENGTH]),
      };
      if (useMask) feeds.attention_mask = new ort.Tensor('int64', mask, [chunk.length, CLIP_CONTEXT_LENGTH]);
      const result = await serial(() => text.run(feeds, ['text_embeds']));
      out.push(...rowsOf(result.text_embeds!, chunk.length, 'text_embeds'));
    }
    return out;
  };

  return {
    modelId: `openai/clip-vit-base-patch32:${variant}`,
    variant,
    batchSize,
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
        const feeds = {
          pixel_values: new ort.Tensor('float32', batch, [chunk.length, 3, CLIP_IMAGE_SIZE, CLIP_IMAGE_SIZE]),
        };
        const result = await serial(() => vision.run(feeds, ['image_embeds']));
        out.push(...rowsOf(result.image_embeds!, chunk.length, 'image_embeds'));
      }
      return out;
    },
    async embedTexts(texts) {
      alive();
      // One id past what the windows hold tells whether they cover the prompt; the rest is never encoded.
      const held = maxWindows * (CLIP_CONTEXT_LENGTH - 2);
      const encoded = texts.map((t) => tokenizer.encodePrefix(t, held + 1));
      const windowsPerText = encoded.map((e) => clipWindowsFromIds(e.ids, CLIP_CONTEXT_LENGTH, maxWindows));
      const flat = windowsPerText.flatMap((ws) => ws.map((w) => w.ids));
      const embeddings = await embedTokenRows(flat);
      let k = 0;
      return windowsPerText.map((ws, i) => {
        const windows = embeddings.slice(k, k + ws.length);
        k += ws.length;
        const ids = encoded[i]!.ids;
        return { windows, nTokens: ids.length + 2, truncated: ids.length > held };
      });
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
