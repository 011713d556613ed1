/**
 * Worker-thread side of {@link openWorkerSession}: owns one onnxruntime session, so the native
 * `session.run` (synchronous inside onnxruntime-node) blocks this thread, never the main event loop.
 * Protocol: `ready`/`failed` once after creation, then one `result`/`error` per `run` message;
 * tensor buffers travel as transferables in both directions.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { lowerWorkerThreadPriority } from '../workers/priority.ts';
import type { WireTensor, WorkerReply, WorkerRequest, WorkerSessionData } from './session-protocol.ts';

const port = parentPort;
if (!port) throw new Error('session-worker.ts must run in a worker thread');
const data = workerData as WorkerSessionData;
// Before the session exists, so its intra-op threads inherit the lower priority (see priority.ts).
lowerWorkerThreadPriority();

function toWire(t: ort.Tensor): { wire: WireTensor; transfer: ArrayBuffer[] } {
  const d = t.data as Float32Array | BigInt64Array | Int32Array;
  // Transfer when the tensor owns its whole buffer; copy a view (cheap: outputs are small).
  const own = d.byteOffset === 0 && d.byteLength === d.buffer.byteLength && d.buffer instanceof ArrayBuffer;
  const values = own ? d : d.slice();
  return {
    wire: { type: t.type as WireTensor['type'], data: values, dims: [...t.dims] },
    transfer: [values.buffer as ArrayBuffer],
  };
}

async function open(): Promise<ort.InferenceSession | undefined> {
  try {
    return await ort.InferenceSession.create(data.path, data.options);
  } catch (error) {
    const reply: WorkerReply = { kind: 'failed', message: (error as Error).message ?? String(error) };
    port?.postMessage(reply);
    // Closing the port lets the thread end once the reply is delivered (process.exit could drop it).
    port?.close();
    return undefined;
  }
}

const opened = await open();
if (opened) serve(opened);

function serve(session: ort.InferenceSession): void {
  if (!port) return;
  const ready: WorkerReply = {
    kind: 'ready',
    threadId,
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    inputShapes: Object.fromEntries(
      session.inputMetadata.map((m) => [m.name, m.isTensor ? [...m.shape] : []] as const),
    ),
  };
  port.postMessage(ready);

  port.on('message', async (msg: WorkerRequest) => {
    if (msg.kind === 'release') {
      await session.release();
      port.close();
      return;
    }
    const started = performance.now();
    try {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const result = await session.run(feeds, msg.fetches);
      const outputs: Record<string, WireTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const name of msg.fetches) {
        const out = result[name];
        if (!out) continue;
        const w = toWire(out);
        outputs[name] = w.wire;
        transfer.push(...w.transfer);
      }
      const reply: WorkerReply = {
        kind: 'result',
        id: msg.id,
        outputs,
        threadId,
        ms: performance.now() - started,
      };
      port.postMessage(reply, transfer);
    } catch (error) {
      const reply: WorkerReply = {
        kind: 'error',
        id: msg.id,
        message: (error as Error).message ?? String(error),
      };
      port.postMessage(reply);
    }
  });
}
