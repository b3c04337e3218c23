// The checkpoint evaluations (fill-mask, embedding sanity) on the example checkpoint: the real ModernBERT
// tokenizer and vocabulary, random weights. The library they call is tested in test/tasks.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/modernbert.ts';
import { checkEmbeddings, fillMask } from '../evals/fill-mask.ts';
import type { Checkpoint } from '../reference/checkpoint.ts';
import { parseConfig } from '../reference/config.ts';
import { loadCheckpoint, loadTokenizer } from '../reference/files.ts';
import { fp32 } from '../reference/ops.ts';
import { writeExampleCheckpoint } from '../tasks/example.ts';

describe('checkpoint evaluations', () => {
  let dir: string;
  let checkpoint: Checkpoint;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modernbert-realfmt-'));
    writeExampleCheckpoint(dir, 7);
    checkpoint = loadCheckpoint(dir, fp32);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rejects a text without a mask and a tokenizer larger than the vocabulary', async () => {
    const tokenizer = loadTokenizer(dir);
    await expect(fillMask(checkpoint, tokenizer, ['no mask here'])).rejects.toThrow('the text has no [MASK] token: "no mask here"');
    const tiny = parseConfig({ vocab_size: 1000, hidden_size: 32, intermediate_size: 48, num_attention_heads: 2, num_hidden_layers: 1 });
    await expect(fillMask({ config: tiny, weights: checkpoint.weights }, tokenizer, ['[MASK]'])).rejects.toThrow("the tokenizer has 50368 ids but config.json's vocab_size is 1000");
  });

  it('embedding check: cosine of mean-pooled embeddings; identical texts pass, the verdict follows the numbers', async () => {
    const tokenizer = loadTokenizer(dir);
    const same = await checkEmbeddings(checkpoint, tokenizer, [['A cat.', 'A cat.'], ['Stock prices fell.', 'Stock prices fell.']]);
    for (const s of same.paraphrase) expect(s).toBeCloseTo(1, 5);
    expect(same.unrelatedMean).toBeLessThan(1);
    expect(same.pass).toBe(true);
    const real = await checkEmbeddings(checkpoint, tokenizer);
    expect(real.pass).toBe(real.paraphrase.every((s) => s > real.unrelatedMean));
  });

  it('runs from the CLI, and a missing --model is exit 2', async () => {
    let out = '';
    const code = await main(['eval', 'fill-mask', '--model', dir, '--top-k', '2', 'The sun rises in the [MASK].'], (s) => (out += s), () => {});
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe('The sun rises in the [MASK].');
    expect(out.split('\n').filter((l) => /^ {2}\d\.\d{4} {2}".*" \(\d+\) {2}/.test(l))).toHaveLength(2);
    let err = '';
    expect(await main(['eval', 'fill-mask'], () => {}, (s) => (err += s))).toBe(2);
    expect(err).toMatch(/--model DIR is required/);
  });
});
