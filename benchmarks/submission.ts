// The results schema (benchmarks/schema/*.schema.json, JSON Schema 2020-12): what a result row and a submission
// (rows + the environment they ran in, as the browser bench page downloads them) must hold. The leaderboard
// checks every row against it when it merges files, CSV or JSON alike, and reports the rows that fail instead
// of merging them.
import Ajv2020 from 'ajv/dist/2020.js';
import type { ErrorObject } from 'ajv';
import { NUMERIC_COLUMNS, RESULT_COLUMNS, type ResultColumn, type ResultRow } from './results.ts';
import rowSchema from './schema/result-row.schema.json' with { type: 'json' };
import submissionSchema from './schema/submission.schema.json' with { type: 'json' };

export const SUBMISSION_FORMAT = 'modernbert-ts-results';

export interface Environment {
  device: string;
  adapter: string;
  runtime: string;
  versions?: string | null;
  features?: string | null;
  cpu?: string | null;
  memory_bytes?: number | null;
  os?: string | null;
  limits?: Record<string, number>;
}

export interface Submission {
  format: typeof SUBMISSION_FORMAT;
  version: 1;
  generator?: string;
  environment: Environment;
  rows: Partial<ResultRow>[];
}

// ajv is CommonJS: its default export is the module, whose `default` is the class.
const ajv = new Ajv2020.default({ allErrors: true, strict: true });
const validateRowSchema = ajv.compile(rowSchema);
const validateSubmissionSchema = ajv.compile(submissionSchema);

/** "median_s: must be > 0" for each way `value` breaks the schema. */
function schemaErrors(errors: ErrorObject[] | null | undefined): string[] {
  const byField = new Map<string, string>(); // one complaint per field: the first (a kind's own rule before the general type)
  for (const e of errors ?? []) {
    if (e.keyword === 'if') continue; // the failed branch's own errors say what is wrong
    const { missingProperty, additionalProperty } = e.params as { missingProperty?: string; additionalProperty?: string };
    const at = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || missingProperty || '';
    const field = additionalProperty ?? at;
    if (!byField.has(field)) byField.set(field, `${field}: ${additionalProperty ? 'is not a result column' : e.message}`);
  }
  return [...byField.values()];
}

/**
 * Why a row cannot be merged: the schema's complaints, then what the schema cannot say (the spread around
 * the median, and tokens/s agreeing with tokens over the median). Empty when the row is good.
 */
export function rowProblems(row: Record<string, unknown>): string[] {
  if (!validateRowSchema(row)) return schemaErrors(validateRowSchema.errors);
  const problems: string[] = [];
  const n = (c: ResultColumn) => row[c] as number | null | undefined;
  const median = n('median_s');
  if (median != null && n('min_s') != null && n('max_s') != null && !(n('min_s')! <= median && median <= n('max_s')!)) {
    problems.push(`median_s: ${median} is not between min_s ${n('min_s')} and max_s ${n('max_s')}`);
  }
  const rate = n('tokens_per_s');
  if (row.kind === 'model' && median != null && rate != null && Math.abs((rate * median) / (row.tokens as number) - 1) > 0.01) {
    problems.push(`tokens_per_s: ${rate} is not tokens / median_s (${(row.tokens as number) / median})`);
  }
  return problems;
}

/** A results.csv row (strings, '' when empty) as typed values: numbers in the numeric columns, null for empty cells. */
export function typedRow(row: Partial<Record<ResultColumn, string>>): Record<string, unknown> {
  const typed: Record<string, unknown> = {};
  for (const c of RESULT_COLUMNS) {
    if (!(c in row)) continue;
    const cell = row[c]!;
    typed[c] = cell === '' ? null : NUMERIC_COLUMNS.includes(c) && Number.isFinite(Number(cell)) ? Number(cell) : cell;
  }
  return typed;
}

/** Parses and checks a submission file's top level (its rows are checked one by one by the caller). `file` names it in errors. */
export function parseSubmission(text: string, file: string): Submission {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!validateSubmissionSchema(value)) throw new Error(`${file}: not a ${SUBMISSION_FORMAT} submission: ${schemaErrors(validateSubmissionSchema.errors).join('; ')}`);
  return value as unknown as Submission;
}

/** A submission of `rows`, with the environment they share. */
export function makeSubmission(rows: readonly ResultRow[], environment: Environment, generator: string): Submission {
  return { format: SUBMISSION_FORMAT, version: 1, generator, environment, rows: rows.map((r) => ({ ...r })) };
}
