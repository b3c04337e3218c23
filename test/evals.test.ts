// The checkpoint evaluations (fill-mask, embedding sanity) on a real-format folder: the real ModernBERT tokenizer with the `small` config's random weights (ModernBERT's vocabulary).
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/modernbert.ts';
import { checkEmbeddings, fillMask } from '../evals/fill-mask.ts';
import { type Checkpoint, randomTensors } from '../reference/checkpoint.ts';
import { parseConfig, presetConfig } from '../reference/config.ts';
import { loadCheckpoint, loadTokenizer, saveCheckpoint } from '../reference/files.ts';
import { forward } from '../reference/modernbert.ts';
import { fp32 } from '../reference/ops.ts';

const TOKENIZER = join(import.meta.dirname, 'fixtures', 'tokenizer', 'modernbert');

describe('checkpoint evaluations', () => {
  let dir: string;
  let checkpoint: Checkpoint;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modernbert-realfmt-'));
    const config = presetConfig('small');
    saveCheckpoint(dir, config, randomTensors(config, 7));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOKENIZER, f), join(dir, f));
    checkpoint = loadCheckpoint(dir, fp32);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fill-mask scores are the softmax of the MLM logits at the mask, best first', async () => {
    const tokenizer = loadTokenizer(dir);
    const text = 'The capital of France is [MASK].';
    const [predictions] = await fillMask(checkpoint, tokenizer, [text], { topK: 4 });
    const ids = tokenizer.encode(text);
    const logits = forward({ ...checkpoint, precision: fp32 }, [ids], { mlmLogits: true }).mlmLogits!;
    const V = checkpoint.config.vocabSize;
    const at = ids.indexOf(tokenizer.maskTokenId) * V;
    const row = Array.from(logits.subarray(at, at + V));
    const max = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
    const best = row.map((v, t) => ({ t, v })).sort((a, b) => b.v - a.v).slice(0, 4);
    expect(predictions.map((p) => p.token)).toEqual(best.map((b) => b.t));
    predictions.forEach((p, i) => {
      expect(p.score).toBeCloseTo(Math.exp(best[i].v - max) / sum, 12);
      expect(p.tokenStr).toBe(tokenizer.decode([p.token]));
      expect(p.sequence).toBe(tokenizer.decode(ids.map((id) => (id === tokenizer.maskTokenId ? p.token : id))));
    });
    expect(predictions[0].score).toBeGreaterThanOrEqual(predictions[3].score);
  });

  it('fill-mask gives the same predictions on the WebGPU engine', async () => {
    const tokenizer = loadTokenizer(dir);
    const texts = ['Paris is the [MASK] of France.'];
    const reference = await fillMask(checkpoint, tokenizer, texts, { topK: 3 });
    const webgpu = await fillMask(checkpoint, tokenizer, texts, { topK: 3, backend: 'webgpu' });
    expect(webgpu[0].map((p) => p.token)).toEqual(reference[0].map((p) => p.token));
    webgpu[0].forEach((p, i) => expect(Math.abs(p.score - reference[0][i].score)).toBeLessThan(1e-6));
    const { closeSharedDevice } = await import('../optimized/webgpu/device.ts');
    await closeSharedDevice();
  });

  it('rejects a text without a mask and a tokenizer larger than the vocabulary', async () => {
    const tokenizer = loadTokenizer(dir);
    await expect(fillMask(checkpoint, tokenizer, ['no mask here'])).rejects.toThrow('text 1 ("no mask here") has no [MASK] token');
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
