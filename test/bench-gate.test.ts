// The regression gate: an injected slowdown fails it; re-running the baseline passes it. (Its own file, so
// vitest runs it beside test/bench.test.ts.)
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findRegressions, rowKey } from '../benchmarks/run.ts';
import { parseResultsCsv, resultRow, resultsToCsv } from '../benchmarks/results.ts';
import { bench, tempDir } from './helpers.ts';

describe('regression gate', () => {
  const row = (median: number) => resultRow({ kind: 'kernel', name: 'gemm.wqkv', backend: 'webgpu', variant: 'tiled', config: 'base', dtype: 'fp32', sequences: 8, tokens: 4096, median_s: median });
  const baseline = parseResultsCsv(resultsToCsv([row(1)]), 'baseline.csv'); // as the gate reads it

  it('flags a row slower than its baseline by more than the threshold, and nothing else', () => {
    expect(findRegressions(baseline, [row(1.05)], 10)).toEqual([]);
    expect(findRegressions(baseline, [row(1.2)], 10)).toEqual([{ key: rowKey(row(1)), baselineS: 1, currentS: 1.2, slowdownPct: expect.closeTo(20, 6) }]);
    expect(findRegressions(baseline, [{ ...row(9), tokens: 2048 }], 10)).toEqual([]); // another shape: a new row, not a slow one
  });

  it('fails on an injected slowdown and passes when the baseline is re-run', () => {
    const dir = tempDir();
    const common = ['--suite', 'cpu', '--backends', 'reference:fp32', '--workload', '32x2', '--peers', 'none', '--max-batch', 'no', '--runs', '3', '--warmup', '1'];
    const first = bench([...common, '--out', join(dir, 'baseline')]);
    expect(first.code, first.stderr).toBe(0);
    const baselineCsv = join(dir, 'baseline', 'results.csv');

    const slowed = bench([...common, '--out', join(dir, 'slow'), '--compare', baselineCsv, '--max-slowdown', '50', '--inject-slowdown', '32x2=4']);
    expect(slowed.code, slowed.stderr).toBe(1);
    expect(slowed.stderr).toMatch(/REGRESSION model\|32x2\|reference\|\|small\|fp32\|2\|64: median .* \(\+\d+\.\d%, allowed \+50%\)/);

    const again = bench([...common, '--out', join(dir, 'again'), '--compare', baselineCsv, '--max-slowdown', '50']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/compare: 1 of 1 rows have a baseline row/);
  });
});

