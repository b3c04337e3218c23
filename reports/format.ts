// Small helpers the reports share: reading cells of result rows, formatting numbers for people, escaping
// text for HTML/SVG and markdown, and writing files so that a crash never leaves half of one behind.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ResultColumn } from '../benchmarks/results.ts';

/** A result row as written (numbers) or as read back from a CSV (strings); empty cells are '' or null. */
export type AnyResultRow = Readonly<Record<ResultColumn, string | number | null>>;

/** The cell as a finite number, or undefined when it is empty or not a number. */
export function num(value: string | number | null | undefined): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** The cell as text ('' when empty). */
export function text(value: string | number | null | undefined): string {
  return value === null || value === undefined ? '' : String(value);
}

/** Distinct non-empty values in first-seen order. */
export function distinct(values: Iterable<string>): string[] {
  return [...new Set([...values].filter((v) => v !== ''))];
}

/** Plain code-point comparison: the same order on every machine and locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Escapes text for HTML and SVG, in element content and in double- or single-quoted attributes. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Escapes text for a markdown table cell or a line of prose: pipes would split cells, angle brackets open HTML. */
export function escapeMarkdown(value: string): string {
  return value
    .replace(/\r?\n/g, ' ')
    .replace(/[\\`*|[\]]/g, (c) => `\\${c}`)
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** Three significant digits with k/M/G suffixes: for axis ticks (12k, 1.5M). */
export function formatCompact(n: number): string {
  const abs = Math.abs(n);
  for (const [scale, suffix] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) {
    if (abs >= scale) return `${Number((n / scale).toPrecision(3))}${suffix}`;
  }
  return String(Number(n.toPrecision(3)));
}

/** Seconds with three significant digits (0.0123, 4.56, 123). */
export function formatSeconds(s: number): string {
  return s >= 100 ? s.toFixed(0) : String(Number(s.toPrecision(3)));
}

/** A rate for a table: whole numbers with thousands separators from 100 up, three significant digits below. */
export function formatRate(n: number): string {
  return Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : String(Number(n.toPrecision(3)));
}

/** An integer count with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** Bytes in MiB or GiB, one decimal. */
export function formatBytes(bytes: number): string {
  return bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${(bytes / MiB).toFixed(1)} MiB`;
}

/** A ratio such as 0.43× (two decimals); below 0.1 two significant digits (0.011×), so a 90× gap does not read 0.01×. */
export function formatRatio(ratio: number): string {
  return `${ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2)}×`;
}

/**
 * Writes `content` to a temporary file beside `path`, then renames it over `path`: a rename within one
 * directory is atomic, so readers (and a crash) see the old file or the new one, never a partial one.
 */
export function writeFileAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(temp, content);
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
}
