/**
 * One onnxruntime session of a CLIP tower, run either in its own worker thread (the default: the
 * native `session.run` is synchronous inside onnxruntime-node and would otherwise block the event
 * loop for the whole batch) or on the calling thread (kept for the bench's before/after row).
 * onnxruntime-node is imported lazily, and in worker mode only inside the worker.
 */
import { threadId as mainThreadId } from 'node:worker_threads';
import { pinOnnxBinding, startModuleWorker } from '../workers/start.ts';
import type { WireTensor, WorkerReply, WorkerRequest, WorkerSessionData } from './session-protocol.ts';

export type { WireTensor } from './session-protocol.ts';

/** Where `session.run` executes. */
export type SessionThread = 'worker' | 'main';

export interface TowerRunResult {
  outputs: Record<string, WireTensor>;
  /** The thread that executed `session.run` (worker_threads `threadId`; 0 is the main thread). */
  threadId: number;
  /** Milliseconds `session.run` took on that thread. */
  ms: number;
}

export interface TowerSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Declared input shapes: numbers for fixed axes, names for dynamic ones (empty when unknown). */
  readonly inputShapes: Readonly<Record<string, ReadonlyArray<number | string>>>;
  /** Feed buffers are transferred to the worker (detached here) in worker mode. */
  run(feeds: Record<string, WireTensor>, fetches: string[]): Promise<TowerRunResult>;
  release(): Promise<void>;
}

/** A session failed to load; `message` is onnxruntime's. */
export class SessionOpenError extends Error {
  override readonly name = 'SessionOpenError';
}

const WORKER_SOURCE = new URL('./session-worker.ts', import.meta.url);

/**
 * Open `path` in a new worker thread; rejects with {@link SessionOpenError} when onnxruntime refuses it.
 * onnxruntime-node's native binding is also loaded (not used) on this thread: once every worker that
 * loaded it has exited, a new worker cannot load it again ("Module did not self-register"); keeping
 * it loaded here keeps it registered for later workers.
 */
export async function openWorkerSession(
  path: string,
  options: Record<string, unknown>,
): Promise<TowerSession> {
  await pinOnnxBinding();
  const data: WorkerSessionData = { path, options };
  const worker = startModuleWorker(WORKER_SOURCE, data);
  const pending = new Map<number, { resolve: (r: TowerRunResult) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | undefined;
  let released = false;

  const failAll = (error: Error): void => {
    dead ??= error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  // The worker only keeps the process alive while a run is in flight, like an in-process session.
  const refresh = (): void => {
    if (pending.size > 0) worker.ref();
    else worker.unref();
  };

  return new Promise<TowerSession>((resolveOpen, rejectOpen) => {
    let opened = false;
    worker.on('error', (error) => {
      if (!opened) rejectOpen(new SessionOpenError(error.message));
      failAll(error);
    });
    worker.on('exit', (code) => {
      if (!opened) rejectOpen(new SessionOpenError(`session worker exited (${code}) before loading ${path}`));
      if (!released) failAll(new Error(`session worker for ${path} exited with code ${code}`));
    });
    worker.on('message', (msg: WorkerReply) => {
      if (msg.kind === 'failed') {
        opened = true;
        rejectOpen(new SessionOpenError(msg.message));
        return;
      }
      if (msg.kind === 'ready') {
        opened = true;
        refresh();
        resolveOpen({
          inputNames: msg.inputNames,
          outputNames: msg.outputNames,
          inputShapes: msg.inputShapes,
          run(feeds, fetches) {
            if (dead) return Promise.reject(dead);
            if (released) return Promise.reject(new Error('session used after release()'));
            const id = nextId++;
            const transfer = Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer);
            const request: WorkerRequest = { kind: 'run', id, feeds, fetches };
            return new Promise<TowerRunResult>((resolve, reject) => {
              pending.set(id, { resolve, reject });
              refresh();
              worker.postMessage(request, transfer);
            });
          },
          async release() {
            if (released) return;
            released = true;
            failAll(new Error('session released'));
            const exited = new Promise<void>((r) => worker.once('exit', () => r()));
            worker.ref();
            worker.postMessage({ kind: 'release' } satisfies WorkerRequest);
            await exited;
          },
        });
        return;
      }
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      refresh();
      if (msg.kind === 'error') p.reject(new Error(msg.message));
      else p.resolve({ outputs: msg.outputs, threadId: msg.threadId, ms: msg.ms });
    });
  });
}

/** The same interface over an in-process session: `session.run` blocks the calling thread. */
export async function openMainThreadSession(
  path: string,
  options: Record<string, unknown>,
): Promise<TowerSession> {
  const ort = await import('onnxruntime-node');
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    session = await ort.InferenceSession.create(path, options);
  } catch (error) {
    throw new SessionOpenError((error as Error).message ?? String(error));
  }
  return {
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    inputShapes: Object.fromEntries(
      session.inputMetadata.map((m) => [m.name, m.isTensor ? [...m.shape] : []] as const),
    ),
    async run(feeds, fetches) {
      const started = performance.now();
      const tensors: Record<string, InstanceType<typeof ort.Tensor>> = {};
      for (const [name, t] of Object.entries(feeds)) tensors[name] = new ort.Tensor(t.type, t.data, t.dims);
      const result = await session.run(tensors, fetches);
      const ms = performance.now() - started;
      const outputs: Record<string, WireTensor> = {};
      for (const name of fetches) {
        const out = result[name];
        if (out) {
          outputs[name] = {
            type: out.type as WireTensor['type'],
            data: out.data as WireTensor['data'],
            dims: [...out.dims],
          };
        }
      }
      return { outputs, threadId: mainThreadId, ms };
    },
    release: () => session.release(),
  };
}
