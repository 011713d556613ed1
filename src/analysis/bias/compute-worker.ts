/**
 * Worker thread of the bias analysis (started by {@link computeBiasModelsInWorker}): receives one
 * {@link BiasComputeInput} and the names of the standard parts to use, computes, posts the per-model
 * results (or the error) and ends. Its bootstraps and Gram matrices then never block the caller's
 * event loop (the bot's gateway, progress, downloads).
 */
import { parentPort } from 'node:worker_threads';
import { lowerWorkerThreadPriority } from '../workers/priority.ts';
import { colourPart, compositionPart, facesPart } from './analysis-parts.ts';
import type { StandardBiasPart } from './analysis-types.ts';
import { type BiasComputeInput, type BiasParts, computeBiasModels } from './compute.ts';

export interface BiasWorkerRequest {
  input: BiasComputeInput;
  parts: readonly StandardBiasPart[];
}

const port = parentPort;
if (port) {
  // Below the main thread, like the other compute workers (see priority.ts).
  lowerWorkerThreadPriority();
  port.once('message', async ({ input, parts }: BiasWorkerRequest) => {
    try {
      const built: BiasParts = {
        ...(parts.includes('colour') ? { colour: colourPart() } : {}),
        ...(parts.includes('faces') ? { faces: facesPart() } : {}),
        ...(parts.includes('composition') ? { composition: compositionPart() } : {}),
      };
      port.postMessage({ ok: true, models: await computeBiasModels(input, built) });
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      port.postMessage({
        ok: false,
        message: e.message,
        code: (e as { code?: unknown }).code,
        stack: e.stack,
      });
    }
  });
}
