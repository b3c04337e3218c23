// The leaderboard: every results.csv under a folder, merged and grouped by device, as leaderboard.md and a
// self-contained index.html (inline CSS and SVG, no scripts, nothing fetched).
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { type ResultColumn, parseResultsCsv } from '../benchmarks/results.ts';
import { type AnyResultRow, compareText, distinct, escapeMarkdown, escapeXml, text, writeFileAtomic } from './format.ts';
import { memoryPlot, throughputPlot } from './plots.ts';
import { resultTables, tableToHtml, tableToMarkdown } from './tables.ts';

export interface ResultsFile {
  file: string;
  rows: Record<ResultColumn, string>[];
}

export interface DeviceResults {
  device: string;
  adapters: string[];
  commits: string[];
  /** days (YYYY-MM-DD), sorted */
  dates: string[];
  /** the results.csv files its rows came from */
  sources: string[];
  rows: AnyResultRow[];
}

const KINDS = ['model', 'kernel', 'max_batch'];
const NUMERIC_COLUMNS: ResultColumn[] = ['sequences', 'tokens', 'runs', 'median_s', 'min_s', 'max_s', 'tokens_per_s', 'gflop_per_s', 'gb_per_s', 'peak_bytes'];

/** Every results.csv under `root`, recursively (hidden folders and node_modules left out), in a stable order. */
export function findResultFiles(root: string): string[] {
  const found: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') visit(join(dir, entry.name));
      else if (entry.isFile() && entry.name === 'results.csv') found.push(join(dir, entry.name));
    }
  };
  visit(root);
  return found.sort(compareText);
}

/** Reads and checks each file: a file that is not a valid results.csv is an error that names it. */
export function readResultFiles(files: readonly string[]): ResultsFile[] {
  return files.map((file) => {
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`${file}: cannot read (${(e as Error).message})`);
    }
    const rows = parseResultsCsv(content, file);
    rows.forEach((row, i) => {
      const where = `${file}: row ${i + 1}`;
      if (!KINDS.includes(row.kind)) throw new Error(`${where}: kind "${row.kind}" is not one of ${KINDS.join(', ')}`);
      if (!row.device) throw new Error(`${where}: no device (reports group by it)`);
      for (const column of NUMERIC_COLUMNS) {
        if (row[column] !== '' && !Number.isFinite(Number(row[column]))) throw new Error(`${where}: ${column} "${row[column]}" is not a number`);
      }
    });
    return { file, rows };
  });
}

/** The rows of all files, grouped by their device column, devices in name order. */
export function groupByDevice(files: readonly ResultsFile[]): DeviceResults[] {
  const byDevice = new Map<string, { rows: AnyResultRow[]; sources: Set<string> }>();
  for (const { file, rows } of files) {
    for (const row of rows) {
      const group = byDevice.get(row.device) ?? { rows: [], sources: new Set<string>() };
      group.rows.push(row);
      group.sources.add(file);
      byDevice.set(row.device, group);
    }
  }
  return [...byDevice]
    .sort(([a], [b]) => compareText(a, b))
    .map(([device, { rows, sources }]) => ({
      device,
      adapters: distinct(rows.map((r) => text(r.adapter))),
      commits: distinct(rows.map((r) => text(r.commit))),
      dates: distinct(rows.map((r) => text(r.date).slice(0, 10))).sort(compareText),
      sources: [...sources],
      rows,
    }));
}

/** Finds, reads and merges the results under `root`; writes leaderboard.md and index.html into `out`. */
export function writeLeaderboard(root: string, out: string): { files: string[]; resultFiles: string[]; devices: DeviceResults[] } {
  const resultFiles = findResultFiles(root);
  const devices = groupByDevice(readResultFiles(resultFiles));
  // Links are relative to the pages, so the folder can be moved or served as it is.
  const link = (file: string) => relative(resolve(out), resolve(file)).split(sep).join('/');
  const markdownPath = join(out, 'leaderboard.md');
  const htmlPath = join(out, 'index.html');
  writeFileAtomic(markdownPath, leaderboardMarkdown(devices, link));
  writeFileAtomic(htmlPath, leaderboardHtml(devices, link));
  return { files: [markdownPath, htmlPath], resultFiles, devices };
}

/** leaderboard.md: per device its adapter, commits, dates and sources, then the tables. */
export function leaderboardMarkdown(devices: readonly DeviceResults[], link: (file: string) => string = (f) => f): string {
  const lines = ['# Benchmark leaderboard', ''];
  if (devices.length === 0) {
    lines.push('No results yet: no results.csv with result rows was found.', '');
    return lines.join('\n');
  }
  lines.push(
    `Every results.csv found, merged and grouped by device (${devices.length} device${devices.length === 1 ? '' : 's'}). Plots are in [index.html](index.html).`,
    '',
  );
  for (const d of devices) {
    lines.push(
      `## ${escapeMarkdown(d.device)}`,
      '',
      `- Adapter: ${escapeMarkdown(d.adapters.join('; ') || 'unknown')}`,
      `- Commits: ${escapeMarkdown(d.commits.join(', ') || 'unknown')}`,
      `- Dates: ${escapeMarkdown(d.dates.join(', ') || 'unknown')}`,
      `- Sources: ${d.sources.map((f) => `[${escapeMarkdown(link(f))}](${encodeURI(link(f))})`).join(', ')}`,
      '',
    );
    for (const t of resultTables(d.rows, { runColumns: true })) lines.push(tableToMarkdown(t));
  }
  return lines.join('\n');
}

/** index.html: the same content as leaderboard.md, with each device's plots inlined. */
export function leaderboardHtml(devices: readonly DeviceResults[], link: (file: string) => string = (f) => f): string {
  const body: string[] = [];
  if (devices.length === 0) {
    body.push('<p class="empty">No results yet: no results.csv with result rows was found.</p>');
  } else {
    body.push(
      `<p>Every results.csv found, merged and grouped by device (${devices.length} device${devices.length === 1 ? '' : 's'}).</p>`,
      `<nav aria-label="Devices"><ul>${devices.map((d, i) => `<li><a href="#device-${i}">${escapeXml(d.device)}</a></li>`).join('')}</ul></nav>`,
    );
  }
  devices.forEach((d, i) => {
    const id = `device-${i}`;
    body.push(
      `<section id="${id}" aria-labelledby="${id}-heading">`,
      `<h2 id="${id}-heading">${escapeXml(d.device)}</h2>`,
      '<dl>',
      `<dt>Adapter</dt><dd>${escapeXml(d.adapters.join('; ') || 'unknown')}</dd>`,
      `<dt>Commits</dt><dd>${escapeXml(d.commits.join(', ') || 'unknown')}</dd>`,
      `<dt>Dates</dt><dd>${escapeXml(d.dates.join(', ') || 'unknown')}</dd>`,
      `<dt>Sources</dt><dd>${d.sources.map((f) => `<a href="${escapeXml(encodeURI(link(f)))}">${escapeXml(link(f))}</a>`).join(', ')}</dd>`,
      '</dl>',
      '<div class="plots">',
      `<figure>${throughputPlot(d.rows, { id: `${id}-throughput`, title: `Throughput vs sequence length: ${d.device}` })}</figure>`,
      `<figure>${memoryPlot(d.rows, { id: `${id}-memory`, title: `Peak memory vs batch size: ${d.device}` })}</figure>`,
      '</div>',
      ...resultTables(d.rows, { runColumns: true }).map((t) => `<div class="table-scroll">\n${tableToHtml(t)}</div>`),
      '</section>',
    );
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Benchmark leaderboard</title>
<style>
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111; background: #fafafa; margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1400px; }
  h1 { margin-bottom: 0.25rem; }
  section { border-top: 1px solid #ccc; margin-top: 2rem; }
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
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  tbody tr:nth-child(even) { background: #f7f7f7; }
  .empty { font-size: 1.1rem; }
</style>
</head>
<body>
<h1>Benchmark leaderboard</h1>
${body.join('\n')}
</body>
</html>
`;
}
