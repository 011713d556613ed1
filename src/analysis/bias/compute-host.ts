import { AppError, ErrorCode } from '../errors.ts';
import { pinOnnxBinding, startModuleWorker } from '../workers/start.ts';
import type { StandardBiasPart } from './analysis-types.ts';
import type { BiasComputeInput } from './compute.ts';
import type { CachedBiasModel } from './result-cache.ts';

const CODES = new Set<unknown>(Object.values(ErrorCode));

type WorkerReply =
  | { ok: true; models: CachedBiasModel[] }
  | { ok: false; message: string; code?: unknown; stack?: string };

/**
 * {@link computeBiasModels} in a worker thread of its own (niced like the other compute workers), so
 * that a large audit's bootstraps and Gram matrices (≈ 2 minutes at top-200, one 16 s distance step)
 * never block the calling thread's event loop. The input is copied once (structured clone); the
 * worker ends after its one reply. Same inputs, same numbers as on the calling thread.
 * Throws the worker's AppError (same code), or INTERNAL when it failed otherwise or exited early.
 */
export async function computeBiasModelsInWorker(
  input: BiasComputeInput,
  parts: readonly StandardBiasPart[],
): Promise<CachedBiasModel[]> {
  // The worker loads analysis-parts (faces → onnxruntime-node): keep the binding registered here.
  await pinOnnxBinding();
  const worker = startModuleWorker(new URL('./compute-worker.ts', import.meta.url), undefined);
  try {
    const reply = await new Promise<WorkerReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) =>
        reject(new AppError(ErrorCode.INTERNAL, `bias worker exited (${code}) before replying`)),
      );
      worker.postMessage({ input, parts });
    });
    if (reply.ok) return reply.models;
    const code = CODES.has(reply.code) ? (reply.code as ErrorCode) : ErrorCode.INTERNAL;
    throw new AppError(code, `bias analysis failed in its worker: ${reply.message}`, {
      details: { stack: reply.stack },
    });
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError(ErrorCode.INTERNAL, 'bias analysis worker failed', { cause: error });
  } finally {
    worker.removeAllListeners();
    await worker.terminate();
  }
}
