// The results schema (benchmarks/schema): rows and submissions are checked when the leaderboard merges them;
// rows that fail are reported with the field at fault and left out, the rest merged.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RESULT_COLUMNS, parseResultsCsv, resultRow, resultsToCsv } from '../benchmarks/results.ts';
import { makeSubmission, parseSubmission, rowProblems, typedRow } from '../benchmarks/submission.ts';
import rowSchema from '../benchmarks/schema/result-row.schema.json' with { type: 'json' };
import { main } from '../reports/generate.ts';
import { readResultFiles } from '../reports/leaderboard.ts';
import { tempDir } from './helpers.ts';

const ROW = resultRow({ date: '2026-12-05T10:00:00.000Z', commit: 'abc1234', device: 'apple-metal-3', kind: 'model', name: '512x8', backend: 'webgpu', variant: 'flash', config: 'base', dtype: 'fp32', sequences: 8, tokens: 4096, runs: 5, median_s: 0.1, min_s: 0.09, max_s: 0.12, tokens_per_s: 40960, adapter: 'apple / metal-3 / Apple M2', runtime: 'Chrome 131', load_s: 0.8, first_s: 0.4 });
const ENVIRONMENT = { device: 'apple-metal-3', adapter: 'apple / metal-3 / Apple M2', runtime: 'Chrome 131' };

describe('results schema', () => {
  it('describes exactly the result columns', () => {
    expect(Object.keys(rowSchema.properties)).toEqual([...RESULT_COLUMNS]);
  });

  it('accepts the rows the harness writes, and results.csv files written before the newer columns', () => {
    expect(rowProblems(typedRow(parseResultsCsv(resultsToCsv([ROW]), 'x.csv')[0]))).toEqual([]);
    // Committed before load_s, first_s, features, cpu, memory_bytes and os existed.
    const old = 'reports/2026-11-26-cpu-2x-amd-epyc/results.csv';
    const rows = parseResultsCsv(readFileSync(old, 'utf8'), old);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(rowProblems(typedRow(row)), `${row.backend} ${row.name}`).toEqual([]);
  });

  it('names each field at fault, including what the schema cannot say', () => {
    expect(rowProblems({ ...ROW, dtype: 'fp8', sequences: 0, speed: 'fast' })).toEqual(['speed: is not a result column', 'dtype: must be equal to one of the allowed values', 'sequences: must be >= 1']);
    expect(rowProblems({ ...ROW, median_s: null })).toEqual(['median_s: must be number']); // a timed row has its timings
    expect(rowProblems({ ...ROW, median_s: 0.2, tokens_per_s: 20480 })).toEqual(['median_s: 0.2 is not between min_s 0.09 and max_s 0.12']);
    expect(rowProblems({ ...ROW, tokens_per_s: 80000 })).toEqual(['tokens_per_s: 80000 is not tokens / median_s (40960)']);
  });

  it('reads a submission, and rejects a file that is not one, naming the file and field', () => {
    const text = JSON.stringify(makeSubmission([ROW], ENVIRONMENT, 'test'));
    expect(parseSubmission(text, 'a.results.json').rows).toEqual([ROW]);
    expect(() => parseSubmission('{', 'a.results.json')).toThrow(/^a\.results\.json: not valid JSON/);
    expect(() => parseSubmission(JSON.stringify({ format: 'other', version: 1, environment: ENVIRONMENT, rows: [] }), 'a.results.json')).toThrow('a.results.json: not a modernbert-ts-results submission: format: must be equal to constant');
    expect(() => parseSubmission(JSON.stringify({ ...makeSubmission([], ENVIRONMENT, 'test'), environment: { device: '' } }), 'a.results.json')).toThrow(/environment: must have required property 'adapter'.*environment\.device: must NOT have fewer than 1 characters/);
  });

  it('merges submissions into the leaderboard: bad rows reported, good ones merged, a row given twice merged once', () => {
    const root = tempDir();
    mkdirSync(join(root, 'run'));
    writeFileSync(join(root, 'run', 'results.csv'), resultsToCsv([ROW]));
    const other = { ...ROW, name: '128x8', tokens: 1024, tokens_per_s: 10240 };
    writeFileSync(join(root, 'm2.results.json'), JSON.stringify(makeSubmission([ROW, other, { ...ROW, runs: 0 }], ENVIRONMENT, 'test')));
    const { files, rejected } = readResultFiles([join(root, 'm2.results.json'), join(root, 'run', 'results.csv')]);
    expect(rejected).toEqual([{ where: `${join(root, 'm2.results.json')}: row 3`, problems: ['runs: must be >= 1'] }]);
    expect(files.map((f) => f.rows.map((r) => r.name))).toEqual([['512x8', '128x8'], []]); // the CSV's row was already merged

    const lines: string[] = [];
    const errors: string[] = [];
    expect(main(['--root', root], (l) => lines.push(l), (l) => errors.push(l))).toBe(1);
    expect(lines[0]).toBe('1 results.csv file(s), 2 row(s), 1 device(s); 1 submission file(s)');
    expect(errors).toEqual([`generate: not merged: ${join(root, 'm2.results.json')}: row 3: runs: must be >= 1`]);
    expect(readFileSync(join(root, 'leaderboard.md'), 'utf8')).toContain('## apple-metal-3');
  });
});
