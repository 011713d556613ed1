import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { isMainThread } from 'node:worker_threads';

/**
 * How far below the main thread the compute threads (ONNX sessions, the face cascade) run: nice + 10.
 * On a machine with fewer cores than busy threads (2 cores: two intra-op threads, the face worker and
 * the main thread), the kernel otherwise shares the CPU evenly and the main thread waits its turn
 * for 50–250 ms at a time while hardly computing (measured in a cold audit: gaps with ≤ 10 ms of
 * main-thread CPU), which is event-loop delay for downloads, progress and Discord heartbeats. With the
 * workers niced, the main thread runs as soon as it has work; the workers take every idle cycle.
 */
export const COMPUTE_THREAD_NICE_OFFSET = 10;

/**
 * The kernel id of the calling thread (Linux `/proc/thread-self` → `<pid>/task/<tid>`), or undefined
 * where there is no such file.
 */
export function currentThreadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lower the scheduling priority of the calling worker thread by {@link COMPUTE_THREAD_NICE_OFFSET}
 * nice steps from the one it inherited (at most 19; never touches the main thread). Call it once, at
 * the worker's start. On Linux the nice value is per thread and threads inherit it from the thread
 * that creates them, so calling this before a session is created lowers onnxruntime's intra-op pool
 * threads too. Returns whether the priority was set (false off Linux, on the main thread, or when the
 * kernel refuses).
 */
export function lowerWorkerThreadPriority(offset = COMPUTE_THREAD_NICE_OFFSET): boolean {
  if (isMainThread) return false;
  const tid = currentThreadId();
  if (tid === undefined || tid === process.pid) return false;
  try {
    setPriority(tid, Math.min(19, getPriority(tid) + offset));
    return true;
  } catch {
    return false;
  }
}
