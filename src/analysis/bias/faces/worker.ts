/**
 * Worker-thread side of {@link openFaceWorker}: opens the face models (ONNX sessions and the anime
 * LBP cascade) once and answers one `detect` message per image. The cascade is synchronous
 * JavaScript and `session.run` is synchronous inside onnxruntime-node, so both block this thread,
 * never the main event loop (downloads, progress, Discord heartbeats).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../../errors.ts';
import type { DecodedImage } from '../../images/decode.ts';
import { lowerWorkerThreadPriority } from '../../workers/priority.ts';
import { createFaceExtractor } from './index.ts';
import type { FaceWorkerData, FaceWorkerReply, FaceWorkerRequest } from './worker-protocol.ts';

const port = parentPort;
if (!port) throw new Error('faces/worker.ts must run in a worker thread');
const data = workerData as FaceWorkerData;
// Before the face sessions exist, so their threads inherit the lower priority (see priority.ts).
lowerWorkerThreadPriority();

const ready = createFaceExtractor({
  ...(data.modelDir === undefined ? {} : { modelDir: data.modelDir }),
  ...(data.anime ? {} : { animeDetector: null }),
});
// An open failure is reported per request (with its code), not as an unhandled rejection here.
ready.catch(() => undefined);

function failure(id: number, error: unknown): FaceWorkerReply {
  return {
    kind: 'error',
    id,
    message: error instanceof Error ? error.message : String(error),
    ...(error instanceof AppError ? { code: error.code } : {}),
  };
}

port.on('message', async (msg: FaceWorkerRequest) => {
  if (msg.kind === 'close') {
    await (await ready.catch(() => undefined))?.close?.();
    port.close();
    return;
  }
  try {
    const extractor = await ready;
    const image: DecodedImage = {
      ok: true,
      data: msg.data,
      width: msg.width,
      height: msg.height,
      channels: msg.channels,
      format: 'raw',
      sourceWidth: msg.width,
      sourceHeight: msg.height,
      animated: false,
    };
    const result = await extractor.extract(image, msg.ref);
    port.postMessage({ kind: 'result', id: msg.id, result } satisfies FaceWorkerReply);
  } catch (error) {
    port.postMessage(failure(msg.id, error));
  }
});
