// A long computation as a generator that yields after each step of a few milliseconds (a block of rows of a
// matrix product, a block of query rows of attention). A synchronous caller runs it to the end (complete); an
// asynchronous one (completeAsync) gives the event loop a turn between steps, so Ctrl-C, timers and I/O are
// served during a reference pass of minutes (8192 tokens in fp64). The arithmetic is the same either way.

export type Steps<T> = Generator<void, T, void>;

/** About this many multiply-adds make one step (about ten milliseconds of JavaScript). */
const STEP_WORK = 1 << 23;

/** How many rows of `workPerRow` multiply-adds each make one step (at least one). */
export function rowsPerStep(workPerRow: number): number {
  return Math.max(1, Math.floor(STEP_WORK / Math.max(1, workPerRow)));
}

/** Runs the steps to the end, synchronously. */
export function complete<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** Resolves after the event loop has had a turn: setImmediate where there is one (Node, no wait); a browser has setTimeout. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

/** Runs the steps to the end, letting the event loop run (setImmediate) whenever `sliceMs` have passed. */
export async function completeAsync<T>(steps: Steps<T>, sliceMs = 20): Promise<T> {
  let until = performance.now() + sliceMs;
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    if (performance.now() >= until) {
      await nextTurn();
      until = performance.now() + sliceMs;
    }
  }
}
