/** Messages between {@link openWorkerSession} and session-worker.ts (no onnxruntime import here). */

export type WireTensorType = 'float32' | 'int64' | 'int32';

/** A tensor as it crosses the thread boundary: typed array (its buffer is transferred) and shape. */
export interface WireTensor {
  type: WireTensorType;
  data: Float32Array | BigInt64Array | Int32Array;
  dims: number[];
}

/** The worker's start-up data: the model path and onnxruntime session options (structured-cloneable). */
export interface WorkerSessionData {
  path: string;
  options: Record<string, unknown>;
}

export type WorkerRequest =
  | { kind: 'run'; id: number; feeds: Record<string, WireTensor>; fetches: string[] }
  | { kind: 'release' };

export type WorkerReply =
  | {
      kind: 'ready';
      threadId: number;
      inputNames: string[];
      outputNames: string[];
      /** Input shapes as the model declares them: numbers for fixed axes, names for dynamic ones. */
      inputShapes: Record<string, Array<number | string>>;
    }
  | { kind: 'failed'; message: string }
  | { kind: 'result'; id: number; outputs: Record<string, WireTensor>; threadId: number; ms: number }
  | { kind: 'error'; id: number; message: string };
