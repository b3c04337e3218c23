// Timing with tinybench: the first call timed on its own (cold: compilation, JIT, first allocations), then
// warm-up runs, then N timed runs; the median and the spread (min, max) in seconds.
// A GPU task is timed to completion: its function awaits the queue (queue.onSubmittedWorkDone() or a
// readback), never a bare submit().
import { Bench } from 'tinybench';

export interface Timing {
  runs: number;
  medianS: number;
  minS: number;
  maxS: number;
  /** the first call, before any warm-up: never among the timed runs */
  firstS: number;
}

/** `warmup` counts the first call: warm-up 2 is the timed first call and one more untimed run. */
export async function time(name: string, fn: () => unknown, options: { runs: number; warmup: number }): Promise<Timing> {
  const firstS = await seconds(fn);
  const warmup = Math.max(0, options.warmup - 1);
  const bench = new Bench({ iterations: options.runs, time: 0, warmupIterations: warmup, warmupTime: 0, warmup: warmup > 0 });
  bench.add(name, async () => {
    await fn();
  });
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state === 'errored') throw result.error;
  if (result.state !== 'completed') throw new Error(`${name}: the benchmark ended ${result.state}`);
  const { p50, min, max } = result.latency;
  return { runs: options.runs, medianS: p50 / 1000, minS: min / 1000, maxS: max / 1000, firstS };
}

/** Wall-clock seconds of one (possibly async) call. */
export async function seconds(fn: () => unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}
