// The regression gate: the rule (noise widens the threshold, the floor, k, several baseline runs), calibration.json,
// usage errors, and end to end: the same commit passes, an injected 2x slowdown fails. (Its own file, so
// vitest runs it beside test/bench.test.ts.)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateRule, baselineFromRuns, calibrationOf, judgeRows, loadCalibration, rowKey, runGate, verdictLine } from '../benchmarks/gate.ts';
import { type ResultRow, parseResultsCsv, resultRow, resultsToCsv } from '../benchmarks/results.ts';
import { BenchUsageError, parseBenchArgs } from '../benchmarks/run.ts';
import { bench, tempDir } from './helpers.ts';

const row = (median: number, spread = 0) => resultRow({ kind: 'kernel', name: 'gemm.wqkv', backend: 'webgpu', variant: 'tiled', config: 'base', dtype: 'fp32', sequences: 8, tokens: 4096, median_s: median, min_s: median * (1 - spread / 2), max_s: median * (1 + spread / 2), device: 'gpu-a' });
const asRead = (rows: ResultRow[]) => parseResultsCsv(resultsToCsv(rows), 'baseline.csv'); // as the gate reads a results.csv
const KEY = rowKey(row(1));
const rule = (over: Partial<GateRule> = {}): GateRule => ({ maxSlowdownPct: 10, noiseK: 1, minDeltaS: 0.05e-3, ...over });
const status = (runs: ResultRow[][], current: number, r = rule()) => judgeRows(baselineFromRuns(runs.map(asRead), 'test'), [row(current)], r)[0]?.status;

describe('gate rule', () => {
  it('fails a row over max(max-slowdown, k x noise), and says so for near misses', () => {
    expect(status([[row(1)]], 1.05)).toBe('ok');
    expect(status([[row(1)]], 1.2)).toBe('regression'); // no noise: the plain 10%
    expect(status([[row(1, 0.2)]], 1.15)).toBe('within noise'); // within-run spread 20%: allowed 20%
    expect(status([[row(1, 0.2)]], 1.25)).toBe('regression');
    expect(judgeRows(baselineFromRuns([asRead([row(1)])], 'test'), [{ ...row(9), tokens: 2048 }], rule())).toEqual([]); // another shape: new, not slow
  });

  it('k scales the noise; k = 0 leaves the plain threshold', () => {
    expect(status([[row(1, 0.2)]], 1.15, rule({ noiseK: 0 }))).toBe('regression');
    expect(status([[row(1, 0.2)]], 1.5, rule({ noiseK: 3 }))).toBe('within noise'); // allowed 60%
  });

  it('passes slowdowns under the absolute floor', () => {
    expect(status([[row(20e-6)]], 60e-6)).toBe('under floor'); // +200% but +0.04 ms
    expect(status([[row(20e-6)]], 60e-6, rule({ minDeltaS: 0 }))).toBe('regression');
  });

  it('several baseline runs: the fastest of their medians, noise the larger of the spread across and within runs', () => {
    const b = baselineFromRuns([[row(1, 0.02)], [row(1.2, 0.04)], [row(1.1, 0.5)]].map(asRead), 'test').rows.get(KEY)!;
    expect(b.baselineS).toBe(1);
    expect(b.acrossSpread).toBeCloseTo(0.2, 6);
    expect(b.withinSpread).toBeCloseTo(0.04, 6); // the median over runs: one stalled run does not count
    expect(status([[row(1, 0.02)]], 1.3)).toBe('regression'); // one tight run: allowed 10%
    expect(status([[row(1, 0.02)], [row(1.2, 0.02)]], 1.15)).toBe('within noise'); // 20% apart: allowed 20% over 1
    expect(status([[row(1, 0.02)], [row(1.2, 0.02)]], 1.25)).toBe('regression');
  });

  it('prints both thresholds', () => {
    const [v] = judgeRows(baselineFromRuns([asRead([row(0.006, 0.1)])], 'test'), [row(0.0123)], rule({ noiseK: 3, minDeltaS: 1e-3 }));
    expect(verdictLine(v, rule({ noiseK: 3, minDeltaS: 1e-3 }))).toBe(`REGRESSION ${KEY}: median 0.01230 s vs baseline 0.006000 s (+105.0%, +6.3 ms; allowed +30.0% = max(10%, 3 x noise 10.0% within run); floor 1 ms)`);
  });
});

describe('gate re-measurement (runGate with a fake re-measure)', () => {
  const baseline = () => baselineFromRuns([asRead([row(1), { ...row(1), name: 'gemm.wo' }])], 'test');
  /** Runs the gate on `rows`, each re-measurement of a row taking the next of `again`; returns what it saw. */
  async function gate(rows: ResultRow[], again: (number | null)[]) {
    const remeasured: string[] = [];
    const log: string[] = [];
    const code = await runGate(baseline(), rows, rule(), async (r) => (remeasured.push(String(r.name)), again.shift() ?? null), (l) => log.push(l));
    return { code, remeasured, log: log.join('\n') };
  }

  it('a transient slowdown passes once re-measured, and the row keeps its best median', async () => {
    const rows = [row(2)];
    const r = await gate(rows, [1.02]);
    expect(r.code).toBe(0);
    expect(r.remeasured).toEqual(['gemm.wqkv']); // once: it was fine after the first re-measurement
    expect(rows[0].median_s).toBe(1.02);
    expect(r.log).toMatch(/re-measuring 1 suspect row\(s\) \(1 of 2\)[\s\S]*compare: no regression/);
  });

  it('a real slowdown fails after two re-measurements, reported with its best median', async () => {
    const rows = [row(2)];
    const r = await gate(rows, [1.9, 2.1]);
    expect(r.code).toBe(1);
    expect(r.remeasured).toEqual(['gemm.wqkv', 'gemm.wqkv']);
    expect(rows[0].median_s).toBe(1.9);
    expect(r.log).toMatch(/REGRESSION .*: median 1\.900 s vs baseline 1\.000 s \(\+90\.0%/);
  });

  it('only suspect rows are re-measured; a re-measurement that fails (null) leaves the row as it was', async () => {
    const rows = [row(2), { ...row(1.01), name: 'gemm.wo' }];
    const r = await gate(rows, [null, null]);
    expect(r.code).toBe(1);
    expect(r.remeasured).toEqual(['gemm.wqkv', 'gemm.wqkv']);
    expect(rows.map((x) => x.median_s)).toEqual([2, 1.01]);
  });
});

describe('calibration.json', () => {
  it('stores the baseline of repeat runs and reads it back', () => {
    const runs = [[row(1, 0.1)], [row(1.1, 0.3)]].map(asRead);
    const file = join(tempDir(), 'calibration.json');
    writeFileSync(file, JSON.stringify(calibrationOf(baselineFromRuns(runs, 'test'), runs[0])));
    const loaded = loadCalibration(file);
    expect(loaded.runs).toBe(2);
    expect(loaded.devices).toEqual(['gpu-a']);
    expect(loaded.rows.get(KEY)).toEqual({ medians: [1, 1.1], baselineS: 1, acrossSpread: expect.closeTo(0.1, 5), withinSpread: expect.closeTo(0.2, 5) });
  });

  it('names the file and the field of a malformed calibration', () => {
    const dir = tempDir();
    const write = (name: string, data: unknown) => {
      writeFileSync(join(dir, name), typeof data === 'string' ? data : JSON.stringify(data));
      return join(dir, name);
    };
    const good = { format: 'modernbert-bench-calibration/1', commit: 'abc', date: '', device: 'gpu-a', runs: 2, rows: { [KEY]: { medians_s: [1, 1.1], baseline_s: 1, spread: 0.1, within_run_spread: 0.2 } } };
    expect(() => loadCalibration(write('a.json', '{'))).toThrow(/a\.json: not valid JSON/);
    expect(() => loadCalibration(write('b.json', { ...good, runs: 1 }))).toThrow(/b\.json: runs must be an integer >= 2, got 1/);
    const badRow = { ...good, rows: { [KEY]: { ...good.rows[KEY], baseline_s: 'fast' } } };
    expect(() => loadCalibration(write('c.json', badRow))).toThrow(`c.json: rows["${KEY}"].baseline_s must be positive seconds, got "fast"`);
    expect(() => parseBenchArgs(['--calibration', write('d.json', { ...good, rows: [] })], false)).toThrow(/--calibration: .*d\.json: rows must be an object of row keys/);
  });
});

describe('gate options', () => {
  it('rejects bad values as usage errors', () => {
    const dir = tempDir();
    const csv = join(dir, 'results.csv');
    writeFileSync(csv, resultsToCsv([row(1)]));
    expect(() => parseBenchArgs(['--noise-k=-1'], false)).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(['--noise-k=-1'], false)).toThrow(/--noise-k must be a non-negative number, got "-1"/);
    expect(() => parseBenchArgs(['--min-delta-ms', 'x'], false)).toThrow(/--min-delta-ms must be a non-negative number of milliseconds/);
    expect(() => parseBenchArgs(['--compare', csv, '--compare', join(dir, 'missing.csv')], false)).toThrow(/--compare: .*missing\.csv: file not found/);
    expect(() => parseBenchArgs(['--calibrate', '1'], false)).toThrow(/--calibrate must be an integer >= 2/);
    expect(() => parseBenchArgs(['--calibrate', '3', '--compare', csv], false)).toThrow(/--calibrate measures a baseline/);
    expect(parseBenchArgs(['--compare', csv, '--compare', csv], false)).toMatchObject({ gate: { maxSlowdownPct: 10, noiseK: 1, minDeltaS: 0.05e-3 }, baseline: { runs: 2 } });
  });

  it('exits 2 on a malformed calibration, before running anything', () => {
    const file = join(tempDir(), 'calibration.json');
    writeFileSync(file, '{"format": "something else"}');
    const r = bench(['--suite', 'cpu', '--calibration', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--calibration: ${file}: format must be "modernbert-bench-calibration/1", got "something else"`);
  });
});

describe('regression gate, end to end', () => {
  const common = ['--suite', 'cpu', '--backends', 'reference:fp32', '--workload', '32x2', '--peers', 'none', '--max-batch', 'no', '--runs', '3', '--warmup', '1'];
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modernbert-gate-'));
    const calibrated = bench([...common, '--out', join(dir, 'baseline'), '--calibrate', '3']); // the fastest of 3 runs: a run slowed by another process does not move it
    expect(calibrated.code, calibrated.stderr).toBe(0);
    expect(calibrated.stderr).toMatch(/calibrate: 1 rows over 3 runs; .*wrote .*calibration\.json/);
    expect(JSON.parse(readFileSync(join(dir, 'baseline', 'calibration.json'), 'utf8')).rows).toHaveProperty(['model|32x2|reference||small|fp32|2|64', 'medians_s'], [expect.any(Number), expect.any(Number), expect.any(Number)]);
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails an injected 2x slowdown against a calibration', () => {
    const slowed = bench([...common, '--out', join(dir, 'slow'), '--calibration', join(dir, 'baseline', 'calibration.json'), '--inject-slowdown', '32x2=2']);
    expect(slowed.code, slowed.stderr).toBe(1);
    expect(slowed.stderr).toMatch(/compare: 1 of 1 rows have a baseline row in .*calibration\.json \(3 runs of .*\); noise: the larger of the spread across 3 runs/);
    expect(slowed.stderr).toMatch(/compare: re-measuring 1 suspect row\(s\) \(2 of 2\)/);
    expect(slowed.stderr).toMatch(/REGRESSION model\|32x2\|reference\|\|small\|fp32\|2\|64: median .* s vs baseline .* s \(\+\d+\.\d%, \+[\d.]+ ms; allowed \+\d+\.\d% = max\(10%, 1 x noise \d+\.\d% (across runs|within run)\); floor 0\.05 ms\)/);
  });

  it('passes the same commit against one results.csv', () => {
    // Other test files run SwiftShader beside this one on 2 cores: in CI the same commit measured +12.1% after both
    // re-measurements. 50% leaves room for that load; the test above shows a 2x slowdown still fails.
    const again = bench([...common, '--out', join(dir, 'again'), '--compare', join(dir, 'baseline', 'results.csv'), '--max-slowdown', '50']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/compare: 1 of 1 rows have a baseline row in .*results\.csv; noise: the spread within the one baseline run only/);
    expect(again.stderr).toMatch(/compare: no regression \(1 rows within \+50% or their noise\)/);
  });
});
