// Timing with tinybench: warm-up runs, then N timed runs; the median and the spread (min, max) in seconds.
// A GPU task is timed to completion: its function awaits the queue (queue.onSubmittedWorkDone() or a
// readback), never a bare submit().
import { Bench } from 'tinybench';

export interface Timing {
  runs: number;
  medianS: number;
  minS: number;
  maxS: number;
}

export async function time(name: string, fn: () => unknown, options: { runs: number; warmup: number }): Promise<Timing> {
  const bench = new Bench({ iterations: options.runs, time: 0, warmupIterations: options.warmup, warmupTime: 0, warmup: options.warmup > 0 });
  bench.add(name, async () => {
    await fn();
  });
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state === 'errored') throw result.error;
  if (result.state !== 'completed') throw new Error(`${name}: the benchmark ended ${result.state}`);
  const { p50, min, max } = result.latency;
  return { runs: options.runs, medianS: p50 / 1000, minS: min / 1000, maxS: max / 1000 };
}
