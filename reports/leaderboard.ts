// The leaderboard: every results.csv and submission (*.results.json) under a folder, checked against the
// results schema, merged and grouped by device (the GPU adapter), as leaderboard.md and a self-contained
// index.html (inline CSS and SVG, no scripts, nothing fetched).
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { RESULT_COLUMNS, type ResultColumn, parseResultsCsv } from '../benchmarks/results.ts';
import { parseSubmission, rowProblems, typedRow } from '../benchmarks/submission.ts';
import { type AnyResultRow, compareText, distinct, escapeMarkdown, escapeXml, formatBytes, text, writeFileAtomic } from './format.ts';
import { memoryPlot, throughputPlot } from './plots.ts';
import { RESULTS_CSS, resultTables, tableToHtml, tableToMarkdown } from './tables.ts';

export interface ResultsFile {
  file: string;
  rows: Record<ResultColumn, string>[];
}

/** A file, or one row of it, that the leaderboard did not merge, and why. */
export interface Rejected {
  /** "FILE" or "FILE: row N" */
  where: string;
  problems: string[];
}

export interface DeviceResults {
  device: string;
  adapters: string[];
  /** what else the rows say about where they ran: CPU, memory, OS, runtime, versions, WebGPU features */
  environment: { label: string; values: string[] }[];
  commits: string[];
  /** days (YYYY-MM-DD), sorted */
  dates: string[];
  /** the result files its rows came from */
  sources: string[];
  rows: AnyResultRow[];
}

/** Result files under `root`, recursively (hidden folders and node_modules left out), in a stable order: every
 * results.csv (npm run bench) and every *.results.json (a submission, as the browser bench page downloads it). */
export function findResultFiles(root: string): string[] {
  const found: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') visit(join(dir, entry.name));
      else if (entry.isFile() && (entry.name === 'results.csv' || entry.name.endsWith('.results.json'))) found.push(join(dir, entry.name));
    }
  };
  visit(root);
  return found.sort(compareText);
}

/**
 * Reads each file and checks every row against the results schema (benchmarks/schema). A row that fails, or a
 * file that cannot be read as a whole, is rejected with its reasons and left out; the rest is merged. A row
 * that an earlier file already gave (the same run's CSV and JSON) is merged once.
 */
export function readResultFiles(files: readonly string[]): { files: ResultsFile[]; rejected: Rejected[] } {
  const rejected: Rejected[] = [];
  const seen = new Set<string>();
  const read: ResultsFile[] = [];
  for (const file of files) {
    let rows: Record<string, unknown>[];
    try {
      const content = readFileSync(file, 'utf8');
      rows = file.endsWith('.json') ? (parseSubmission(content, file).rows as Record<string, unknown>[]) : parseResultsCsv(content, file).map(typedRow);
    } catch (e) {
      const message = (e as Error).message;
      rejected.push({ where: file, problems: [message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message] });
      continue;
    }
    const kept: Record<ResultColumn, string>[] = [];
    rows.forEach((row, i) => {
      const problems = rowProblems(row);
      if (problems.length) return rejected.push({ where: `${file}: row ${i + 1}`, problems });
      const cells = Object.fromEntries(RESULT_COLUMNS.map((c) => [c, row[c] == null ? '' : String(row[c])])) as Record<ResultColumn, string>;
      const identity = RESULT_COLUMNS.map((c) => cells[c]).join('\u0000');
      if (seen.has(identity)) return;
      seen.add(identity);
      kept.push(cells);
    });
    read.push({ file, rows: kept });
  }
  return { files: read, rejected };
}

const ENVIRONMENT: { label: string; column: ResultColumn; format?: (value: string) => string }[] = [
  { label: 'CPU', column: 'cpu' },
  { label: 'Memory', column: 'memory_bytes', format: (v) => formatBytes(Number(v)) },
  { label: 'OS', column: 'os' },
  { label: 'Runtime', column: 'runtime' },
  { label: 'Versions', column: 'versions' },
  { label: 'WebGPU features', column: 'features' },
];

/** The rows of all files, grouped by their device column (the GPU adapter's slug, or the CPU's), devices in name order. */
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
      environment: ENVIRONMENT.map(({ label, column, format }) => ({ label, values: distinct(rows.map((r) => text(r[column]))).filter(Boolean).map(format ?? ((v) => v)) })),
      commits: distinct(rows.map((r) => text(r.commit))),
      dates: distinct(rows.map((r) => text(r.date).slice(0, 10))).sort(compareText),
      sources: [...sources],
      rows,
    }));
}

/** Finds, reads and merges the results under `root`; writes leaderboard.md and index.html into `out`. */
export function writeLeaderboard(root: string, out: string): { files: string[]; resultFiles: string[]; devices: DeviceResults[]; rejected: Rejected[] } {
  const resultFiles = findResultFiles(root);
  const { files: read, rejected } = readResultFiles(resultFiles);
  const devices = groupByDevice(read);
  // Links are relative to the pages, so the folder can be moved or served as it is.
  const link = (file: string) => relative(resolve(out), resolve(file)).split(sep).join('/');
  const markdownPath = join(out, 'leaderboard.md');
  const htmlPath = join(out, 'index.html');
  writeFileAtomic(markdownPath, leaderboardMarkdown(devices, link));
  writeFileAtomic(htmlPath, leaderboardHtml(devices, link));
  return { files: [markdownPath, htmlPath], resultFiles, devices, rejected };
}

/** leaderboard.md: per device its adapter, commits, dates and sources, then the tables. */
export function leaderboardMarkdown(devices: readonly DeviceResults[], link: (file: string) => string = (f) => f): string {
  const lines = ['# Benchmark leaderboard', ''];
  if (devices.length === 0) {
    lines.push('No results yet: no results file with result rows was found.', '');
    return lines.join('\n');
  }
  lines.push(
    `Every result file found, checked, merged and grouped by device (${devices.length} device${devices.length === 1 ? '' : 's'}). Plots are in [index.html](index.html).`,
    '',
  );
  for (const d of devices) {
    lines.push(
      `## ${escapeMarkdown(d.device)}`,
      '',
      `- Adapter: ${escapeMarkdown(d.adapters.join('; ') || 'unknown')}`,
      ...d.environment.filter((e) => e.values.length).map((e) => `- ${e.label}: ${escapeMarkdown(e.values.join('; '))}`),
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
    body.push('<p class="empty">No results yet: no results file with result rows was found.</p>');
  } else {
    body.push(
      `<p>Every result file found, checked, merged and grouped by device (${devices.length} device${devices.length === 1 ? '' : 's'}).</p>`,
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
      ...d.environment.filter((e) => e.values.length).map((e) => `<dt>${escapeXml(e.label)}</dt><dd>${escapeXml(e.values.join('; '))}</dd>`),
      `<dt>Commits</dt><dd>${escapeXml(d.commits.join(', ') || 'unknown')}</dd>`,
      `<dt>Dates</dt><dd>${escapeXml(d.dates.join(', ') || 'unknown')}</dd>`,
      `<dt>Sources</dt><dd>${d.sources.map((f) => `<a href="${escapeXml(encodeURI(link(f)))}">${escapeXml(link(f))}</a>`).join(', ')}</dd>`,
      '</dl>',
      '<div class="plots">',
      `<figure>${throughputPlot(d.rows, { id: `${id}-throughput`, title: `Throughput vs sequence length: ${d.device}` })}</figure>`,
      `<figure>${memoryPlot(d.rows, { id: `${id}-memory`, title: `Measured peak memory vs batch size: ${d.device}` })}</figure>`,
      ...(d.rows.some((r) => r.kind === 'max_batch') ? [`<figure>${memoryPlot(d.rows, { id: `${id}-memory-planned`, title: `Planned peak memory of the largest batch that fits: ${d.device}`, planned: true })}</figure>`] : []),
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
${RESULTS_CSS}
  h1 { margin-bottom: 0.25rem; }
  section { border-top: 1px solid #ccc; margin-top: 2rem; }
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
