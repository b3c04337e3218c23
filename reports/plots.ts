// SVG line plots of benchmark results as strings, with no plotting library: throughput against sequence
// length (log axes: backends a hundred times apart stay apart), and peak memory against batch size, measured
// (model rows) and planned (the max-batch search) in plots of their own. Each series has its own colour and
// marker, so none hides another.
import { type AnyResultRow, compareText, escapeXml, formatCompact, num, text } from './format.ts';

export interface PlotPoint {
  x: number;
  y: number;
}

export interface PlotSeries {
  label: string;
  points: PlotPoint[];
}

export interface PlotSpec {
  /** prefix of the element ids inside the SVG; give each plot on one page its own */
  id: string;
  title: string;
  /** one sentence for screen readers; the series and their ranges are appended */
  description: string;
  xLabel: string;
  yLabel: string;
  /** log2: ticks at powers of two (sequence lengths); linear: from zero */
  xScale: 'log2' | 'linear';
  /** log10: ticks at 1, 2 and 5 times powers of ten (rates); linear (the default): from zero */
  yScale?: 'log10' | 'linear';
  /** linear x axis ticks at whole numbers only (batch sizes) */
  xIntegers?: boolean;
  series: PlotSeries[];
  /** y tick labels; compact numbers (12k) by default */
  formatY?: (y: number) => string;
}

export interface PlotOptions {
  id?: string;
  title?: string;
}

// Okabe-Ito colors (distinguishable with the common color-vision deficiencies), yellow left out for
// contrast on white, then the same colors dashed; markers cycle on their own count, so colour and marker
// together tell 24 series apart.
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#882255'];
const DASHES = ['', '6 3', '2 3'];
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'triangle-down', 'cross'] as const;

const WIDTH = 720;
const PLOT = { left: 84, right: WIDTH - 28, top: 56, bottom: 356 };
const LEGEND_TOP = PLOT.bottom + 72;
const LEGEND_LINE = 20;
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

/** Tokens/s (log10) against mean real tokens per sequence (log2), one line per backend, variant and dtype (model rows). */
export function throughputPlot(rows: readonly AnyResultRow[], options: PlotOptions = {}): string {
  return renderPlot({
    id: options.id ?? 'throughput',
    title: options.title ?? 'Throughput vs sequence length',
    description: 'Real (non-pad) tokens per second, on a log10 axis, against mean real tokens per sequence, on a log2 axis.',
    xLabel: 'mean real tokens per sequence (log2)',
    yLabel: 'tokens / s (log10)',
    xScale: 'log2',
    yScale: 'log10',
    series: throughputSeries(rows),
  });
}

/** The throughput plot's data: x = tokens / sequences, y = tokens_per_s. */
export function throughputSeries(rows: readonly AnyResultRow[]): PlotSeries[] {
  const models = rows.filter((r) => r.kind === 'model');
  // Different model configs on one line would mix unlike models: name the config when there are several.
  const severalConfigs = new Set(models.map((r) => text(r.config))).size > 1;
  return seriesOf(models, (r) => [r.backend, r.variant, r.dtype, severalConfigs ? r.config : ''], (r) => {
    const tokens = num(r.tokens);
    const sequences = num(r.sequences);
    const y = num(r.tokens_per_s);
    return tokens !== undefined && sequences && y !== undefined ? { x: tokens / sequences, y } : undefined;
  });
}

/**
 * Peak memory against sequences per batch, one line per backend, variant and workload. `measured` (the default):
 * the model rows' peak_bytes (the engine's peak live GPU buffers; a CPU backend's process peak RSS); `planned`:
 * the max-batch rows', the engine's allocation plan for the largest batch that fits.
 */
export function memoryPlot(rows: readonly AnyResultRow[], options: PlotOptions & { planned?: boolean } = {}): string {
  const series = memorySeries(rows.filter((r) => r.kind === (options.planned ? 'max_batch' : 'model')));
  const maxBytes = Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.y)));
  const [unit, scale] = maxBytes >= 2 ** 30 ? ['GiB', 2 ** 30] : ['MiB', 2 ** 20];
  return renderPlot({
    id: options.id ?? (options.planned ? 'memory-planned' : 'memory'),
    title: options.title ?? (options.planned ? 'Planned peak memory of the largest batch that fits' : 'Measured peak memory vs batch size'),
    description: options.planned
      ? `The engine's planned peak of live GPU buffers in ${unit} for the largest batch of each workload that fits, against its number of sequences.`
      : `Measured peak memory in ${unit} (the engine's live GPU buffers; a CPU backend's process peak RSS) against the number of sequences in a batch.`,
    xLabel: 'sequences per batch',
    yLabel: `peak memory (${unit})`,
    xScale: 'linear',
    xIntegers: true,
    series: series.map((s) => ({ label: s.label, points: s.points.map((p) => ({ x: p.x, y: p.y / scale })) })),
    formatY: (y) => String(Number(y.toPrecision(3))),
  });
}

/** The memory plot's data in bytes: x = sequences, y = peak_bytes. */
export function memorySeries(rows: readonly AnyResultRow[]): PlotSeries[] {
  const severalConfigs = new Set(rows.map((r) => text(r.config))).size > 1;
  return seriesOf(rows, (r) => [r.backend, r.variant, r.name, severalConfigs ? r.config : ''], (r) => {
    const x = num(r.sequences);
    const y = num(r.peak_bytes);
    return x !== undefined && y !== undefined ? { x, y } : undefined;
  });
}

/** Groups rows into series by their key cells (the label), skipping rows without a point; sorted for a stable order. */
function seriesOf(
  rows: readonly AnyResultRow[],
  key: (row: AnyResultRow) => (string | number | null)[],
  point: (row: AnyResultRow) => PlotPoint | undefined,
): PlotSeries[] {
  const byLabel = new Map<string, PlotPoint[]>();
  for (const row of rows) {
    const p = point(row);
    if (!p) continue;
    const label = key(row).map(text).filter(Boolean).join(' ') || '(unnamed)';
    byLabel.set(label, [...(byLabel.get(label) ?? []), p]);
  }
  return [...byLabel]
    .sort(([a], [b]) => compareText(a, b))
    .map(([label, points]) => ({ label, points: points.sort((a, b) => a.x - b.x || a.y - b.y) }));
}

/** The SVG of a line plot; with no plottable point, an SVG that says "no data". */
export function renderPlot(spec: PlotSpec): string {
  const id = spec.id.replace(/[^A-Za-z0-9_-]/g, '-');
  const series = spec.series
    .map((s) => ({ ...s, points: s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (spec.yScale === 'log10' ? p.y > 0 : p.y >= 0) && (spec.xScale === 'log2' ? p.x > 0 : p.x >= 0)) }))
    .filter((s) => s.points.length > 0);
  if (series.length === 0) return noDataSvg(id, spec.title);

  const all = series.flatMap((s) => s.points);
  const xAxis = spec.xScale === 'log2' ? log2Axis(all.map((p) => p.x)) : linearAxis(Math.max(...all.map((p) => p.x)), spec.xIntegers ?? false);
  const yAxis = spec.yScale === 'log10' ? log10Axis(all.map((p) => p.y)) : linearAxis(Math.max(...all.map((p) => p.y)), false);
  const px = (x: number) => PLOT.left + xAxis.fraction(x) * (PLOT.right - PLOT.left);
  const py = (y: number) => PLOT.bottom - yAxis.fraction(y) * (PLOT.bottom - PLOT.top);
  const formatY = spec.formatY ?? formatCompact;
  const height = LEGEND_TOP + series.length * LEGEND_LINE + 8;
  const description = `${spec.description} ${series.length} series: ${series
    .map((s) => `${s.label} (${s.points.length} point${s.points.length === 1 ? '' : 's'}, ${formatY(Math.min(...s.points.map((p) => p.y)))} to ${formatY(Math.max(...s.points.map((p) => p.y)))})`)
    .join('; ')}.`;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-labelledby="${id}-title ${id}-desc" font-family="${FONT}" font-size="12">`,
    `<title id="${id}-title">${escapeXml(spec.title)}</title>`,
    `<desc id="${id}-desc">${escapeXml(description)}</desc>`,
    // A white background keeps black text readable where the SVG is shown on a dark page.
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="16" font-weight="600" fill="#111111">${escapeXml(spec.title)}</text>`,
  );

  out.push(`<g class="grid" stroke="#e3e3e3" stroke-width="1">`);
  for (const t of yAxis.ticks) out.push(`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${f(py(t))}" y2="${f(py(t))}"/>`);
  out.push(`</g>`);

  out.push(`<g class="axis x-axis" fill="#333333" stroke="#333333">`, `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${PLOT.bottom}" y2="${PLOT.bottom}"/>`);
  for (const t of xAxis.ticks) {
    out.push(`<line x1="${f(px(t))}" x2="${f(px(t))}" y1="${PLOT.bottom}" y2="${PLOT.bottom + 5}"/>`);
    out.push(`<text x="${f(px(t))}" y="${PLOT.bottom + 19}" text-anchor="middle" stroke="none">${escapeXml(formatX(t))}</text>`);
  }
  out.push(`<text class="axis-label" x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 44}" text-anchor="middle" stroke="none" font-size="13">${escapeXml(spec.xLabel)}</text>`, `</g>`);

  out.push(`<g class="axis y-axis" fill="#333333" stroke="#333333">`, `<line x1="${PLOT.left}" x2="${PLOT.left}" y1="${PLOT.top}" y2="${PLOT.bottom}"/>`);
  for (const t of yAxis.ticks) {
    out.push(`<line x1="${PLOT.left - 5}" x2="${PLOT.left}" y1="${f(py(t))}" y2="${f(py(t))}"/>`);
    out.push(`<text x="${PLOT.left - 9}" y="${f(py(t))}" dy="0.32em" text-anchor="end" stroke="none">${escapeXml(formatY(t))}</text>`);
  }
  const yLabelY = (PLOT.top + PLOT.bottom) / 2;
  out.push(`<text class="axis-label" x="18" y="${yLabelY}" transform="rotate(-90 18 ${yLabelY})" text-anchor="middle" stroke="none" font-size="13">${escapeXml(spec.yLabel)}</text>`, `</g>`);

  series.forEach((s, i) => {
    const { color, dash, marker } = seriesStyle(i);
    const dashAttribute = dash ? ` stroke-dasharray="${dash}"` : '';
    out.push(`<g class="series" fill="${color}" stroke="${color}" data-marker="${marker}">`);
    if (s.points.length > 1) {
      out.push(`<polyline fill="none" stroke-width="2"${dashAttribute} points="${s.points.map((p) => `${f(px(p.x))},${f(py(p.y))}`).join(' ')}"/>`);
    }
    // Each marker says its values on hover and to assistive technology.
    for (const p of s.points) out.push(markerShape(marker, px(p.x), py(p.y), `<title>${escapeXml(`${s.label}: x ${formatX(p.x)}, y ${formatY(p.y)}`)}</title>`));
    out.push(`</g>`);
  });

  out.push(`<g class="legend" font-size="12">`);
  series.forEach((s, i) => {
    const { color, dash, marker } = seriesStyle(i);
    const y = LEGEND_TOP + i * LEGEND_LINE;
    out.push(
      `<g class="legend-entry" fill="${color}" stroke="${color}">`,
      `<line x1="${PLOT.left}" x2="${PLOT.left + 28}" y1="${y}" y2="${y}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      markerShape(marker, PLOT.left + 14, y),
      `<text x="${PLOT.left + 38}" y="${y}" dy="0.32em" fill="#111111" stroke="none">${escapeXml(s.label)}</text>`,
      `</g>`,
    );
  });
  out.push(`</g>`, `</svg>`);
  return out.join('\n') + '\n';
}

function noDataSvg(id: string, title: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="160" viewBox="0 0 ${WIDTH} 160" role="img" aria-labelledby="${id}-title ${id}-desc" font-family="${FONT}">`,
    `<title id="${id}-title">${escapeXml(title)}</title>`,
    `<desc id="${id}-desc">No data to plot.</desc>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="40" text-anchor="middle" font-size="16" font-weight="600" fill="#111111">${escapeXml(title)}</text>`,
    `<text x="${WIDTH / 2}" y="96" text-anchor="middle" font-size="14" fill="#555555">no data</text>`,
    `</svg>`,
  ].join('\n') + '\n';
}

function seriesStyle(index: number): { color: string; dash: string; marker: (typeof MARKERS)[number] } {
  return { color: PALETTE[index % PALETTE.length], dash: DASHES[Math.floor(index / PALETTE.length) % DASHES.length], marker: MARKERS[index % MARKERS.length] };
}

/** A point's marker, about 8 px across, centred on (x, y); `inner` goes inside the element (its tooltip). */
function markerShape(marker: (typeof MARKERS)[number], x: number, y: number, inner = ''): string {
  const element = (name: string, attributes: string) => `<${name} ${attributes}${inner ? `>${inner}</${name}>` : '/>'}`;
  const r = 4;
  switch (marker) {
    case 'circle':
      return element('circle', `cx="${f(x)}" cy="${f(y)}" r="3.5"`);
    case 'square':
      return element('rect', `x="${f(x - 3.5)}" y="${f(y - 3.5)}" width="7" height="7"`);
    case 'triangle':
      return element('polygon', `points="${f(x)},${f(y - r)} ${f(x + r)},${f(y + r * 0.8)} ${f(x - r)},${f(y + r * 0.8)}"`);
    case 'triangle-down':
      return element('polygon', `points="${f(x)},${f(y + r)} ${f(x + r)},${f(y - r * 0.8)} ${f(x - r)},${f(y - r * 0.8)}"`);
    case 'diamond':
      return element('polygon', `points="${f(x)},${f(y - r - 0.5)} ${f(x + r)},${f(y)} ${f(x)},${f(y + r + 0.5)} ${f(x - r)},${f(y)}"`);
    case 'cross':
      return element('path', `d="M${f(x - r)},${f(y - r)}L${f(x + r)},${f(y + r)}M${f(x - r)},${f(y + r)}L${f(x + r)},${f(y - r)}" fill="none" stroke-width="2"`);
  }
}

interface Axis {
  ticks: number[];
  /** where a value falls between the axis ends, 0 to 1 */
  fraction(value: number): number;
}

/** From zero to a round number above `max` (a point never sits on the frame), with about five round steps. */
function linearAxis(max: number, integers: boolean): Axis {
  const top = max > 0 ? max : 1;
  let step = niceStep(top / 5);
  if (integers) step = Math.max(1, step);
  const end = (Math.floor(top / step + 1e-9) + 1) * step;
  const ticks: number[] = [];
  for (let i = 0; i * step <= end + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { ticks, fraction: (v) => v / end };
}

/** 1, 2 or 5 times a power of ten, at least `rough`. */
function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const mantissa = rough / power;
  return (mantissa <= 1 ? 1 : mantissa <= 2 ? 2 : mantissa <= 5 ? 5 : 10) * power;
}

/** Powers of ten around the values, with 2x and 5x between them when they span at most two decades. */
function log10Axis(values: number[]): Axis {
  let lo = Math.floor(Math.log10(Math.min(...values)));
  let hi = Math.ceil(Math.log10(Math.max(...values)));
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) for (const m of hi - lo <= 2 ? [1, 2, 5] : [1]) if (e < hi || m === 1) ticks.push(Number((m * 10 ** e).toPrecision(12)));
  return { ticks, fraction: (v) => (Math.log10(v) - lo) / (hi - lo) };
}

/** Powers of two around the values (a single value gets one power either side), at most about ten ticks. */
function log2Axis(values: number[]): Axis {
  let lo = Math.floor(Math.log2(Math.min(...values)));
  let hi = Math.ceil(Math.log2(Math.max(...values)));
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  const every = Math.ceil((hi - lo + 1) / 10);
  hi = lo + Math.ceil((hi - lo) / every) * every;
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e += every) ticks.push(2 ** e);
  return { ticks, fraction: (v) => (Math.log2(v) - lo) / (hi - lo) };
}

/** x ticks are lengths and batch sizes: whole numbers in full (1024, 8192 rather than 1.02k, 8.19k). */
function formatX(x: number): string {
  return Number.isInteger(x) && x < 1e7 ? String(x) : formatCompact(x);
}

/** Coordinates with one decimal: enough on screen, short in the file. */
function f(n: number): string {
  return String(Math.round(n * 10) / 10);
}
