// Reports from synthetic result rows in temporary folders: the SVG plots, one run's report folder, the
// leaderboard merged from several runs (and its command line), and the leaderboard page in headless Chromium.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULT_COLUMNS, type ResultRow, parseResultsCsv, resultRow, resultsToCsv } from '../benchmarks/results.ts';
import { formatRatio, writeFileAtomic } from '../reports/format.ts';
import { main } from '../reports/generate.ts';
import { findResultFiles, readResultFiles, writeLeaderboard } from '../reports/leaderboard.ts';
import { memoryPlot, memorySeries, throughputPlot, throughputSeries } from '../reports/plots.ts';
import { writeRunReport } from '../reports/run-report.ts';
import { type StaticServer, launchChromium, plotLayout, serve } from './browser/chromium.ts';
import { tempDir } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');

const H100 = { date: '2026-11-26T10:00:00Z', commit: 'abc1234', device: 'nvidia-h100', adapter: 'nvidia / hopper / NVIDIA H100', runtime: 'node 20.19.0', versions: 'webgpu 0.3.10', config: 'base', dtype: 'fp32', runs: 3 };
const CPU = { ...H100, date: '2026-11-27T08:30:00Z', commit: 'def5678', device: 'cpu-2x-epyc', adapter: 'AMD EPYC 7B13' };

/** Model rows at 128, 512 and 2048 tokens per sequence (8 sequences each) for webgpu flash/padded and torch sdpa. */
function modelRows(base: Partial<ResultRow>, speedup = 1): ResultRow[] {
  const rows: ResultRow[] = [];
  for (const [backend, variant, tokensPerSecond] of [['webgpu', 'flash', 40000], ['webgpu', 'padded', 20000], ['torch', 'sdpa', 30000]] as const) {
    for (const length of [128, 512, 2048]) {
      const tokens = 8 * length;
      const rate = tokensPerSecond * speedup;
      rows.push(resultRow({ ...base, kind: 'model', name: `${length}x8`, backend, variant, sequences: 8, tokens, median_s: tokens / rate, min_s: (0.9 * tokens) / rate, max_s: (1.1 * tokens) / rate, tokens_per_s: rate, peak_bytes: backend === 'webgpu' ? tokens * 16384 : null }));
    }
  }
  return rows;
}

function kernelRows(base: Partial<ResultRow>): ResultRow[] {
  return [
    resultRow({ ...base, kind: 'kernel', name: 'gemm', backend: 'webgpu', variant: 'naive', runs: 10, median_s: 0.004, min_s: 0.0039, max_s: 0.0042, gflop_per_s: 1250, gb_per_s: 75, note: '4096x768x768' }),
    resultRow({ ...base, kind: 'kernel', name: 'gemm', backend: 'webgpu', variant: 'tiled', runs: 10, median_s: 0.001, min_s: 0.00098, max_s: 0.0011, gflop_per_s: 5000, gb_per_s: 300, note: '4096x768x768' }),
  ];
}

function maxBatchRows(base: Partial<ResultRow>): ResultRow[] {
  return [
    resultRow({ ...base, kind: 'max_batch', name: 'fixed_short', backend: 'webgpu', variant: 'flash', sequences: 256, tokens: 131072, peak_bytes: 70 * 2 ** 30 }),
    resultRow({ ...base, kind: 'max_batch', name: 'fixed_short', backend: 'webgpu', variant: 'padded', sequences: 128, tokens: 65536, peak_bytes: 71 * 2 ** 30 }),
  ];
}

const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;

/** The data rows of the markdown table that follows `caption` (up to the next blank line). */
function markdownTableRows(markdown: string, caption: string): string[][] {
  const lines = markdown.slice(markdown.indexOf(`**${caption}**`)).split('\n');
  const table: string[] = [];
  for (const line of lines.slice(2)) {
    if (!line.startsWith('|')) break;
    table.push(line);
  }
  return table.slice(2).map((line) => line.slice(2, -2).split(' | '));
}

describe('plots', () => {
  it('draws one line per backend, variant and dtype, with axes, ticks, legend and accessible text', () => {
    const svg = throughputPlot(modelRows(H100));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toMatch(/role="img" aria-labelledby="throughput-title throughput-desc"/);
    expect(svg).toContain('<title id="throughput-title">Throughput vs sequence length</title>');
    expect(svg).toMatch(/<desc id="throughput-desc">[^<]*3 series: torch sdpa fp32 \(3 points/);
    // Three series of three points: three lines; each series its own marker (circle, square, triangle), on its
    // three points and in its legend entry.
    expect(count(svg, /<polyline /g)).toBe(3);
    expect([...svg.matchAll(/data-marker="([a-z-]+)"/g)].map((m) => m[1])).toEqual(['circle', 'square', 'triangle']);
    expect(count(svg, /<circle /g)).toBe(3 + 1);
    expect(count(svg, /<rect x=/g)).toBe(3 + 1);
    // log2 x ticks at powers of two around 128..2048; log10 y ticks at 1, 2 and 5 times powers of ten around
    // 20k..40k (no zero on a log axis); both axis labels.
    for (const tick of ['>128<', '>256<', '>512<', '>1024<', '>2048<', '>10k<', '>20k<', '>50k<', '>100k<']) expect(svg).toContain(tick);
    expect(svg).not.toContain('>0<');
    expect(svg).toContain('mean real tokens per sequence (log2)');
    expect(svg).toContain('tokens / s (log10)');
    // Legend in a stable (sorted) order.
    const legend = svg.slice(svg.indexOf('class="legend"'));
    const labels = [...legend.matchAll(/<text [^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(labels).toEqual(['torch sdpa fp32', 'webgpu flash fp32', 'webgpu padded fp32']);
  });

  it('gives 24 series 24 different colour and marker pairs, and backends 100x apart their own decades', () => {
    const rows = Array.from({ length: 24 }, (_, i) => resultRow({ ...H100, kind: 'model', name: '512x8', backend: `b${String(i).padStart(2, '0')}`, variant: 'v', sequences: 8, tokens: 4096, tokens_per_s: 10 ** (1 + (i % 4)) }));
    const svg = throughputPlot(rows);
    const styles = [...svg.matchAll(/<g class="series" fill="(#[0-9A-F]+)" stroke="#[0-9A-F]+" data-marker="([a-z-]+)">/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(styles).toHaveLength(24);
    expect(new Set(styles).size).toBe(24);
    for (const tick of ['>10<', '>100<', '>1k<', '>10k<']) expect(svg).toContain(tick);
  });

  it('is the same for the same rows in any order', () => {
    const rows = [...modelRows(H100), ...maxBatchRows(H100)];
    const shuffled = [...rows].reverse().sort((a, b) => String(a.variant).localeCompare(String(b.variant)));
    expect(throughputPlot(shuffled)).toBe(throughputPlot(rows));
    expect(memoryPlot(shuffled)).toBe(memoryPlot(rows));
  });

  it('uses tokens / sequences as x, and names the config only when several are present', () => {
    const rows = [resultRow({ ...H100, kind: 'model', backend: 'webgpu', variant: 'flash', sequences: 4, tokens: 1000, tokens_per_s: 5000 })];
    expect(throughputSeries(rows)).toEqual([{ label: 'webgpu flash fp32', points: [{ x: 250, y: 5000 }] }]);
    const twoConfigs = [...rows, resultRow({ ...H100, config: 'small', kind: 'model', backend: 'webgpu', variant: 'flash', sequences: 4, tokens: 1000, tokens_per_s: 9000 })];
    expect(throughputSeries(twoConfigs).map((s) => s.label)).toEqual(['webgpu flash fp32 base', 'webgpu flash fp32 small']);
  });

  it('plots measured memory (model rows) and planned memory (max batch rows) apart, a series per backend, variant and workload', () => {
    const rows = [...modelRows(H100), ...maxBatchRows(H100), ...kernelRows(H100)];
    expect(memorySeries(rows).map((s) => s.label)).toEqual(['webgpu flash 128x8', 'webgpu flash 2048x8', 'webgpu flash 512x8', 'webgpu flash fixed_short', 'webgpu padded 128x8', 'webgpu padded 2048x8', 'webgpu padded 512x8', 'webgpu padded fixed_short']);
    const measured = memoryPlot(rows);
    expect(measured).toContain('<title id="memory-title">Measured peak memory vs batch size</title>');
    expect(measured).toContain('peak memory (MiB)'); // the model rows' 16-256 MiB, not the planned 70 GiB
    expect(measured).toContain('sequences per batch');
    expect(measured).not.toContain('fixed_short');
    const planned = memoryPlot(rows, { planned: true });
    expect(planned).toContain('<title id="memory-planned-title">Planned peak memory of the largest batch that fits</title>');
    expect(planned).toContain('peak memory (GiB)');
    expect(count(planned, /<g class="series"/g)).toBe(2);
    expect(planned).toContain('webgpu flash fixed_short');
  });

  it('draws a single point as a marker with axes around it', () => {
    const svg = throughputPlot([resultRow({ ...H100, kind: 'model', backend: 'webgpu', variant: 'flash', sequences: 1, tokens: 512, tokens_per_s: 1234 })]);
    expect(count(svg, /<polyline /g)).toBe(0);
    expect(count(svg, /<circle /g)).toBe(2); // the point and its legend marker
    for (const tick of ['>256<', '>512<', '>1024<']) expect(svg).toContain(tick);
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it('skips rows with missing values, and says "no data" when nothing is left', () => {
    const rows = [
      resultRow({ ...H100, kind: 'model', backend: 'webgpu', variant: 'flash', sequences: 8, tokens: 4096, tokens_per_s: null }),
      resultRow({ ...H100, kind: 'model', backend: 'webgpu', variant: 'flash', sequences: null, tokens: 4096, tokens_per_s: 100 }),
      resultRow({ ...H100, kind: 'model', backend: 'torch', variant: 'sdpa', sequences: 8, tokens: 4096, tokens_per_s: 100 }),
    ];
    expect(throughputSeries(rows)).toEqual([{ label: 'torch sdpa fp32', points: [{ x: 512, y: 100 }] }]);
    expect(memorySeries(rows)).toEqual([]);
    for (const svg of [memoryPlot(rows), throughputPlot([]), memoryPlot([])]) {
      expect(svg).toContain('>no data<');
      expect(svg).toMatch(/<title id="[a-z]+-title">/);
      expect(svg).not.toMatch(/<circle|<polyline/);
    }
  });

  it('escapes text in labels, titles and ids', () => {
    const rows = [resultRow({ ...H100, kind: 'model', backend: `<script>&"x'`, variant: 'a<b', sequences: 2, tokens: 256, tokens_per_s: 10, peak_bytes: 1024 })];
    const svg = throughputPlot(rows, { id: 'a"b c', title: 'Tom & "Jerry" <1>' });
    expect(svg).not.toContain('<script');
    expect(svg).toContain('&lt;script&gt;&amp;&quot;x&#39; a&lt;b fp32');
    expect(svg).toContain('Tom &amp; &quot;Jerry&quot; &lt;1&gt;');
    expect(svg).toContain('id="a-b-c-title"');
    expect(memoryPlot(rows)).not.toContain('<script');
  });
});

describe('run report', () => {
  const rows = [...modelRows(H100), ...kernelRows(H100), ...maxBatchRows(H100)];

  it('writes results.csv, summary.md and the plots into a new folder, and the CSV round-trips', () => {
    const dir = join(tempDir(), 'runs', '2026-11-26-nvidia-h100');
    const { files } = writeRunReport(dir, rows, { title: 'Benchmark on nvidia-h100', command: 'npm run bench -- --config base --backends webgpu,torch' });
    expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual(['memory-planned.svg', 'memory.svg', 'results.csv', 'summary.md', 'throughput.svg']);
    expect(readdirSync(dir).sort()).toEqual(['memory-planned.svg', 'memory.svg', 'results.csv', 'summary.md', 'throughput.svg']); // no temp files left
    const parsed = parseResultsCsv(readFileSync(join(dir, 'results.csv'), 'utf8'), 'results.csv');
    expect(parsed).toHaveLength(rows.length);
    parsed.forEach((row, i) => {
      for (const column of RESULT_COLUMNS) {
        const written = rows[i][column];
        if (typeof written === 'number') expect(Number(row[column]), `${column} of row ${i}`).toBeCloseTo(written, 4);
        else expect(row[column], `${column} of row ${i}`).toBe(written ?? '');
      }
    });
    expect(readFileSync(join(dir, 'throughput.svg'), 'utf8')).toBe(throughputPlot(rows));
    expect(readFileSync(join(dir, 'memory.svg'), 'utf8')).toBe(memoryPlot(rows));
    expect(readFileSync(join(dir, 'memory-planned.svg'), 'utf8')).toBe(memoryPlot(rows, { planned: true }));
  });

  it('summarizes what ran, a table per kind with ratios, and links the plots', () => {
    const dir = tempDir();
    writeRunReport(dir, rows, { title: 'Benchmark on nvidia-h100', command: 'npm run bench -- --config base' });
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    expect(summary).toMatch(/^# Benchmark on nvidia-h100\n/);
    for (const text of ['nvidia-h100: nvidia / hopper / NVIDIA H100', 'Commit: abc1234', 'Date: 2026-11-26T10:00:00Z', 'node 20.19.0', 'webgpu 0.3.10', 'npm run bench -- --config base', '(throughput.svg)', '(memory.svg)', '(memory-planned.svg)', '[results.csv](results.csv)']) {
      expect(summary).toContain(text);
    }
    const models = markdownTableRows(summary, 'Model forward passes (real tokens per second)');
    expect(models).toHaveLength(9);
    // The columns a reader compares; sorted by workload (numbers as numbers), fastest first.
    expect(summary).toContain('| backend | variant | dtype | workload | tokens/s | spread | vs peer | peak memory |');
    expect(models.map((r) => [r[0], r[1], r[3], r[4], r[5]]).slice(0, 4)).toEqual([
      ['webgpu', 'flash', '128x8', '40,000', '20%'],
      ['torch', 'sdpa', '128x8', '30,000', '20%'],
      ['webgpu', 'padded', '128x8', '20,000', '20%'],
      ['webgpu', 'flash', '512x8', '40,000', '20%'],
    ]);
    expect(models[0][6]).toBe(''); // no peer in these rows
    expect(models[0][7]).toBe('16.0 MiB');
    expect(models[2][7]).toBe('16.0 MiB');
    expect(models[1][7]).toBe(''); // torch rows carry no peak here
    const kernels = markdownTableRows(summary, 'Kernels');
    expect(kernels.map((r) => [r[1], r[2], r[3], r[4], r[5], r[6]])).toEqual([
      ['tiled', '4096x768x768', '0.001 (0.00098–0.0011)', '5,000', '300', '1.00×'],
      ['naive', '4096x768x768', '0.004 (0.0039–0.0042)', '1,250', '75', '0.25×'],
    ]);
    const batches = markdownTableRows(summary, 'Largest batch that fits');
    expect(batches.map((r) => [r[1], r[5], r[7], r[8]])).toEqual([
      ['flash', '256', '70.0 GiB', '1.00×'],
      ['padded', '128', '71.0 GiB', '0.50×'],
    ]);
  });

  it('gives each backend relative to the ONNX Runtime peer, a column per workload, after the model table', () => {
    // The peer at 200,000 tokens/s on 128x8 and 512x8 only: 2048x8 has no peer row, so no column.
    const peer = (name: string) => resultRow({ ...H100, kind: 'model', name, backend: 'transformersjs', variant: 'onnxruntime-cpu', sequences: 8, tokens: 1024, median_s: 1024 / 200000, tokens_per_s: 200000 });
    const dir = tempDir();
    writeRunReport(dir, [...modelRows(H100), peer('128x8'), peer('512x8')], { title: 'With the peer', command: 'npm run bench' });
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    const caption = 'vs ONNX Runtime CPU (tokens/s over transformersjs onnxruntime-cpu on the same workload, config and dtype; over its fp32 where it has no row of that dtype)';
    expect(summary.indexOf(caption)).toBeGreaterThan(summary.indexOf('Model forward passes'));
    expect(summary).toContain('| backend | variant | config | dtype | peer dtype | 128x8 | 512x8 |');
    expect(markdownTableRows(summary, caption)).toEqual([
      ['webgpu', 'flash', 'base', 'fp32', 'fp32', '0.20×', '0.20×'],
      ['torch', 'sdpa', 'base', 'fp32', 'fp32', '0.15×', '0.15×'],
      ['webgpu', 'padded', 'base', 'fp32', 'fp32', '0.10×', '0.10×'],
    ]);
    // the model table's "vs peer": the same ratio where the workload has a peer row, none where it has not
    const models = markdownTableRows(summary, 'Model forward passes (real tokens per second)');
    expect(models.map((r) => [r[0], r[1], r[3], r[6]])).toEqual([
      ['transformersjs', 'onnxruntime-cpu', '128x8', ''],
      ['webgpu', 'flash', '128x8', '0.20×'],
      ['torch', 'sdpa', '128x8', '0.15×'],
      ['webgpu', 'padded', '128x8', '0.10×'],
      ['transformersjs', 'onnxruntime-cpu', '512x8', ''],
      ['webgpu', 'flash', '512x8', '0.20×'],
      ['torch', 'sdpa', '512x8', '0.15×'],
      ['webgpu', 'padded', '512x8', '0.10×'],
      ['webgpu', 'flash', '2048x8', ''],
      ['torch', 'sdpa', '2048x8', ''],
      ['webgpu', 'padded', '2048x8', ''],
    ]);
    // Without a peer row there is no such table.
    writeRunReport(dir, modelRows(H100), { title: 'No peer', command: 'npm run bench' });
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).not.toContain('vs ONNX Runtime');
  });

  it('gives a GPU run a "vs ONNX Runtime WebGPU" table: each row over the peer of its dtype, else over its fp32', () => {
    const row = (backend: string, variant: string, dtype: string, tokensPerSecond: number) => resultRow({ ...H100, kind: 'model', name: '512x8', backend, variant, dtype, sequences: 8, tokens: 4096, median_s: 4096 / tokensPerSecond, tokens_per_s: tokensPerSecond });
    const rows = [
      row('transformersjs', 'onnxruntime-webgpu', 'fp32', 100000),
      row('transformersjs', 'onnxruntime-webgpu', 'fp16', 250000),
      row('webgpu', 'flash', 'fp32', 50000),
      row('webgpu', 'flash', 'fp16', 125000),
      row('torch', 'sdpa', 'bf16', 500000),
    ];
    const dir = tempDir();
    writeRunReport(dir, rows, { title: 'GPU', command: 'npm run bench' });
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    const caption = 'vs ONNX Runtime WebGPU (tokens/s over transformersjs onnxruntime-webgpu on the same workload, config and dtype; over its fp32 where it has no row of that dtype)';
    expect(markdownTableRows(summary, caption)).toEqual([
      ['torch', 'sdpa', 'base', 'bf16', 'fp32', '5.00×'],
      ['webgpu', 'flash', 'base', 'fp16', 'fp16', '0.50×'],
      ['webgpu', 'flash', 'base', 'fp32', 'fp32', '0.50×'],
    ]);
    expect(summary).not.toContain('vs ONNX Runtime CPU');
  });

  it('writes a ratio below 0.1 with two significant digits', () => {
    expect([formatRatio(1), formatRatio(0.4321), formatRatio(0.1), formatRatio(0.0112), formatRatio(0.00456)]).toEqual(['1.00×', '0.43×', '0.10×', '0.011×', '0.0046×']);
  });

  it('writes a report that says so when there are no rows', () => {
    const dir = tempDir();
    writeRunReport(dir, [], { title: 'Empty', command: 'npm run bench' });
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toContain('No results.');
    expect(readFileSync(join(dir, 'throughput.svg'), 'utf8')).toContain('no data');
    expect(parseResultsCsv(readFileSync(join(dir, 'results.csv'), 'utf8'), 'results.csv')).toEqual([]);
  });

  it('replaces files whole, and leaves nothing behind when a write fails', () => {
    const dir = tempDir();
    writeFileAtomic(join(dir, 'a.txt'), 'old');
    writeFileAtomic(join(dir, 'a.txt'), 'new');
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('new');
    mkdirSync(join(dir, 'taken'));
    expect(() => writeFileAtomic(join(dir, 'taken'), 'x')).toThrow();
    expect(readdirSync(dir).sort()).toEqual(['a.txt', 'taken']);
  });
});

/** Two runs on the H100 (one a folder deeper) and one on a CPU, as report folders under a new root. */
function resultsTree(): string {
  return writeResultsTree(tempDir());
}

function writeResultsTree(root: string): string {
  writeRunReport(join(root, '2026-11-26-nvidia-h100'), [...modelRows(H100), ...kernelRows(H100)], { title: 'h100 a', command: 'npm run bench' });
  const later = { ...H100, date: '2026-11-28T09:00:00Z', commit: '0123abc' };
  writeRunReport(join(root, 'archive', '2026-11-28-nvidia-h100'), [...modelRows(later, 1.5), ...maxBatchRows(later)], { title: 'h100 b', command: 'npm run bench' });
  writeRunReport(join(root, '2026-11-27-cpu'), modelRows(CPU, 0.01), { title: 'cpu', command: 'npm run bench' });
  return root;
}

/** The part of leaderboard.md about one device. */
function deviceSection(markdown: string, device: string): string {
  const start = markdown.indexOf(`## ${device}\n`);
  expect(start, `section for ${device}`).toBeGreaterThanOrEqual(0);
  const next = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, next < 0 ? undefined : next);
}

describe('leaderboard', () => {
  it('finds every results.csv under the root, recursively', () => {
    const root = resultsTree();
    expect(findResultFiles(root).map((f) => f.slice(root.length + 1))).toEqual(['2026-11-26-nvidia-h100/results.csv', '2026-11-27-cpu/results.csv', 'archive/2026-11-28-nvidia-h100/results.csv']);
  });

  it('merges the folders and groups them by device', () => {
    const root = resultsTree();
    const { files, devices } = writeLeaderboard(root, root);
    expect(files).toEqual([join(root, 'leaderboard.md'), join(root, 'index.html')]);
    expect(devices.map((d) => [d.device, d.rows.length])).toEqual([['cpu-2x-epyc', 9], ['nvidia-h100', 9 + 2 + 9 + 2]]);
    const markdown = readFileSync(join(root, 'leaderboard.md'), 'utf8');
    expect(markdown.indexOf('## cpu-2x-epyc')).toBeLessThan(markdown.indexOf('## nvidia-h100'));

    const h100 = deviceSection(markdown, 'nvidia-h100');
    for (const text of ['Adapter: nvidia / hopper / NVIDIA H100', 'Commits: abc1234, 0123abc', 'Dates: 2026-11-26, 2026-11-28', '(2026-11-26-nvidia-h100/results.csv)', '(archive/2026-11-28-nvidia-h100/results.csv)']) {
      expect(h100).toContain(text);
    }
    expect(h100).not.toContain('def5678');
    const models = markdownTableRows(h100, 'Model forward passes (real tokens per second)');
    expect(models).toHaveLength(18);
    // Sorted by workload, then tokens/s descending across both runs (the later run is 1.5x faster); ties by backend.
    expect(models.slice(0, 6).map((r) => [r[0], r[3], r[4], r[r.length - 2], r[r.length - 1]])).toEqual([
      ['webgpu', '128x8', '60,000', '2026-11-28', '0123abc'],
      ['torch', '128x8', '45,000', '2026-11-28', '0123abc'],
      ['webgpu', '128x8', '40,000', '2026-11-26', 'abc1234'],
      ['torch', '128x8', '30,000', '2026-11-26', 'abc1234'],
      ['webgpu', '128x8', '30,000', '2026-11-28', '0123abc'],
      ['webgpu', '128x8', '20,000', '2026-11-26', 'abc1234'],
    ]);
    expect(markdownTableRows(h100, 'Kernels')).toHaveLength(2);
    expect(markdownTableRows(h100, 'Largest batch that fits')).toHaveLength(2);

    const cpu = deviceSection(markdown, 'cpu-2x-epyc');
    expect(cpu).toContain('Adapter: AMD EPYC 7B13');
    expect(markdownTableRows(cpu, 'Model forward passes (real tokens per second)')).toHaveLength(9);
    expect(cpu).not.toContain('**Kernels**');

    const html = readFileSync(join(root, 'index.html'), 'utf8');
    expect(count(html, /<section /g)).toBe(2);
    expect(count(html, /<svg /g)).toBe(5); // throughput and measured memory each, planned memory for nvidia-h100
    expect(count(html, /<caption>/g)).toBe(4);
    expect(html).not.toMatch(/<script|<link|\ssrc=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('reports a malformed file or row, naming file, row and field, and merges the rest', () => {
    const root = resultsTree();
    const bad = join(root, 'broken', 'results.csv');
    mkdirSync(join(root, 'broken'));
    const rejectedBy = (content: string) => {
      writeFileSync(bad, content);
      return readResultFiles([bad]).rejected.map((r) => `${r.where}: ${r.problems.join('; ')}`);
    };
    expect(rejectedBy('date,commit\n2026-11-26,abc\n')[0]).toMatch(`${bad}: header lacks column(s) device, kind`);
    expect(rejectedBy(`${RESULT_COLUMNS.join(',')}\n"unterminated`)[0]).toMatch(`${bad}: not valid CSV`);
    const good = modelRows(H100)[0];
    expect(rejectedBy(resultsToCsv([good, { ...good, tokens_per_s: 'fast' }, { ...good, kind: 'nonsense' }]))).toEqual([
      `${bad}: row 2: tokens_per_s: must be number`,
      `${bad}: row 3: kind: must be equal to one of the allowed values`,
    ]);
    expect(readResultFiles([bad]).files[0].rows).toHaveLength(1); // the good row is merged

    writeFileSync(bad, resultsToCsv([{ ...good, tokens_per_s: 'fast' }]));
    const errors: string[] = [];
    const lines: string[] = [];
    expect(main(['--root', root], (line) => lines.push(line), (line) => errors.push(line))).toBe(1);
    expect(errors).toEqual([`generate: not merged: ${bad}: row 1: tokens_per_s: must be number`]);
    expect(lines[0]).toBe('4 results.csv file(s), 31 row(s), 2 device(s)'); // the other files still merged
  });

  it('still writes both files when there are no results yet', () => {
    const root = tempDir();
    const out = join(tempDir(), 'site');
    const lines: string[] = [];
    expect(main(['--root', root, '--out', out], (line) => lines.push(line))).toBe(0);
    expect(lines[0]).toBe('0 results.csv file(s), 0 row(s), 0 device(s)');
    expect(readFileSync(join(out, 'leaderboard.md'), 'utf8')).toContain('No results yet');
    expect(readFileSync(join(out, 'index.html'), 'utf8')).toContain('No results yet');
  });

  it('runs from the command line', () => {
    const root = resultsTree();
    const out = join(root, 'site');
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', './bin/register.js', 'reports/generate.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
    const ok = run('--root', root, '--out', out);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('3 results.csv file(s), 31 row(s), 2 device(s)');
    expect(existsSync(join(out, 'leaderboard.md')) && existsSync(join(out, 'index.html'))).toBe(true);
    // Source links are relative to the output folder.
    expect(readFileSync(join(out, 'leaderboard.md'), 'utf8')).toContain('(../2026-11-27-cpu/results.csv)');
    const missing = run('--root', join(root, 'nope'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('no such folder');
    expect(run('--bogus').status).toBe(2);
  });
});

describe('leaderboard page in headless Chromium', () => {
  let server: StaticServer;
  let browser: Browser;
  let root: string;

  beforeAll(async () => {
    // Its own folder: tempDir()'s are removed after each test, and this one serves both tests.
    root = mkdtempSync(join(tmpdir(), 'modernbert-reports-'));
    writeResultsTree(root);
    // A run whose labels need escaping, to check the SVG files parse.
    writeRunReport(join(root, 'odd'), [resultRow({ ...H100, device: 'odd <device>', kind: 'model', name: '128x2', backend: `<b>&"x'`, variant: 'v', sequences: 2, tokens: 256, median_s: 25.6, min_s: 25.6, max_s: 25.6, tokens_per_s: 10, peak_bytes: 4096 })], { title: 'odd', command: 'x' });
    writeLeaderboard(root, root);
    server = await serve((path) => {
      const file = join(root, path === '/' ? 'index.html' : path);
      if (!file.startsWith(root) || !existsSync(file)) return null;
      const type = file.endsWith('.html') ? 'text/html; charset=utf-8' : file.endsWith('.svg') ? 'image/svg+xml' : 'text/plain';
      return { body: readFileSync(file), type };
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('renders every table and plot, with nothing fetched from elsewhere', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${server.url}/`);

    expect(problems).toEqual([]);
    expect(requests.every((url) => url.startsWith(server.url))).toBe(true);
    expect(await page.title()).toBe('Benchmark leaderboard');

    const sections = await page.$$eval('section', (all) => all.map((s) => ({
      heading: s.querySelector('h2')?.textContent,
      tables: [...s.querySelectorAll('table')].map((t) => ({ caption: t.querySelector('caption')?.textContent, rows: t.querySelectorAll('tbody tr').length, columns: t.querySelectorAll('thead th').length })),
    })));
    expect(sections.map((s) => s.heading)).toEqual(['cpu-2x-epyc', 'nvidia-h100', 'odd <device>']);
    expect(sections[1].tables).toEqual([
      { caption: 'Model forward passes (real tokens per second)', rows: 18, columns: 10 },
      { caption: 'Kernels', rows: 2, columns: 9 },
      { caption: 'Largest batch that fits', rows: 2, columns: 12 },
    ]);
    expect(sections[0].tables.map((t) => t.rows)).toEqual([9]);

    // throughput and measured memory per device; planned memory where a run searched for the largest batch (h100)
    const svgs = page.locator('svg');
    expect(await svgs.count()).toBe(7);
    for (let i = 0; i < 7; i++) {
      const box = await svgs.nth(i).boundingBox();
      expect(box && box.width > 100 && box.height > 100, `svg ${i} has a size`).toBe(true);
    }
    // Every plot as drawn: a legend entry per series, and no two legend entries overlapping.
    for (let i = 0; i < 7; i++) {
      const layout = await plotLayout(svgs.nth(i));
      expect(layout.legendEntries, `svg ${i}: a legend entry per series`).toBe(layout.series);
      expect(layout.overlapping, `svg ${i}: overlapping legend entries`).toEqual([]);
    }
    // Lines and markers are laid out inside the plots, and legend text shows.
    const h100Throughput = page.locator('section').nth(1).locator('svg').first();
    expect(await h100Throughput.locator('polyline').count()).toBe(3);
    const marker = await h100Throughput.locator('.series circle, .series rect, .series polygon').first().boundingBox();
    expect(marker && marker.width > 0 && marker.height > 0).toBe(true);
    await expect(h100Throughput.getByText('webgpu flash fp32', { exact: true }).isVisible()).resolves.toBe(true);
    await expect(h100Throughput.getByText('mean real tokens per sequence (log2)').isVisible()).resolves.toBe(true);
    await expect(page.locator('section').nth(2).getByText('<b>&"x\' v fp32', { exact: true }).first().isVisible()).resolves.toBe(true);
    await page.close();
  });

  it('serves SVG files that parse as XML', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    for (const path of ['/odd/throughput.svg', '/odd/memory.svg', '/2026-11-26-nvidia-h100/throughput.svg', '/2026-11-26-nvidia-h100/memory.svg', '/archive/2026-11-28-nvidia-h100/memory-planned.svg']) {
      const result = await page.evaluate(async (url) => {
        const source = await (await fetch(url)).text();
        const doc = new DOMParser().parseFromString(source, 'image/svg+xml');
        return { error: doc.querySelector('parsererror')?.textContent ?? null, root: doc.documentElement.nodeName, title: doc.querySelector('title')?.textContent };
      }, path);
      expect(result, path).toMatchObject({ error: null, root: 'svg' });
      expect(result.title, path).toMatch(/^(Throughput|Measured peak memory|Planned peak memory)/);
    }
    await page.close();
  });
});
