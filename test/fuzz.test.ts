// Fuzzing in CI (issue 14): a fixed-seed budget of mutated safetensors, config.json, tokenizer.json and
// sentence-transformers folders; every case loads or is cleanly rejected (evals/fuzz.ts has the rules and runs
// long budgets: node --import ./bin/register.js evals/fuzz.ts --cases 10000).
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../reference/config.ts';
import { SafetensorsError } from '../reference/safetensors.ts';
import { type Format, fuzz, judgeRejection } from '../evals/fuzz.ts';

const BUDGET: Record<Format, number> = { safetensors: 2000, config: 500, tokenizer: 500, 'sentence-transformers': 500 };

describe('fuzzing the files the project reads', () => {
  for (const [format, cases] of Object.entries(BUDGET) as [Format, number][]) {
    it(`${format}: ${cases} mutated inputs, each loaded or rejected with a one-line error naming the file`, () => {
      const report = fuzz(format, cases, 2026);
      const kinds = Object.entries(report.rejected).sort((a, b) => b[1] - a[1]);
      const rejected = kinds.reduce((n, [, c]) => n + c, 0);
      console.log(`${format}: ${report.cases} cases, ${report.accepted} accepted, ${rejected} rejected in ${kinds.length} kinds (most: ${kinds.slice(0, 3).map(([k, c]) => `${c} x ${k}`).join('; ')}), slowest ${report.slowestMs.toFixed(1)} ms`);
      expect(report.failures).toEqual([]);
      expect(report.accepted + rejected).toBe(cases);
      // The mutations reach both outcomes, and many different checks.
      expect(report.accepted).toBeGreaterThan(0);
      expect(kinds.length).toBeGreaterThan(20);
    });
  }

  it('counts as failures what breaks the rules: another error type, several lines, no file named', () => {
    const dir = '/tmp/case';
    expect(judgeRejection('safetensors', new SafetensorsError(`${dir}/model.safetensors: truncated`), dir)).toBeNull();
    expect(judgeRejection('safetensors', new TypeError('x is undefined'), dir)).toBe('threw TypeError: x is undefined');
    expect(judgeRejection('config', new SafetensorsError(`${dir}/config.json: wrong type`), dir)).toMatch(/^threw SafetensorsError/);
    expect(judgeRejection('config', new ConfigError(`${dir}/config.json: one\ntwo`), dir)).toMatch(/^a message of several lines/);
    expect(judgeRejection('config', new ConfigError('field "x" is wrong'), dir)).toMatch(/^the message does not name the file/);
  });
});
