import { Worker } from 'node:worker_threads';

/**
 * Start a worker thread on one of our modules, given as the URL of its `.ts` source next to the
 * caller. From the built package the sibling `.js` file runs directly; from the TypeScript sources
 * (tests, `tsx`) a small ESM bootstrap registers tsx in the worker first (Node 20 does not apply the
 * parent's loader hooks to a worker's entry module).
 */
export function startModuleWorker(sourceUrl: URL, workerData: unknown): Worker {
  const fromSource = sourceUrl.href.endsWith('.ts') && import.meta.url.endsWith('.ts');
  if (!fromSource) {
    const built = new URL(sourceUrl.href.replace(/\.ts$/, '.js'));
    return new Worker(built, { workerData });
  }
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(sourceUrl.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), { workerData });
}

let bindingPinned: Promise<unknown> | undefined;

/**
 * Load onnxruntime-node's native binding (unused) on this thread before a worker loads it: once every
 * worker that loaded it has exited, a new worker cannot load it again ("Module did not self-register");
 * keeping it loaded here keeps it registered for later workers.
 */
export function pinOnnxBinding(): Promise<unknown> {
  bindingPinned ??= import('onnxruntime-node');
  return bindingPinned;
}
