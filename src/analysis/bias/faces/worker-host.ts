import { AppError, ErrorCode } from '../../errors.ts';
import type { DecodedImage } from '../../images/decode.ts';
import type { SampleImageRef } from '../../images/features.ts';
import { pinOnnxBinding, startModuleWorker } from '../../workers/start.ts';
import type { FaceResult } from './types.ts';
import type { FaceWorkerData, FaceWorkerReply, FaceWorkerRequest } from './worker-protocol.ts';

/** Face detection running in its own worker thread (see worker.ts). */
export interface FaceWorker {
  detect(image: DecodedImage, ref: SampleImageRef): Promise<FaceResult>;
  close(): Promise<void>;
}

const WORKER_SOURCE = new URL('./worker.ts', import.meta.url);

/**
 * Start the faces worker: the models open inside it on start-up; a model that is missing or damaged
 * fails each `detect` with its code (MODEL_MISSING / MODEL_INVALID). The worker keeps the process alive
 * only while a detection is in flight. Images are copied (the decode is shared with other extractors)
 * and the copy is transferred, not cloned.
 */
export async function openFaceWorker(data: FaceWorkerData): Promise<FaceWorker> {
  await pinOnnxBinding();
  const worker = startModuleWorker(WORKER_SOURCE, data);
  const pending = new Map<number, { resolve: (r: FaceResult) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | undefined;
  let closed = false;
  const refresh = (): void => {
    if (pending.size > 0) worker.ref();
    else worker.unref();
  };
  const failAll = (error: Error): void => {
    dead ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
    refresh();
  };
  worker.on('error', (error) => failAll(error));
  worker.on('exit', (code) => {
    if (!closed) failAll(new AppError(ErrorCode.INTERNAL, `face worker exited with code ${code}`));
  });
  worker.on('message', (msg: FaceWorkerReply) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    refresh();
    if (msg.kind === 'result') p.resolve(msg.result);
    else p.reject(new AppError(msg.code ?? ErrorCode.INTERNAL, msg.message));
  });
  refresh();
  return {
    detect(image, ref) {
      if (dead) return Promise.reject(dead);
      if (closed) return Promise.reject(new AppError(ErrorCode.INTERNAL, 'face worker used after close()'));
      const id = nextId++;
      const copy = new Uint8Array(image.data);
      const request: FaceWorkerRequest = {
        kind: 'detect',
        id,
        data: copy,
        width: image.width,
        height: image.height,
        channels: image.channels,
        ref,
      };
      return new Promise<FaceResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        refresh();
        worker.postMessage(request, [copy.buffer as ArrayBuffer]);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      failAll(new AppError(ErrorCode.INTERNAL, 'face worker closed'));
      const exited = new Promise<void>((r) => worker.once('exit', () => r()));
      worker.ref();
      worker.postMessage({ kind: 'close' } satisfies FaceWorkerRequest);
      await exited;
    },
  };
}
