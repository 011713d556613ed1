/**
 * Event-loop iterations, counted by a self-rescheduling setImmediate (one callback per iteration's
 * check phase): two synchronous steps that read the same count ran in one iteration, back to back,
 * with no timer, socket or worker reply served between them.
 */
export function loopCounter(): { now(): number; stop(): void } {
  let turns = 0;
  let stopped = false;
  const spin = (): void => {
    if (stopped) return;
    turns += 1;
    setImmediate(spin);
  };
  setImmediate(spin);
  return {
    now: () => turns,
    stop: () => {
      stopped = true;
    },
  };
}

/** The event-loop iterations completed while `work` runs. */
export async function ticksDuring<T>(work: Promise<T>): Promise<{ value: T; ticks: number }> {
  const counter = loopCounter();
  try {
    return { value: await work, ticks: counter.now() };
  } finally {
    counter.stop();
  }
}
