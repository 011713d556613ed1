/**
 * Runs async read-modify-write sections one at a time inside this process, so two concurrent
 * updates of the same Keyv value (a vote and a withdrawal, two subscriptions) cannot lose a write.
 */
export function createSerialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}
