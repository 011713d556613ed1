import { access } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { AppError, ErrorCode } from '../../errors.ts';

/** The face model files the product can load, by file name inside the models directory. */
export const FACE_MODEL_FILES = {
  yunet: 'face-yunet-n-dynamic.onnx',
  ultrafaceRfb320: 'face-ultraface-rfb-320.onnx',
  ultrafaceSlim320: 'face-ultraface-slim-320.onnx',
  ultrafaceRfb640: 'face-ultraface-rfb-640.onnx',
  mediapipeShort: 'face-mediapipe-short-range.onnx',
  mediapipeFull: 'face-mediapipe-full-range.onnx',
  facemesh: 'face-mediapipe-facemesh.onnx',
  peppa68: 'face-peppa-68.onnx',
} as const;

/** A face-model session: one run at a time per session, single-threaded ops (images run in parallel upstream). */
export interface FaceSession {
  readonly path: string;
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

/**
 * Open an ONNX face model and check its input/output names.
 * Throws MODEL_MISSING (file absent) or MODEL_INVALID (unloadable, unexpected inputs/outputs).
 */
export async function openFaceSession(
  path: string,
  inputs: readonly string[],
  outputs: readonly string[],
  threads = 1,
): Promise<FaceSession> {
  try {
    await access(path);
  } catch (cause) {
    throw new AppError(ErrorCode.MODEL_MISSING, `Face model ${path} is missing`, {
      cause,
      details: { path },
      userMessage: `The face model ${path} is missing: it ships with loralens, restore assets/models (e.g. \`git checkout assets/models\`).`,
    });
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionProviders: ['cpu'],
      // UltraFace graphs list initializers as inputs; ORT warns about each one otherwise.
      logSeverityLevel: 3,
    });
  } catch (cause) {
    throw new AppError(ErrorCode.MODEL_INVALID, `onnxruntime could not load ${path}`, {
      cause,
      details: { path },
      userMessage: `The face model ${path} is damaged: run \`npm run models -- --check\`.`,
    });
  }
  const missingIn = inputs.filter((n) => !session.inputNames.includes(n));
  const missingOut = outputs.filter((n) => !session.outputNames.includes(n));
  if (missingIn.length > 0 || missingOut.length > 0) {
    await session.release();
    throw new AppError(ErrorCode.MODEL_INVALID, `Unexpected inputs/outputs in ${path}`, {
      details: {
        path,
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        missingIn,
        missingOut,
      },
      userMessage: `The face model ${path} has unexpected inputs or outputs: run \`npm run models -- --check\`.`,
    });
  }
  let chain: Promise<unknown> = Promise.resolve();
  return {
    path,
    run(feeds) {
      const next = chain.then(() => session.run(feeds));
      chain = next.catch(() => undefined);
      return next as Promise<Record<string, ort.Tensor>>;
    },
    release: () => session.release(),
  };
}

export function modelPath(dir: string, file: string): string {
  return join(dir, file);
}

/** Float32 data of a named output, checked for its element count. Throws MODEL_INVALID. */
export function outputData(out: Record<string, ort.Tensor>, name: string, size?: number): Float32Array {
  const t = out[name];
  if (t === undefined || t.type !== 'float32' || (size !== undefined && t.size !== size)) {
    throw new AppError(ErrorCode.MODEL_INVALID, `Face model output ${name} has an unexpected shape`, {
      details: { name, dims: t?.dims, type: t?.type, expected: size },
    });
  }
  return t.data as Float32Array;
}

export { ort };
