// One benchmark result row: the record every backend, peer and kernel benchmark writes, and what reports/
// reads back. results.csv has exactly these columns in this order (csv-stringify writes it, csv-parse reads
// it). Empty cells are values that do not apply (a kernel row has no tokens/s, a CPU row no adapter).
// Columns are only ever added at the end; files written before a column existed read it as empty.
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';

export const RESULT_COLUMNS = [
  'date', // ISO 8601 time the run started (UTC)
  'commit', // git commit of the project (short hash, "-dirty" when modified), or "unknown"
  'device', // slug of the machine: the GPU adapter, or "cpu-<N>x-<model>"; reports group by it
  'kind', // "model" (forward passes), "kernel" (one kernel), "max_batch" (largest batch that fits)
  'name', // model/max_batch: workload (fixed_short, variable_short, fixed_long, variable_long, or LENxCOUNT); kernel: its name
  'backend', // reference | webgpu | torch | transformersjs | gpujs:<mode>
  'variant', // what else distinguishes the row: "flash", "materialized", "padded", "sdpa", "eager", "naive", ...
  'config', // model config: small | base | large
  'dtype', // fp32 | fp64 | fp16 | bf16
  'sequences', // sequences per forward pass (the batch)
  'tokens', // real (non-pad) tokens per forward pass
  'runs', // timed runs (after warm-up)
  'median_s', // median seconds per run
  'min_s',
  'max_s',
  'tokens_per_s', // tokens / median_s (model rows)
  'gflop_per_s', // kernel rows: the launcher's flops() / median_s
  'gb_per_s', // kernel rows: the launcher's bytes() / median_s
  'peak_bytes', // peak live GPU buffer bytes (webgpu), torch.cuda.max_memory_allocated (torch on a GPU); empty if unknown
  'adapter', // GPU adapter "vendor / architecture / description", or the CPU model
  'runtime', // e.g. "node 20.19.0" or "python 3.11.7"
  'versions', // key packages, e.g. "webgpu 0.3.10" or "torch 2.5.1; transformers 4.57.1"
  'note', // anything a reader needs: a fallback, a timer, why a value is missing
  // Cold start, apart from the warm runs above (median_s ... are warm: after the first call and the warm-up).
  'load_s', // making the model ready once per process: device acquisition, reading the checkpoint, upload
  'first_s', // the first forward pass of this workload in its process (shader compilation, JIT, allocation)
  // The environment (with adapter, runtime and versions above).
  'features', // WebGPU optional features: what the row's kernels used, and what the device had
  'cpu', // CPU model and logical cores
  'memory_bytes', // the machine's memory (a browser: navigator.deviceMemory, rounded by the browser)
  'os', // operating system, release and architecture (a browser: its user agent's platform)
] as const;

/** Columns that hold numbers (empty when they do not apply). */
export const NUMERIC_COLUMNS: readonly ResultColumn[] = ['sequences', 'tokens', 'runs', 'median_s', 'min_s', 'max_s', 'tokens_per_s', 'gflop_per_s', 'gb_per_s', 'peak_bytes', 'load_s', 'first_s', 'memory_bytes'];

/** The columns results.csv files written before them lack (added in this order at the end). */
const ADDED_COLUMNS: readonly ResultColumn[] = ['load_s', 'first_s', 'features', 'cpu', 'memory_bytes', 'os'];

export type ResultColumn = (typeof RESULT_COLUMNS)[number];
export type ResultRow = Record<ResultColumn, string | number | null>;

/** A row with every column present (missing ones empty). */
export function resultRow(values: Partial<ResultRow>): ResultRow {
  return Object.fromEntries(RESULT_COLUMNS.map((c) => [c, values[c] ?? null])) as ResultRow;
}

export function resultsToCsv(rows: readonly ResultRow[]): string {
  return stringify(rows as ResultRow[], { header: true, columns: [...RESULT_COLUMNS], cast: { number: (n) => formatNumber(n) } });
}

/** Parses a results.csv, checking its header. `file` names it in errors. Numbers stay strings: callers convert. */
export function parseResultsCsv(text: string, file: string): Record<ResultColumn, string>[] {
  let records: string[][];
  try {
    records = parse(text, { relax_column_count: false, skip_empty_lines: true });
  } catch (e) {
    throw new Error(`${file}: not valid CSV (${(e as Error).message})`);
  }
  if (records.length === 0) throw new Error(`${file}: empty (no header row)`);
  const header = records[0];
  const missing = RESULT_COLUMNS.filter((c) => !header.includes(c) && !ADDED_COLUMNS.includes(c));
  if (missing.length) throw new Error(`${file}: header lacks column(s) ${missing.join(', ')}`);
  return records.slice(1).map((r) => Object.fromEntries(RESULT_COLUMNS.map((c) => [c, r[header.indexOf(c)] ?? ''])) as Record<ResultColumn, string>);
}

/** Six significant digits: enough for timings, short in a CSV. Integers stay exact. */
function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return '';
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}
