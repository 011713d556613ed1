import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import type { FuzzTarget } from './targets.ts';

/**
 * The fuzz harness: fast-check generates inputs in this thread (seeded, reproducible); each input
 * runs in a worker thread with a heap limit, is timed there, and is watched from here, so a
 * synchronous hang is terminated instead of hanging the run. Outcomes:
 * ok · typed (an AppError with a code, or the CLI's usage error: fine) · untyped (any other
 * exception: a bug) · invariant (output broke a stated property: a bug) · slow (over `slowMs`, or no
 * answer within `hardTimeoutMs`: a bug) · heap (the worker hit its heap limit: a bug).
 */

export type Outcome = 'ok' | 'typed' | 'untyped' | 'invariant' | 'slow' | 'heap';
export const BUG_OUTCOMES: ReadonlySet<Outcome> = new Set(['untyped', 'invariant', 'slow', 'heap']);

export interface CaseResult {
  outcome: Outcome;
  ms: number;
  heapMb: number;
  error?: { name: string; message: string; stack: string; code?: string };
}

export type WorkerRequest = { id: number; input: unknown; keepTyped?: boolean };
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'skip'; reason: string }
  | { type: 'fatal'; error: NonNullable<CaseResult['error']> }
  | { type: 'result'; id: number; result: CaseResult };

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** An input slower than this is a bug (default 1000 ms). */
  slowMs?: number;
  /** The worker is terminated when one input has not answered after this long (default 10 s). */
  hardTimeoutMs?: number;
  /** Worker heap limit (`resourceLimits.maxOldGenerationSizeMb`, default 512). */
  heapMb?: number;
  /** Stop a target after this many bugs (default 10). */
  maxBugs?: number;
  /** Shrink the first bug to a minimal input (default false). */
  shrink?: boolean;
  shrinkTimeMs?: number;
  /** Replay one fast-check counterexample path (with the same seed). */
  path?: string;
  onCase?: (done: number, result: CaseResult) => void;
}

export interface BugRecord {
  index: number;
  outcome: Outcome;
  ms: number;
  error: CaseResult['error'] | undefined;
  input: string;
}

export interface TargetReport {
  target: string;
  entry: string;
  seed: number;
  requested: number;
  cases: number;
  ok: number;
  typed: number;
  untyped: number;
  invariant: number;
  slow: number;
  heap: number;
  maxMs: number;
  p99Ms: number;
  /** Largest heap in use after a case (MB), in the worker. */
  heapMb: number;
  wallMs: number;
  typedCodes: Record<string, number>;
  skipped?: string;
  bugs: BugRecord[];
  minimal?: {
    input: string;
    path: string;
    outcome: Outcome | undefined;
    error: CaseResult['error'] | undefined;
  };
}

export const bugCount = (r: TargetReport): number => r.untyped + r.invariant + r.slow + r.heap;

/** A stable per-target seed, so `--target X` replays exactly what the full run did for X. */
export function targetSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h | 0;
}

const BOOT = new URL('./worker-boot.mjs', import.meta.url);
const ENTRY = new URL('./worker.ts', import.meta.url).href;

/** One worker thread for one target; respawned after a hang, a crash or a heap blow-up. */
class CaseRunner {
  #worker: Worker | undefined;
  #pending: { id: number; resolve: (r: CaseResult) => void } | undefined;
  #next = 0;
  constructor(
    private readonly target: FuzzTarget,
    private readonly opts: Required<Pick<FuzzOptions, 'slowMs' | 'hardTimeoutMs' | 'heapMb'>>,
  ) {}

  /** Start the worker; resolves with a skip reason when the target cannot run here. */
  start(): Promise<string | undefined> {
    const worker = new Worker(BOOT, {
      workerData: { entry: ENTRY, targetName: this.target.name, slowMs: this.opts.slowMs },
      // ~1 MB of stack, like the main thread, so recursion depth fails where production fails.
      resourceLimits: { maxOldGenerationSizeMb: this.opts.heapMb, stackSizeMb: 1 },
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    this.#worker = worker;
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          started = true;
          resolve(undefined);
        } else if (reply.type === 'skip') {
          started = true;
          resolve(reply.reason);
        } else if (reply.type === 'fatal') {
          reject(new Error(`fuzz worker for ${this.target.name} failed to start: ${reply.error.message}`));
        } else if (reply.type === 'result' && this.#pending?.id === reply.id) {
          const { resolve: done } = this.#pending;
          this.#pending = undefined;
          done(reply.result);
        }
      });
      const died = (error: Error | undefined, exitCode?: number): void => {
        if (this.#worker !== worker) return;
        this.#worker = undefined;
        if (!started) {
          reject(error ?? new Error(`fuzz worker exited with ${exitCode}`));
          return;
        }
        const pending = this.#pending;
        this.#pending = undefined;
        if (!pending) return;
        const oom = (error as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
        pending.resolve({
          outcome: oom ? 'heap' : 'untyped',
          ms: Number.NaN,
          heapMb: oom ? this.opts.heapMb : Number.NaN,
          error: {
            name: error?.name ?? 'WorkerExit',
            message: error?.message ?? `the worker exited with code ${exitCode}`,
            stack: (error?.stack ?? '').split('\n').slice(1, 6).join('\n'),
            ...(oom ? { code: 'ERR_WORKER_OUT_OF_MEMORY' } : {}),
          },
        });
      };
      worker.on('error', (error) => died(error));
      worker.on('exit', (code) => died(undefined, code));
    });
  }

  async run(input: unknown): Promise<CaseResult> {
    if (!this.#worker) await this.start();
    const worker = this.#worker as Worker;
    const id = this.#next++;
    return new Promise<CaseResult>((resolve) => {
      const timer = setTimeout(() => {
        if (this.#pending?.id !== id) return;
        this.#pending = undefined;
        this.#worker = undefined;
        void worker.terminate();
        resolve({
          outcome: 'slow',
          ms: this.opts.hardTimeoutMs,
          heapMb: Number.NaN,
          error: {
            name: 'Timeout',
            message: `no answer after ${this.opts.hardTimeoutMs} ms: the worker was terminated`,
            stack: '',
          },
        });
      }, this.opts.hardTimeoutMs);
      this.#pending = {
        id,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      worker.postMessage({ id, input } satisfies WorkerRequest);
    });
  }

  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    await w?.terminate();
  }
}

/** A short readable form of an input: long strings as head, repeat unit and length; bytes as hex. */
export function preview(value: unknown, max = 600): string {
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Uint8Array) {
      return `<${v.length} bytes: ${Buffer.from(v.subarray(0, 48)).toString('hex')}${v.length > 48 ? '…' : ''}>`;
    }
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'string' && v.length > 160) return summarizeString(v);
    return v;
  });
  if (text === undefined) return String(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

function summarizeString(s: string): string {
  for (let unit = 1; unit <= 40; unit++) {
    const u = s.slice(0, unit);
    let k = 0;
    while (s.startsWith(u, k * unit)) k++;
    if (k * unit >= s.length * 0.5 && k > 3) {
      const rest = s.slice(k * unit);
      return `[${s.length} chars: ${JSON.stringify(u)}×${k}${rest ? ` then ${JSON.stringify(rest.slice(0, 60))}${rest.length > 60 ? `… (${rest.length} chars)` : ''}` : ''}]`;
    }
  }
  return `[${s.length} chars: ${JSON.stringify(s.slice(0, 100))}…${JSON.stringify(s.slice(-30))}]`;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/** Run one target for `cases` seeded inputs (or until `maxBugs` bugs) and tally the outcomes. */
export async function runTarget(target: FuzzTarget, options: FuzzOptions): Promise<TargetReport> {
  const opts = {
    slowMs: options.slowMs ?? 1000,
    hardTimeoutMs: options.hardTimeoutMs ?? 10_000,
    heapMb: options.heapMb ?? 512,
  };
  const maxBugs = options.maxBugs ?? 10;
  const seed = targetSeed(options.seed, target.name);
  const started = Date.now();
  const report: TargetReport = {
    target: target.name,
    entry: target.entry,
    seed,
    requested: options.cases,
    cases: 0,
    ok: 0,
    typed: 0,
    untyped: 0,
    invariant: 0,
    slow: 0,
    heap: 0,
    maxMs: 0,
    p99Ms: 0,
    heapMb: 0,
    wallMs: 0,
    typedCodes: {},
    bugs: [],
  };
  const runner = new CaseRunner(target, opts);
  const skipped = await runner.start();
  if (skipped !== undefined) {
    await runner.close();
    return { ...report, skipped };
  }
  const times: number[] = [];
  try {
    const arbitrary = target.arbitrary();
    const property = fc.asyncProperty(arbitrary, async (input) => {
      const index = report.cases++;
      const result = await runner.run(input);
      report[result.outcome]++;
      if (Number.isFinite(result.ms)) {
        times.push(result.ms);
        report.maxMs = Math.max(report.maxMs, result.ms);
      }
      if (Number.isFinite(result.heapMb)) report.heapMb = Math.max(report.heapMb, result.heapMb);
      if (result.outcome === 'typed') {
        const code = result.error?.code || result.error?.name || 'typed';
        report.typedCodes[code] = (report.typedCodes[code] ?? 0) + 1;
      }
      options.onCase?.(report.cases, result);
      if (!BUG_OUTCOMES.has(result.outcome)) return true;
      if (report.bugs.length < 20) {
        report.bugs.push({
          index,
          outcome: result.outcome,
          ms: result.ms,
          error: result.error,
          input: preview(input),
        });
      }
      return bugCount(report) < maxBugs;
    });
    const details = await fc.check(property, {
      seed,
      numRuns: options.cases,
      endOnFailure: true,
      ...(options.path === undefined ? {} : { path: options.path }),
    });
    // A failure with no bug recorded is the harness's own (a generator threw): never hide it.
    if (details.failed && bugCount(report) === 0) {
      throw new Error(
        `fuzz target ${target.name}: fast-check failed outside the target: ${String(details.errorInstance)}`,
      );
    }
    if (options.shrink && bugCount(report) > 0 && options.path === undefined) {
      const minimal = await shrink(runner, arbitrary, seed, report.cases, options.shrinkTimeMs ?? 60_000);
      if (minimal) report.minimal = minimal;
    }
  } finally {
    await runner.close();
  }
  times.sort((a, b) => a - b);
  report.p99Ms = percentile(times, 0.99);
  report.wallMs = Date.now() - started;
  return report;
}

async function shrink(
  runner: CaseRunner,
  arbitrary: fc.Arbitrary<unknown>,
  seed: number,
  numRuns: number,
  timeMs: number,
): Promise<TargetReport['minimal']> {
  const details = await fc.check(
    fc.asyncProperty(arbitrary, async (input) => !BUG_OUTCOMES.has((await runner.run(input)).outcome)),
    { seed, numRuns, interruptAfterTimeLimit: timeMs },
  );
  if (!details.failed || !details.counterexample) return undefined;
  const input = details.counterexample[0];
  const last = await runner.run(input);
  return {
    input: preview(input, 1200),
    path: details.counterexamplePath ?? '',
    outcome: last.outcome,
    error: last.error,
  };
}

const pad = (s: string | number, n: number, left = false): string =>
  left ? String(s).padStart(n) : String(s).padEnd(n);

/** The per-target table `npm run fuzz` prints. */
export function formatTable(reports: readonly TargetReport[]): string {
  const head = `${pad('target', 16)} ${pad('cases', 7, true)} ${pad('ok', 7, true)} ${pad('typed', 7, true)} ${pad('untyped', 7, true)} ${pad('invar.', 7, true)} ${pad('slow', 5, true)} ${pad('heap', 5, true)} ${pad('max ms', 9, true)} ${pad('p99 ms', 8, true)} ${pad('heap MB', 8, true)}  verdict`;
  const lines = reports.map((r) =>
    r.skipped
      ? `${pad(r.target, 16)} skipped: ${r.skipped}`
      : `${pad(r.target, 16)} ${pad(r.cases, 7, true)} ${pad(r.ok, 7, true)} ${pad(r.typed, 7, true)} ${pad(r.untyped, 7, true)} ${pad(r.invariant, 7, true)} ${pad(r.slow, 5, true)} ${pad(r.heap, 5, true)} ${pad(r.maxMs.toFixed(1), 9, true)} ${pad(r.p99Ms.toFixed(1), 8, true)} ${pad(r.heapMb.toFixed(0), 8, true)}  ${bugCount(r) === 0 ? 'ok' : `BUG${r.cases < r.requested ? ` (stopped after ${r.cases})` : ''}`}`,
  );
  return [head, '-'.repeat(head.length), ...lines].join('\n');
}
