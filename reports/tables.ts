// The tables of a report, one per kind of result row, built once as text cells and rendered as markdown
// (summary.md, leaderboard.md) or HTML (index.html), so both say the same thing.
import { PAPER_WORKLOADS } from '../benchmarks/workloads.ts';
import { type AnyResultRow, compareText, distinct, escapeMarkdown, escapeXml, formatBytes, formatCount, formatRate, formatRatio, formatSeconds, num, text } from './format.ts';

/** The styles every page that shows these tables and the plots uses (the leaderboard, the bench page). */
export const RESULTS_CSS = `  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111; background: #fafafa; margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1400px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
  dt { font-weight: 600; }
  dd { margin: 0; }
  .plots { display: flex; flex-wrap: wrap; gap: 1rem; }
  figure { margin: 0; }
  svg { max-width: 100%; height: auto; border: 1px solid #ddd; }
  .table-scroll { overflow-x: auto; margin: 1.5rem 0; }
  table { border-collapse: collapse; background: #fff; }
  caption { text-align: left; font-weight: 600; padding: 0.3rem 0; }
  th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; white-space: nowrap; }
  th { background: #f0f0f0; }
  .num { text-align: right; font-variant-numeric: tabular-nums; }`;

export interface Table {
  caption: string;
  headers: string[];
  /** right-aligned columns */
  numeric: boolean[];
  rows: string[][];
}

export interface TableOptions {
  /** add each row's date and commit (a leaderboard merges several runs) */
  runColumns?: boolean;
}

interface Column {
  header: string;
  numeric?: boolean;
  cell(row: AnyResultRow): string;
}

/** The tables for the kinds present in `rows`: model forward passes, kernels, max batch. */
export function resultTables(rows: readonly AnyResultRow[], options: TableOptions = {}): Table[] {
  return [modelTable(rows, options), kernelTable(rows, options), maxBatchTable(rows, options)].filter((t) => t.rows.length > 0);
}

/**
 * Model rows by workload, then config, then tokens/s, fastest first: the columns a reader compares (the rest of a
 * row, its times, counts, cold start and note, is in results.csv). "spread" is (max - min) / median of the timed
 * runs; "vs peer" the row's tokens/s over the ONNX Runtime peer's (matchPeers). The config column only where the
 * rows have several.
 */
export function modelTable(rows: readonly AnyResultRow[], options: TableOptions = {}): Table {
  const models = rows.filter((r) => r.kind === 'model').sort((a, b) => compareWorkloads(a, b) || compareText(text(a.config), text(b.config)) || (num(b.tokens_per_s) ?? -1) - (num(a.tokens_per_s) ?? -1) || tieBreak(a, b));
  const vsPeer = matchPeers(models);
  const severalConfigs = distinct(models.map((r) => text(r.config))).length > 1;
  return table('Model forward passes (real tokens per second)', models, [
    { header: 'backend', cell: (r) => text(r.backend) },
    { header: 'variant', cell: (r) => text(r.variant) },
    ...(severalConfigs ? [{ header: 'config', cell: (r: AnyResultRow) => text(r.config) }] : []),
    { header: 'dtype', cell: (r) => text(r.dtype) },
    { header: 'workload', cell: (r) => text(r.name) },
    { header: 'tokens/s', numeric: true, cell: (r) => rate(r.tokens_per_s) },
    { header: 'spread', numeric: true, cell: spread },
    { header: 'vs peer', numeric: true, cell: (r) => ratioCell(vsPeer.get(r)?.ratio) },
    { header: 'peak memory', numeric: true, cell: (r) => bytes(r.peak_bytes) },
    ...runColumns(options),
  ]);
}

/** The backends of the ONNX Runtime peer's rows: transformers.js in Node (variant onnxruntime-cpu, or onnxruntime-webgpu
 *  on a GPU), and onnxruntime-web on the bench page (variant webgpu), the runtime transformers.js runs in a browser. */
export const ONNX_RUNTIME_PEERS = ['transformersjs', 'onnxruntime-web'];
const PEER_TITLES: Record<string, string> = {
  'transformersjs onnxruntime-cpu': 'vs ONNX Runtime CPU',
  'transformersjs onnxruntime-webgpu': 'vs ONNX Runtime WebGPU',
  'onnxruntime-web webgpu': 'vs ONNX Runtime Web (WebGPU)',
};

interface PeerMatch {
  /** the row's tokens/s over the peer's */
  ratio: number;
  /** the peer's backend and variant, e.g. "transformersjs onnxruntime-webgpu" */
  peer: string;
  /** the dtype of the peer's row: the row's own where the peer ran it, else fp32 */
  dtype: string;
}

/**
 * Each measured model row that is not a peer, with the ONNX Runtime peer's row it is compared with: from the same
 * run (date and device) on the same workload and config, at the row's dtype where the peer ran that workload in
 * it, else at fp32. The peer needs no Python, so every run has it.
 */
function matchPeers(models: readonly AnyResultRow[]): Map<AnyResultRow, PeerMatch> {
  const tokensPerSecond = (r: AnyResultRow) => num(r.tokens_per_s) ?? 0;
  const isPeer = (r: AnyResultRow) => ONNX_RUNTIME_PEERS.includes(text(r.backend));
  const place = (r: AnyResultRow) => [r.date, r.device, r.name, r.config].map(text).join('\u0000');
  const peersAt = new Map<string, AnyResultRow[]>();
  for (const r of models) if (isPeer(r) && tokensPerSecond(r) > 0) peersAt.set(place(r), [...(peersAt.get(place(r)) ?? []), r]);
  const matches = new Map<AnyResultRow, PeerMatch>();
  for (const r of models) {
    if (isPeer(r) || tokensPerSecond(r) <= 0) continue;
    const candidates = peersAt.get(place(r)) ?? [];
    const peer = candidates.find((p) => text(p.dtype) === text(r.dtype)) ?? candidates.find((p) => text(p.dtype) === 'fp32');
    if (peer) matches.set(r, { ratio: tokensPerSecond(r) / tokensPerSecond(peer), peer: `${text(peer.backend)} ${text(peer.variant)}`, dtype: text(peer.dtype) });
  }
  return matches;
}

/**
 * The model rows relative to the ONNX Runtime peer (matchPeers), a table per peer (CPU, WebGPU, the browser's
 * WebGPU): a row per backend, variant, config, dtype and the peer's dtype, a column per workload.
 */
export function peerRatioTables(rows: readonly AnyResultRow[]): Table[] {
  const models = rows.filter((r) => r.kind === 'model').sort((a, b) => compareWorkloads(a, b) || (num(b.tokens_per_s) ?? -1) - (num(a.tokens_per_s) ?? -1) || tieBreak(a, b));
  const matches = [...matchPeers(models)];
  return distinct(matches.map(([, m]) => m.peer)).map((peer) => {
    const mine = matches.filter(([, m]) => m.peer === peer);
    // Rows in the order they first appear: fastest first on the first workload.
    const byBackend = new Map<string, Map<string, number>>();
    for (const [r, m] of mine) {
      const key = [r.backend, r.variant, r.config, r.dtype].map(text).concat(m.dtype).join('\u0000');
      const ratios = byBackend.get(key) ?? new Map<string, number>();
      if (!ratios.has(text(r.name))) ratios.set(text(r.name), m.ratio);
      byBackend.set(key, ratios);
    }
    const workloads = distinct(mine.map(([r]) => text(r.name)));
    return {
      caption: `${PEER_TITLES[peer] ?? `vs ${peer}`} (tokens/s over ${peer} on the same workload, config and dtype; over its fp32 where it has no row of that dtype)`,
      headers: ['backend', 'variant', 'config', 'dtype', 'peer dtype', ...workloads],
      numeric: [false, false, false, false, false, ...workloads.map(() => true)],
      rows: [...byBackend].map(([key, ratios]) => [...key.split('\u0000'), ...workloads.map((w) => ratioCell(ratios.get(w)))]),
    };
  });
}

/** Kernel rows by name and shape, fastest first; each relative to the fastest of the same kernel and shape. */
export function kernelTable(rows: readonly AnyResultRow[], options: TableOptions = {}): Table {
  const kernels = rows.filter((r) => r.kind === 'kernel').sort((a, b) => compareText(text(a.name), text(b.name)) || compareText(text(a.note), text(b.note)) || (num(a.median_s) ?? Infinity) - (num(b.median_s) ?? Infinity) || tieBreak(a, b));
  const vsFastest = relativeToBest(kernels, (r) => `${text(r.name)}\u0000${text(r.note)}`, (r) => num(r.median_s), 'min');
  return table('Kernels', kernels, [
    { header: 'kernel', cell: (r) => text(r.name) },
    { header: 'variant', cell: (r) => text(r.variant) },
    { header: 'shape', cell: (r) => text(r.note) },
    { header: 'median s (min–max)', numeric: true, cell: timing },
    { header: 'GFLOP/s', numeric: true, cell: (r) => rate(r.gflop_per_s) },
    { header: 'GB/s', numeric: true, cell: (r) => rate(r.gb_per_s) },
    { header: 'vs fastest', numeric: true, cell: (r) => ratioCell(vsFastest.get(r)) },
    ...runColumns(options),
  ]);
}

/** Max batch rows by workload and config, largest batch first; each relative to the largest of its workload and config. */
export function maxBatchTable(rows: readonly AnyResultRow[], options: TableOptions = {}): Table {
  const batches = rows.filter((r) => r.kind === 'max_batch').sort((a, b) => compareWorkloads(a, b) || compareText(text(a.config), text(b.config)) || (num(b.sequences) ?? -1) - (num(a.sequences) ?? -1) || tieBreak(a, b));
  const vsLargest = relativeToBest(batches, (r) => `${text(r.name)}\u0000${text(r.config)}`, (r) => num(r.sequences), 'max');
  return table('Largest batch that fits', batches, [
    { header: 'backend', cell: (r) => text(r.backend) },
    { header: 'variant', cell: (r) => text(r.variant) },
    { header: 'config', cell: (r) => text(r.config) },
    { header: 'dtype', cell: (r) => text(r.dtype) },
    { header: 'workload', cell: (r) => text(r.name) },
    { header: 'max batch (sequences)', numeric: true, cell: (r) => count(r.sequences) },
    { header: 'tokens', numeric: true, cell: (r) => count(r.tokens) },
    { header: 'peak memory', numeric: true, cell: (r) => bytes(r.peak_bytes) },
    { header: 'vs largest', numeric: true, cell: (r) => ratioCell(vsLargest.get(r)) },
    { header: 'note', cell: (r) => text(r.note) },
    ...runColumns(options),
  ]);
}

export function tableToMarkdown(t: Table): string {
  const line = (cells: string[]) => `| ${cells.map(escapeMarkdown).join(' | ')} |`;
  return [`**${escapeMarkdown(t.caption)}**`, '', line(t.headers), `| ${t.numeric.map((n) => (n ? '---:' : '---')).join(' | ')} |`, ...t.rows.map(line)].join('\n') + '\n';
}

export function tableToHtml(t: Table): string {
  const cellClass = (i: number) => (t.numeric[i] ? ' class="num"' : '');
  return [
    '<table>',
    `<caption>${escapeXml(t.caption)}</caption>`,
    `<thead><tr>${t.headers.map((h, i) => `<th scope="col"${cellClass(i)}>${escapeXml(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...t.rows.map((cells) => `<tr>${cells.map((c, i) => `<td${cellClass(i)}>${escapeXml(c)}</td>`).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ].join('\n') + '\n';
}

function table(caption: string, rows: readonly AnyResultRow[], columns: Column[]): Table {
  return {
    caption,
    headers: columns.map((c) => c.header),
    numeric: columns.map((c) => c.numeric ?? false),
    rows: rows.map((r) => columns.map((c) => c.cell(r))),
  };
}

function runColumns(options: TableOptions): Column[] {
  return options.runColumns
    ? [
        { header: 'date', cell: (r) => text(r.date).slice(0, 10) },
        { header: 'commit', cell: (r) => text(r.commit) },
      ]
    : [];
}

/**
 * Each row's value relative to the best of its group (`max`: value / best; `min`, for times: best / value),
 * so 1.00× is the best and smaller is worse. Only for groups of two or more: a lone row has nothing to compare.
 */
function relativeToBest(rows: readonly AnyResultRow[], group: (r: AnyResultRow) => string, value: (r: AnyResultRow) => number | undefined, best: 'max' | 'min'): Map<AnyResultRow, number> {
  const groups = new Map<string, AnyResultRow[]>();
  for (const r of rows) if ((value(r) ?? 0) > 0) groups.set(group(r), [...(groups.get(group(r)) ?? []), r]);
  const ratios = new Map<AnyResultRow, number>();
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const values = members.map((r) => value(r)!);
    const top = best === 'max' ? Math.max(...values) : Math.min(...values);
    members.forEach((r, i) => ratios.set(r, best === 'max' ? values[i] / top : top / values[i]));
  }
  return ratios;
}

// The paper's workloads in the paper's order, then any others (LENxCOUNT) with numbers compared as numbers
// (128x8 before 512x8 before 2048x8).
const WORKLOAD_ORDER = Object.keys(PAPER_WORKLOADS);
const numericCollator = new Intl.Collator('en', { numeric: true });
function compareWorkloads(a: AnyResultRow, b: AnyResultRow): number {
  const rank = (name: string) => (WORKLOAD_ORDER.includes(name) ? WORKLOAD_ORDER.indexOf(name) : WORKLOAD_ORDER.length);
  return rank(text(a.name)) - rank(text(b.name)) || numericCollator.compare(text(a.name), text(b.name));
}

/** Equal values: by what ran, then when, so the order never depends on the order the files were read. */
function tieBreak(a: AnyResultRow, b: AnyResultRow): number {
  for (const column of ['backend', 'variant', 'dtype', 'date', 'commit'] as const) {
    const order = compareText(text(a[column]), text(b[column]));
    if (order) return order;
  }
  return 0;
}

function timing(r: AnyResultRow): string {
  const median = num(r.median_s);
  if (median === undefined) return '';
  const min = num(r.min_s);
  const max = num(r.max_s);
  return min !== undefined && max !== undefined ? `${formatSeconds(median)} (${formatSeconds(min)}–${formatSeconds(max)})` : formatSeconds(median);
}

/** (max - min) / median of the timed runs, in percent: how far apart the runs were. */
function spread(r: AnyResultRow): string {
  const [median, min, max] = [num(r.median_s), num(r.min_s), num(r.max_s)];
  return median && min !== undefined && max !== undefined ? `${(((max - min) / median) * 100).toFixed(0)}%` : '';
}

function count(value: AnyResultRow[keyof AnyResultRow]): string {
  const n = num(value);
  return n === undefined ? '' : formatCount(n);
}

function rate(value: AnyResultRow[keyof AnyResultRow]): string {
  const n = num(value);
  return n === undefined ? '' : formatRate(n);
}

function bytes(value: AnyResultRow[keyof AnyResultRow]): string {
  const n = num(value);
  return n === undefined ? '' : formatBytes(n);
}

function ratioCell(ratio: number | undefined): string {
  return ratio === undefined ? '' : formatRatio(ratio);
}
