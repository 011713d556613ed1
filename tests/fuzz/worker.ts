import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { CommanderError } from 'commander';
import { isAppError } from '../../src/analysis/errors.ts';
import type { CaseResult, WorkerReply, WorkerRequest } from './harness.ts';
import { findTarget, InvariantError } from './targets.ts';

/** Runs one fuzz target's cases, one at a time, and reports how each ended (see harness.ts). */
if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
const { targetName, slowMs } = workerData as { targetName: string; slowMs: number };
const target = findTarget(targetName);

const post = (reply: WorkerReply): void => port.postMessage(reply);

/** Time allowed per input character on top of `slowMs` (0.5 ms per 1 000 characters). */
const SLOW_MS_PER_CHAR = 0.0005;

function describe(error: unknown): NonNullable<CaseResult['error']> {
  if (error instanceof Error) {
    return {
      name: error.name,
      message: error.message.slice(0, 500),
      stack: (error.stack ?? '').split('\n').slice(1, 6).join('\n'),
      ...(isAppError(error) ? { code: error.code } : {}),
    };
  }
  return { name: typeof error, message: String(error).slice(0, 500), stack: '' };
}

function classify(error: unknown): CaseResult['outcome'] {
  if (error instanceof InvariantError) return 'invariant';
  if (isAppError(error)) return 'typed';
  // The CLI's own usage errors (unknown option, bad flag value): exit 2 with one sentence.
  if (error instanceof CommanderError) return 'typed';
  return 'untyped';
}

async function main(): Promise<void> {
  if (!target) {
    post({ type: 'skip', reason: `no target ${targetName}` });
    return;
  }
  const state = target.prepare ? await target.prepare() : undefined;
  if (typeof state === 'string') {
    post({ type: 'skip', reason: state });
    return;
  }
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).length;
  const once = async (input: unknown): Promise<{ ms: number; thrown: unknown; threw: boolean }> => {
    const started = performance.now();
    try {
      await target.run(input, state);
      return { ms: performance.now() - started, thrown: undefined, threw: false };
    } catch (thrown) {
      return { ms: performance.now() - started, thrown, threw: true };
    }
  };
  // Cold start (module init, regex compilation, JIT) is not the input's fault.
  if (target.warmup !== undefined) await once(target.warmup);
  port.on('message', async (msg: WorkerRequest) => {
    let run = await once(msg.input);
    // The check is for super-linear blow-ups, so a long text gets time in proportion to its length:
    // 1.28 M characters of hostile HTML cleaned at linear speed took 0.995–1.006 s here and is no bug.
    const limit = slowMs + (typeof msg.input === 'string' ? msg.input.length * SLOW_MS_PER_CHAR : 0);
    // A slow answer is confirmed once, so a scheduler stall on a loaded machine is not a bug.
    if (run.ms > limit) {
      const again = await once(msg.input);
      if (again.ms < run.ms) run = again;
    }
    const { ms } = run;
    let outcome: CaseResult['outcome'] = 'ok';
    let error: CaseResult['error'];
    if (run.threw) {
      const e = run.thrown;
      outcome = classify(e);
      if (outcome !== 'typed' || msg.keepTyped) error = describe(e);
      else
        error = {
          name: (e as Error).name,
          message: '',
          stack: '',
          code: (e as { code?: string }).code ?? '',
        };
    }
    // A hostile input must never change Object.prototype (prototype pollution through JSON/superjson).
    if (
      Object.getOwnPropertyNames(Object.prototype).length !== protoKeys ||
      ({} as Record<string, unknown>).polluted !== undefined
    ) {
      outcome = 'invariant';
      error = { name: 'PrototypePollution', message: 'Object.prototype was modified', stack: '' };
    }
    if (ms > limit && outcome !== 'untyped' && outcome !== 'invariant') outcome = 'slow';
    const heapMb = getHeapStatistics().used_heap_size / 1_048_576;
    post({ type: 'result', id: msg.id, result: { outcome, ms, heapMb, ...(error ? { error } : {}) } });
  });
  post({ type: 'ready' });
}

main().catch((error: unknown) => post({ type: 'fatal', error: describe(error) }));
