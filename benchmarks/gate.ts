// The speed regression gate of `npm run bench -- --compare` (correctness is `modernbert parity`, a separate
// command). A row fails when its median is slower than its baseline by more than
//   max(--max-slowdown %, --noise-k x the row's noise %)  and by more than --min-delta-ms,
// and stays so after two re-measurements. The baseline of a row is the fastest of its medians over the
// baseline runs (several --compare results.csv of one commit, or a calibration.json): noise only ever adds
// time, and the current row likewise keeps its best of up to three medians, so the gate compares best with
// best. (The median of the medians was tried: with two of three baseline runs slowed by another process it
// rose 45%, and a 2x slowdown measured +28%, inside the noise.) The row's noise is the larger of
//   - the spread across runs: (max - min) / baseline of the runs' medians (known with two runs or more), and
//   - the spread within a run: (max_s - min_s) / median_s of the row, the median of it over the runs.
// With one baseline run only the spread within it is known.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from 'mathjs';
import { type ResultColumn, type ResultRow, parseResultsCsv } from './results.ts';

/** The identity of a row across runs. */
export function rowKey(r: Pick<ResultRow, 'kind' | 'name' | 'backend' | 'variant' | 'config' | 'dtype' | 'sequences' | 'tokens'>): string {
  return [r.kind, r.name, r.backend, r.variant, r.config, r.dtype, r.sequences, r.tokens].map((v) => String(v ?? '')).join('|');
}

export interface GateRule {
  maxSlowdownPct: number;
  noiseK: number;
  minDeltaS: number;
}

/** A row's baseline: the fastest of its medians over the baseline runs, and the noise measured on them. */
export interface BaselineRow {
  medians: number[]; // each run's median, seconds
  baselineS: number;
  acrossSpread: number | null; // relative; null with one run
  withinSpread: number | null; // relative; null when the rows lack min_s/max_s
}

export interface Baseline {
  source: string; // where it came from, for messages
  runs: number;
  devices: string[];
  rows: Map<string, BaselineRow>;
}

/** The noise of a row (a fraction): the larger of the spreads it has, 0 when it has none. */
export const noiseOf = (b: BaselineRow) => Math.max(b.acrossSpread ?? 0, b.withinSpread ?? 0);

type CsvRow = Record<ResultColumn, string>;
const gated = (r: Pick<ResultRow, 'kind' | 'median_s'>) => r.kind !== 'max_batch' && r.median_s !== null && r.median_s !== '';

/** The baseline of several runs of one commit (each a results.csv's rows). */
export function baselineFromRuns(runs: CsvRow[][], source: string): Baseline {
  const samples = new Map<string, { median: number; within: number | null }[]>();
  for (const run of runs) {
    for (const r of run.filter(gated)) {
      const m = Number(r.median_s);
      const within = r.min_s !== '' && r.max_s !== '' ? (Number(r.max_s) - Number(r.min_s)) / m : null;
      const list = samples.get(rowKey(r)) ?? [];
      samples.set(rowKey(r), [...list, { median: m, within }]);
    }
  }
  const rows = new Map<string, BaselineRow>();
  for (const [key, list] of samples) {
    const medians = list.map((s) => s.median);
    const baselineS = Math.min(...medians);
    const withins = list.flatMap((s) => (s.within === null ? [] : [s.within]));
    rows.set(key, {
      medians,
      baselineS,
      acrossSpread: medians.length > 1 ? (Math.max(...medians) - baselineS) / baselineS : null,
      // The median over runs: one run with a stall does not widen the gate.
      withinSpread: withins.length ? Number(median(withins)) : null,
    });
  }
  const devices = [...new Set(runs.flat().map((r) => r.device).filter(Boolean))];
  return { source, runs: runs.length, devices, rows };
}

/** The baseline of one or more results.csv files of repeat runs. Errors name the file. */
export function baselineFromCsvFiles(files: string[]): Baseline {
  const source = files.length === 1 ? files[0] : `${files.length} baseline files (${files.join(', ')})`;
  return baselineFromRuns(files.map((f) => parseResultsCsv(readFileSync(f, 'utf8'), f)), source);
}

// calibration.json: the baseline of N runs of one commit, stored so CI does not re-run it.
const CALIBRATION_FORMAT = 'modernbert-bench-calibration/1';

export interface Calibration {
  format: typeof CALIBRATION_FORMAT;
  commit: string;
  date: string;
  device: string;
  runs: number;
  rows: Record<string, { medians_s: number[]; baseline_s: number; spread: number | null; within_run_spread: number | null }>; // null: not known
}

const round = (x: number | null) => (x === null ? null : Number(x.toPrecision(6))); // as results.csv rounds

export function calibrationOf(baseline: Baseline, runRows: CsvRow[]): Calibration {
  const first = runRows[0];
  return {
    format: CALIBRATION_FORMAT,
    commit: first?.commit ?? 'unknown',
    date: first?.date ?? '',
    device: first?.device ?? '',
    runs: baseline.runs,
    rows: Object.fromEntries([...baseline.rows].map(([key, b]) => [key, { medians_s: b.medians, baseline_s: b.baselineS, spread: round(b.acrossSpread), within_run_spread: round(b.withinSpread) }])),
  };
}

/** Reads a calibration.json. A malformed file throws an error naming the file and the field. */
export function loadCalibration(file: string): Baseline {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const bad = (field: string, want: string, got: unknown): never => {
    throw new Error(`${file}: ${field} must be ${want}, got ${JSON.stringify(got) ?? 'nothing'}`);
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const isSeconds = (v: unknown) => typeof v === 'number' && v > 0 && Number.isFinite(v);
  const isSpread = (v: unknown) => typeof v === 'number' && v >= 0 && Number.isFinite(v);
  if (!isObject(data)) return bad('the file', 'a JSON object', data);
  if (data.format !== CALIBRATION_FORMAT) bad('format', `"${CALIBRATION_FORMAT}"`, data.format);
  if (!Number.isInteger(data.runs) || (data.runs as number) < 2) bad('runs', 'an integer >= 2', data.runs);
  if (!isObject(data.rows)) return bad('rows', 'an object of row keys', data.rows);
  const rows = new Map<string, BaselineRow>();
  for (const [key, r] of Object.entries(data.rows)) {
    const field = (name: string) => `rows["${key}"].${name}`;
    if (!isObject(r)) return bad(`rows["${key}"]`, 'an object', r);
    if (!Array.isArray(r.medians_s) || !r.medians_s.length || !r.medians_s.every(isSeconds)) bad(field('medians_s'), 'a non-empty array of positive seconds', r.medians_s);
    if (!isSeconds(r.baseline_s)) bad(field('baseline_s'), 'positive seconds', r.baseline_s);
    for (const name of ['spread', 'within_run_spread']) if (r[name] !== null && !isSpread(r[name])) bad(field(name), 'a non-negative fraction or null', r[name]);
    rows.set(key, { medians: r.medians_s as number[], baselineS: r.baseline_s as number, acrossSpread: r.spread as number | null, withinSpread: r.within_run_spread as number | null });
  }
  return { source: `${file} (${data.runs} runs of ${String(data.commit)} on ${String(data.device)})`, runs: data.runs as number, devices: typeof data.device === 'string' && data.device ? [data.device] : [], rows };
}

export interface RowVerdict {
  key: string;
  baselineS: number;
  currentS: number;
  slowdownPct: number;
  noisePct: number;
  noiseFrom: 'across runs' | 'within run';
  allowedPct: number;
  status: 'ok' | 'regression' | 'within noise' | 'under floor';
}

/** Each current row that has a baseline, judged by the rule. Rows without a baseline are new, not slow. */
export function judgeRows(baseline: Baseline, current: ResultRow[], rule: GateRule): RowVerdict[] {
  const out: RowVerdict[] = [];
  for (const r of current.filter(gated)) {
    const b = baseline.rows.get(rowKey(r));
    if (!b) continue;
    const currentS = Number(r.median_s);
    const slowdownPct = (currentS / b.baselineS - 1) * 100;
    const noisePct = noiseOf(b) * 100;
    const allowedPct = Math.max(rule.maxSlowdownPct, rule.noiseK * noisePct);
    const status = slowdownPct <= rule.maxSlowdownPct ? 'ok' : currentS - b.baselineS <= rule.minDeltaS ? 'under floor' : slowdownPct <= allowedPct ? 'within noise' : 'regression';
    const noiseFrom = b.acrossSpread !== null && b.acrossSpread >= (b.withinSpread ?? 0) ? 'across runs' : 'within run';
    out.push({ key: rowKey(r), baselineS: b.baselineS, currentS, slowdownPct, noisePct, noiseFrom, allowedPct, status });
  }
  return out;
}

/** Rows slower than the rule allows. */
export const findRegressions = (baseline: Baseline, current: ResultRow[], rule: GateRule) => judgeRows(baseline, current, rule).filter((v) => v.status === 'regression');

const ms = (s: number) => `${Number((s * 1000).toPrecision(3))} ms`;

/** One line for a row over --max-slowdown: both thresholds, so a near miss shows how near. */
export function verdictLine(v: RowVerdict, rule: GateRule): string {
  const label = v.status === 'regression' ? 'REGRESSION' : `compare: ${v.status}`;
  const allowed = `allowed +${v.allowedPct.toFixed(1)}% = max(${rule.maxSlowdownPct}%, ${rule.noiseK} x noise ${v.noisePct.toFixed(1)}% ${v.noiseFrom})`;
  return `${label} ${v.key}: median ${v.currentS.toPrecision(4)} s vs baseline ${v.baselineS.toPrecision(4)} s (+${v.slowdownPct.toFixed(1)}%, +${ms(v.currentS - v.baselineS)}; ${allowed}; floor ${ms(rule.minDeltaS)})`;
}

/**
 * The gate: judge every row, re-measure each regression twice (its best median counts: noise only ever adds
 * time), and fail on what stays slow. Returns the exit code (0 pass, 1 regression). Rows re-measured keep
 * their best median, so the report shows what the gate judged.
 */
export async function runGate(baseline: Baseline, rows: ResultRow[], rule: GateRule, remeasure: (row: ResultRow) => Promise<number | null>, log: (line: string) => void): Promise<0 | 1> {
  const matched = judgeRows(baseline, rows, rule).length;
  const noise = baseline.runs > 1 ? `noise: the larger of the spread across ${baseline.runs} runs and the spread within a run` : 'noise: the spread within the one baseline run only (give --compare several runs, or --calibration, for the spread across runs)';
  log(`compare: ${matched} of ${rows.filter(gated).length} rows have a baseline row in ${baseline.source}; ${noise}`);
  const devices = [...new Set(rows.map((r) => String(r.device ?? '')).filter(Boolean))];
  if (baseline.devices.length && devices.some((d) => !baseline.devices.includes(d))) log(`compare: warning: baseline device ${baseline.devices.join(', ')}, this run ${devices.join(', ')}`);
  let suspects = findRegressions(baseline, rows, rule);
  for (let attempt = 1; attempt <= 2 && suspects.length; attempt++) {
    log(`compare: re-measuring ${suspects.length} suspect row(s) (${attempt} of 2)`);
    for (const s of suspects) {
      const row = rows.find((r) => rowKey(r) === s.key)!;
      const again = await remeasure(row);
      if (again !== null) row.median_s = Math.min(Number(row.median_s), again);
    }
    suspects = findRegressions(baseline, rows, rule);
  }
  const verdicts = judgeRows(baseline, rows, rule);
  for (const v of verdicts.filter((v) => v.status !== 'ok')) log(verdictLine(v, rule));
  if (!suspects.length) log(`compare: no regression (${verdicts.length} rows within +${rule.maxSlowdownPct}% or their noise)`);
  return suspects.length ? 1 : 0;
}

/**
 * `--calibrate N`: the first run's rows are in `out`/results.csv; runs the suite N-1 more times, each into a
 * temporary folder (a results.csv left under reports/ would count twice in the leaderboard), and writes
 * `out`/calibration.json. `runAgain` runs the suite once into a folder and returns its exit code.
 */
export async function writeCalibration(out: string, repetitions: number, runAgain: (dir: string) => Promise<number>, log: (line: string) => void): Promise<string> {
  const read = (file: string) => parseResultsCsv(readFileSync(file, 'utf8'), file);
  const runs = [read(join(out, 'results.csv'))];
  for (let i = 2; i <= repetitions; i++) {
    log(`calibrate: run ${i} of ${repetitions}`);
    const dir = mkdtempSync(join(tmpdir(), 'modernbert-calibrate-'));
    try {
      const code = await runAgain(dir);
      if (code !== 0) throw new Error(`calibrate: run ${i} of ${repetitions} exited with code ${code}`);
      runs.push(read(join(dir, 'results.csv')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const baseline = baselineFromRuns(runs, `${repetitions} runs`);
  const file = join(out, 'calibration.json');
  writeFileSync(file, JSON.stringify(calibrationOf(baseline, runs[0]), null, 2) + '\n');
  const pct = (f: number | null) => `${((f ?? 0) * 100).toFixed(1)}%`;
  const noisiest = [...baseline.rows].sort(([, a], [, b]) => noiseOf(b) - noiseOf(a))[0];
  const worst = noisiest ? `; noisiest ${noisiest[0]}: spread across runs ${pct(noisiest[1].acrossSpread)}, within a run ${pct(noisiest[1].withinSpread)}` : '';
  log(`calibrate: ${baseline.rows.size} rows over ${repetitions} runs${worst}; wrote ${file}`);
  return file;
}
