// The report of one benchmark run, in its own folder: results.csv (the record), summary.md (what ran and
// the tables) and the plots as SVG files.
import { join } from 'node:path';
import { type ResultRow, resultsToCsv } from '../benchmarks/results.ts';
import { type AnyResultRow, distinct, escapeMarkdown, formatBytes, text, writeFileAtomic } from './format.ts';
import { memoryPlot, throughputPlot } from './plots.ts';
import { type Table, peerRatioTables, resultTables, tableToMarkdown } from './tables.ts';

export interface RunReportMeta {
  title: string;
  /** the command line that produced the rows */
  command: string;
  /** what did not run and why (a peer that was not available, a skipped workload) */
  notes?: string[];
}

/**
 * Writes results.csv, summary.md, throughput.svg, memory.svg (measured) and, where the run searched for the largest
 * batch, memory-planned.svg into `dir` (created if missing), each atomically.
 */
export function writeRunReport(dir: string, rows: ResultRow[], meta: RunReportMeta): { files: string[] } {
  const contents: [string, string][] = [
    ['results.csv', resultsToCsv(rows)],
    ['throughput.svg', throughputPlot(rows)],
    ['memory.svg', memoryPlot(rows)],
    ...(hasPlannedMemory(rows) ? [['memory-planned.svg', memoryPlot(rows, { planned: true })] as [string, string]] : []),
    // Last: a summary on disk means everything it links to is there too.
    ['summary.md', runSummaryMarkdown(rows, meta)],
  ];
  const files = contents.map(([name, content]) => {
    const path = join(dir, name);
    writeFileAtomic(path, content);
    return path;
  });
  return { files };
}

function hasPlannedMemory(rows: readonly AnyResultRow[]): boolean {
  return rows.some((r) => r.kind === 'max_batch' && r.peak_bytes !== null && r.peak_bytes !== '');
}

/** The tables of one run (what `npm run bench` prints): resultTables, and after the model table each backend relative to the ONNX Runtime peer. */
export function runTables(rows: readonly AnyResultRow[]): Table[] {
  const tables = resultTables(rows);
  // Peer rows are model rows, so the model table is there, first.
  tables.splice(1, 0, ...peerRatioTables(rows));
  return tables;
}

/** summary.md: what ran (device and adapter, commit, date, command), a table per kind of row, links to the plots. */
export function runSummaryMarkdown(rows: readonly AnyResultRow[], meta: RunReportMeta): string {
  const values = (column: keyof AnyResultRow) => distinct(rows.map((r) => text(r[column])));
  const listed = (column: keyof AnyResultRow) => escapeMarkdown(values(column).join(', ') || 'unknown');
  const devices = distinct(rows.map((r) => [text(r.device), text(r.adapter)].filter(Boolean).join(': ')));
  const kinds = ['model', 'kernel', 'max_batch'].map((k) => `${rows.filter((r) => r.kind === k).length} ${k}`).join(', ');
  const fence = '`'.repeat(Math.max(3, ...(meta.command.match(/`+/g) ?? []).map((run) => run.length + 1)));

  const lines = [
    `# ${escapeMarkdown(meta.title)}`,
    '',
    '## What ran',
    '',
    `- Device: ${escapeMarkdown(devices.join('; ') || 'unknown')}`,
    `- Commit: ${listed('commit')}`,
    `- Date: ${listed('date')}`,
    `- CPU: ${listed('cpu')}; memory: ${escapeMarkdown(values('memory_bytes').filter(Boolean).map((b) => formatBytes(Number(b))).join(', ') || 'unknown')}; OS: ${listed('os')}`,
    `- Runtime: ${listed('runtime')}`,
    `- Versions: ${listed('versions')}`,
    ...(values('features').some(Boolean) ? [`- WebGPU features: ${escapeMarkdown(values('features').filter(Boolean).join('; '))}`] : []),
    `- Rows: ${rows.length} (${kinds}); the record is [results.csv](results.csv)`,
    '- Command:',
    '',
    `${fence}sh`,
    meta.command,
    fence,
    '',
    ...(meta.notes?.length ? ['## Notes', '', ...meta.notes.map((n) => `- ${escapeMarkdown(n)}`), ''] : []),
    '## Results',
    '',
  ];
  const tables = runTables(rows);
  if (tables.length === 0) lines.push('No results.', '');
  for (const t of tables) lines.push(tableToMarkdown(t));
  if (tables.length > 0) {
    const vsPeer = peerRatioTables(rows).length ? ' "vs peer" and the tables after the model table are tokens/s over the ONNX Runtime peer\'s on the same workload (2.00× is twice the peer\'s).' : '';
    lines.push(`tokens/s is the median of the warm runs; "spread" is how far apart they were, (max − min) / median.${vsPeer} Each row's times, cold start (load_s, first_s) and note are in results.csv.`, '');
  }
  lines.push('## Plots', '', '![Throughput vs sequence length](throughput.svg)', '', '![Measured peak memory vs batch size](memory.svg)', '');
  if (hasPlannedMemory(rows)) lines.push('![Planned peak memory of the largest batch that fits](memory-planned.svg)', '');
  return lines.join('\n');
}
