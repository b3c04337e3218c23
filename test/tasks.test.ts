// The library API on the small real-format checkpoint (real tokenizer, real vocabulary size, random weights):
// fill-mask scores are the softmax of the MLM logits, embeddings are the pooled hidden states, classify
// reads id2label; the same on the WebGPU and gpu.js backends; each bad input is a clear error.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type ModernBertPipeline } from '../tasks/index.ts';
import { EXAMPLE_CONFIG, writeExampleCheckpoint } from '../tasks/example.ts';
import { parseConfig } from '../reference/config.ts';
import { loadCheckpoint } from '../reference/files.ts';
import { pool, randomModel } from '../reference/modernbert.ts';
import { fp32 } from '../reference/ops.ts';
import { closeSharedDevice } from '../optimized/webgpu/device.ts';
import { closeGpuJsDevice } from '../optimized/gpujs/mode.ts';
import { tempDir } from './helpers.ts';

const TEXTS = ['A man is playing a guitar.', 'Hi', 'The stock market fell sharply today, and nobody knew why it happened.'];

describe('loadModel on the example checkpoint', () => {
  let dir: string;
  let model: ModernBertPipeline;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'modernbert-example-'));
    writeExampleCheckpoint(dir);
    model = await loadModel(dir, { backend: 'reference' });
  });
  afterAll(async () => {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
    await closeSharedDevice();
    await closeGpuJsDevice();
  });

  it('fillMask: the topK tokens by the softmax of the MLM logits at the mask', async () => {
    const text = 'The capital of France is [MASK].';
    const predictions = await model.fillMask(text, { topK: 3 });
    const ids = model.tokenizer!.encode(text);
    const V = model.config.vocabSize;
    const at = ids.indexOf(model.tokenizer!.maskTokenId);
    const logits = Array.from((await model.forward([ids], { mlmLogits: true })).mlmLogits!.subarray(at * V, (at + 1) * V));
    const max = Math.max(...logits);
    const sum = logits.reduce((s, v) => s + Math.exp(v - max), 0);
    const best = logits.map((v, t) => ({ t, v })).sort((a, b) => b.v - a.v).slice(0, 3);
    expect(predictions.map((p) => p.token)).toEqual(best.map((b) => b.t));
    predictions.forEach((p, i) => {
      expect(p.score).toBeCloseTo(Math.exp(best[i].v - max) / sum, 12);
      expect(p.tokenStr).toBe(model.tokenizer!.decode([p.token]));
      expect(p.sequence).toBe(model.tokenizer!.decode(ids.map((id, j) => (j === at ? p.token : id))));
    });
  });

  it('embed: the pooled last hidden state of each text, in input order whatever the batching', async () => {
    for (const pooling of ['mean', 'cls'] as const) {
      const got = await model.embed(TEXTS, { pooling });
      expect(got).toHaveLength(TEXTS.length);
      for (const [i, text] of TEXTS.entries()) {
        const out = await model.forward([model.tokenizer!.encode(text)]);
        expect(got[i]).toEqual(pool(fp32, out.lastHiddenState, out.batch, model.config.hiddenSize, pooling));
      }
    }
    const unit = await model.embed(TEXTS, { normalize: true });
    for (const v of unit) expect(Math.hypot(...v)).toBeCloseTo(1, 6);
  });

  it('classify: labels from id2label, scores the softmax of the classifier logits (classifier_pooling)', async () => {
    const got = await model.classify(TEXTS);
    expect(got, 'one classification per text').toHaveLength(TEXTS.length);
    const out = await model.forward([model.tokenizer!.encode(TEXTS[2])], { pooling: ['mean'] });
    const [a, b] = out.classifierLogits!.mean!;
    const positive = 1 / (1 + Math.exp(a - b));
    expect(got[2].scores.find((s) => s.label === 'positive')!.score).toBeCloseTo(positive, 6);
    expect(got[2].label).toBe(positive > 0.5 ? 'positive' : 'negative');
    for (const c of got) {
      expect(c.scores.map((s) => s.label).sort()).toEqual(['negative', 'positive']);
      expect(c.scores[0].score + c.scores[1].score).toBeCloseTo(1, 12);
      expect(c.score).toBe(c.scores[0].score);
    }
  });

  it("classify scores as HF's pipeline does: a sigmoid for one label (never a softmax of 1), per label for multi-label, raw for regression", async () => {
    const { config, weights } = loadCheckpoint(dir, fp32);
    const C = config.hiddenSize;
    const tokenizer = model.tokenizer!;
    const variant = async (labels: string[], problemType: typeof config.problemType) => {
      const n = labels.length;
      const classifier = { weight: weights.classifier!.weight.slice(0, n * C), bias: weights.classifier!.bias && weights.classifier!.bias.slice(0, n), outFeatures: n, inFeatures: C };
      const m = await loadModel({ config: { ...config, id2label: labels, numLabels: n, problemType }, weights: { ...weights, classifier }, tokenizer }, { backend: 'reference' });
      const logits = (await m.forward(TEXTS.map((t) => tokenizer.encode(t)), { pooling: [config.classifierPooling] })).classifierLogits![config.classifierPooling]!;
      const got = await m.classify(TEXTS);
      expect(got, `${labels.join(', ')}: one classification per text`).toHaveLength(TEXTS.length);
      for (const c of got) expect(c.scores.map((s) => s.label).sort()).toEqual([...labels].sort());
      return { got, logits, n };
    };
    const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
    const one = await variant(['relevant'], null);
    one.got.forEach((c, i) => expect(c.score).toBeCloseTo(sigmoid(one.logits[i]), 12));
    expect(new Set(one.got.map((c) => c.score)).size).toBe(TEXTS.length); // differ between texts, unlike softmax's 1.0
    const multi = await variant(['a', 'b'], 'multi_label_classification');
    multi.got.forEach((c, i) => c.scores.forEach((s) => expect(s.score).toBeCloseTo(sigmoid(multi.logits[i * 2 + ['a', 'b'].indexOf(s.label)]), 12)));
    const regression = await variant(['value'], 'regression');
    regression.got.forEach((c, i) => expect(c.score).toBeCloseTo(regression.logits[i], 6));
    const single = await variant(['a', 'b'], 'single_label_classification');
    single.got.forEach((c) => expect(c.scores[0].score + c.scores[1].score).toBeCloseTo(1, 12));
    expect(() => parseConfig({ problem_type: 'ranking' })).toThrow(/field "problem_type" must be one of "regression", "single_label_classification", "multi_label_classification", got "ranking"/);
  });

  it.each([['webgpu'], ['gpujs:webasm']] as const)('gives the same results on %s', async (backend) => {
    const other = await loadModel(dir, { backend });
    try {
      expect(other.backend).toBe(backend);
      const [want, got] = [await model.embed(TEXTS), await other.embed(TEXTS)];
      expect([want.length, got.length]).toEqual([TEXTS.length, TEXTS.length]);
      for (let i = 0; i < TEXTS.length; i++) for (let c = 0; c < want[i].length; c++) expect(Math.abs(got[i][c] - want[i][c])).toBeLessThan(1e-4);
      expect((await other.fillMask('Paris is the [MASK] of France.', { topK: 1 }))[0].token).toBe((await model.fillMask('Paris is the [MASK] of France.', { topK: 1 }))[0].token);
      const [cw, cg] = [await model.classify(TEXTS), await other.classify(TEXTS)];
      expect([cw.length, cg.length]).toEqual([TEXTS.length, TEXTS.length]);
      cg.forEach((c, i) => expect(Math.abs(c.scores[0].score - cw[i].scores[0].score)).toBeLessThan(1e-4));
    } finally {
      other.dispose();
    }
  });

  it('webgpu: 20 concurrent embed / fillMask / forward calls give the sequential results, also with a second model on the device at once', async () => {
    const [a, b] = [await loadModel(dir, { backend: 'webgpu' }), await loadModel(dir, { backend: 'webgpu', dtype: 'f16' })];
    try {
      const call = (m: ModernBertPipeline, i: number) =>
        i % 10 === 0 ? m.fillMask(`${TEXTS[i % 3]} [MASK]`, { topK: 3 }) : i % 2 ? m.embed([TEXTS[i % 3], TEXTS[(i + 1) % 3]]) : m.forward([[1, 5 + i, 6, 2], [1, 9, 2]]);
      // 20 calls on a (fill-mask's 50k-word MLM head is slow on SwiftShader: two of them), four of them also on b
      const calls: [ModernBertPipeline, number][] = Array.from({ length: 20 }, (_, i) => i).flatMap((i) => (i % 5 === 2 ? [[a, i], [b, i]] : [[a, i]]) as [ModernBertPipeline, number][]);
      const sequential: unknown[] = [];
      for (const [m, i] of calls) sequential.push(await call(m, i));
      const concurrent = await Promise.all(calls.map(([m, i]) => call(m, i)));
      expect(concurrent).toEqual(sequential);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('runs every GEMM and attention on subgroup matrices with { gemm: "sgmat", attention: "flash_sgmat" } (emulated here): embeddings close to f32', async () => {
    const tensorCores = await loadModel(dir, { backend: 'webgpu', dtype: 'f16', gemm: 'sgmat', attention: 'flash_sgmat' });
    try {
      const [want, got] = [await model.embed(TEXTS, { normalize: true }), await tensorCores.embed(TEXTS, { normalize: true })];
      for (let i = 0; i < TEXTS.length; i++) expect(got[i].reduce((s, v, j) => s + v * want[i][j], 0)).toBeGreaterThan(0.999);
    } finally {
      tensorCores.dispose();
    }
  });

  it('runs on webgpu with f16 storage: embeddings and classifications close to f32, the same top fill-mask token', async () => {
    const half = await loadModel(dir, { backend: 'webgpu', dtype: 'f16' });
    try {
      const [want, got] = [await model.embed(TEXTS, { normalize: true }), await half.embed(TEXTS, { normalize: true })];
      expect([want.length, got.length]).toEqual([TEXTS.length, TEXTS.length]);
      // f16 storage: cosine similarity to the f32 embedding above 0.999, but not bit-equal (f16 really ran)
      for (let i = 0; i < TEXTS.length; i++) {
        const cosine = want[i].reduce((sum, v, c) => sum + v * got[i][c], 0);
        expect(cosine).toBeGreaterThan(0.999);
        expect(got[i]).not.toEqual(want[i]);
      }
      const [cw, cg] = [await model.classify(TEXTS), await half.classify(TEXTS)];
      expect([cw.length, cg.length]).toEqual([TEXTS.length, TEXTS.length]);
      cg.forEach((c, i) => expect(Math.abs(c.scores[0].score - cw[i].scores[0].score)).toBeLessThan(1e-2));
      expect((await half.fillMask('Paris is the [MASK] of France.', { topK: 1 }))[0].token).toBe((await model.fillMask('Paris is the [MASK] of France.', { topK: 1 }))[0].token);
    } finally {
      half.dispose();
    }
    await expect(loadModel(dir, { backend: 'reference', dtype: 'f16' })).rejects.toThrow(/dtype f16 is the webgpu backend's \(f16 storage\); reference computes and stores f32/);
    await expect(loadModel(dir, { backend: 'webgpu', gemm: 'sgmat' })).rejects.toThrow('gemm sgmat multiplies halves (f16 x f16 -> f32): it needs dtype f16');
    await expect(loadModel(dir, { backend: 'reference', gemm: 'v3' })).rejects.toThrow('gemm chooses a kernel of the webgpu backend; reference has its own');
    await expect(loadModel(dir, { backend: 'webgpu', attention: 'flash_sgmat' })).rejects.toThrow('attention flash_sgmat multiplies halves (f16 x f16 -> f32): it needs dtype f16');
    await expect(loadModel(dir, { backend: 'webgpu', gemm: 'v5' as never })).rejects.toThrow('gemm must be one of v2, v3, v4, sgmat, got "v5"');
    await expect(loadModel(dir, { backend: 'webgpu', dtype: 'bf16' as never })).rejects.toThrow(/dtype must be f32 or f16, got "bf16"/);
  });

  it('batches only what the backend fits: on gpu.js, passes stay below 2^24 values', async () => {
    // 16 x 512 tokens = 8192, one batch by token count, but one pass's scores [8192 x 4 heads, 512] would be 2^24 values
    const texts = Array.from({ length: 16 }, (_, i) => `${i} ${'word '.repeat(508)}`);
    for (const t of texts) expect(model.tokenizer!.encode(t)).toHaveLength(512);
    const gpujs = await loadModel(dir, { backend: 'gpujs:webasm' });
    try {
      const [want, got] = [await model.embed(texts), await gpujs.embed(texts)];
      expect([want.length, got.length]).toEqual([texts.length, texts.length]);
      for (let i = 0; i < texts.length; i++) for (let c = 0; c < want[i].length; c++) expect(Math.abs(got[i][c] - want[i][c])).toBeLessThan(1e-4);
    } finally {
      gpujs.dispose();
    }
  });

  it('a text over the maximum length is an error naming it, or truncated when asked; never silently', async () => {
    const long = 'word '.repeat(600); // max_position_embeddings is 512
    const n = model.tokenizer!.encode(long, { maxLength: Infinity }).length;
    expect(n).toBeGreaterThan(512);
    await expect(model.embed(['short', long])).rejects.toThrow(`text 1 has ${n} tokens, more than the maximum length 512, and truncation is off`);
    const [cut] = await model.embed([long], { truncation: 'truncate' });
    const out = await model.forward([model.tokenizer!.encode(long, { maxLength: 512, truncation: 'truncate' })]);
    expect(out.batch.totalTokens).toBe(512);
    expect(cut).toEqual(pool(fp32, out.lastHiddenState, out.batch, model.config.hiddenSize, 'mean'));
    await expect(model.fillMask(`${long}[MASK]`)).rejects.toThrow(/the text has \d+ tokens, more than the maximum length 512, and truncation is off/);
  });

  it('rejects an empty text list, a text without a mask, and a bad topK', async () => {
    await expect(model.embed([])).rejects.toThrow('no texts: pass at least one');
    await expect(model.classify([])).rejects.toThrow('no texts: pass at least one');
    await expect(model.fillMask('no mask here')).rejects.toThrow('the text has no [MASK] token: "no mask here"');
    await expect(model.fillMask('[MASK]', { topK: 0 })).rejects.toThrow('topK must be a positive integer, got 0');
  });

  it('rejects a missing tokenizer, a vocabulary larger than the config, a label count the classifier lacks, an unknown backend', async () => {
    const bad = tempDir();
    writeExampleCheckpoint(bad);
    await expect(loadModel(bad, { backend: 'cuda' as never })).rejects.toThrow(/unknown backend "cuda" \(available: auto, reference, webgpu, gpujs/);

    const { config, weights } = loadCheckpoint(bad, fp32);
    const bare = await loadModel({ config, weights }, { backend: 'reference' });
    expect((await bare.forward([[50281, 510, 50282]])).lastHiddenState).toHaveLength(3 * config.hiddenSize);
    await expect(bare.embed(['x'])).rejects.toThrow(/this model has no tokenizer/);

    const configFile = join(bad, 'config.json');
    const json = JSON.parse(readFileSync(configFile, 'utf8'));
    writeFileSync(configFile, JSON.stringify({ ...json, id2label: { 0: 'a', 1: 'b', 2: 'c' } }));
    await expect(loadModel(bad, { backend: 'reference' })).rejects.toThrow(/classifier\.weight/);
    writeFileSync(configFile, JSON.stringify({ ...json, id2label: { 0: 'a', 2: 'c' } }));
    await expect(loadModel(bad, { backend: 'reference' })).rejects.toThrow(/field "id2label" keys must be 0..1, got "2"/);

    const smallVocab = randomModel(parseConfig({ ...EXAMPLE_CONFIG, vocab_size: 1000 }), fp32);
    await expect(loadModel({ ...smallVocab, tokenizer: model.tokenizer! }, { backend: 'reference' })).rejects.toThrow("the tokenizer has 50368 ids but config.json's vocab_size is 1000");

    rmSync(join(bad, 'tokenizer.json'));
    await expect(loadModel(bad)).rejects.toThrow(`${join(bad, 'tokenizer.json')}: file not found`);
  });
});

describe('modernbert fill-mask, embed, classify (CLI) on the example checkpoint', () => {
  const BIN = join(import.meta.dirname, '..', 'bin', 'modernbert.js');
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modernbert-example-cli-'));
    expect(cli('example-checkpoint', dir)).toMatchObject({ code: 0, stdout: `wrote ${dir} (config.json, model.safetensors, tokenizer.json, tokenizer_config.json)\n` });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([['reference'], ['webgpu']])('runs each task on %s, matching the library', async (backend) => {
    const model = await loadModel(dir, { backend: 'reference' });
    const fill = cli('fill-mask', '--model', dir, '--backend', backend, '--top-k', '2', 'The capital of France is [MASK].', 'Paris is the [MASK] of France.');
    expect(fill.code, fill.stderr).toBe(0);
    const lines = fill.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    const want = await model.fillMask('Paris is the [MASK] of France.', { topK: 2 });
    expect(lines[1].map((p: { token: number }) => p.token)).toEqual(want.map((p) => p.token));
    expect(lines[1][0].score).toBeCloseTo(want[0].score, 4);

    const classify = cli('classify', '--model', dir, '--backend', backend, 'good', 'bad');
    const want2 = await model.classify(['good', 'bad']);
    expect(classify.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual(want2.map((c, i) => ({ text: ['good', 'bad'][i], label: c.label, score: expect.closeTo(c.score, 4) })));

    const texts = join(tempDir(), 'texts.txt');
    writeFileSync(texts, 'one\n\ntwo three\n');
    const outFile = join(tempDir(), 'embeddings.jsonl');
    expect(cli('embed', '--model', dir, '--backend', backend, '--file', texts, '--out', outFile, '--normalize')).toMatchObject({ code: 0, stdout: '' });
    const rows = readFileSync(outFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const want3 = await model.embed(['one', 'two three'], { normalize: true });
    expect(rows.map((r) => r.text)).toEqual(['one', 'two three']);
    rows.forEach((r, i) => r.embedding.forEach((v: number, c: number) => expect(Math.abs(v - want3[i][c])).toBeLessThan(1e-4)));
    model.dispose();
  });

  it('bad input is exit 2 naming it, and leaves no output file', () => {
    const outFile = join(tempDir(), 'embeddings.jsonl');
    const long = 'word '.repeat(600);
    expect(cli('embed', '--model', dir, '--backend', 'reference', '--out', outFile, 'fine', long)).toMatchObject({ code: 2, stderr: expect.stringMatching(/^modernbert embed: text 1 has \d+ tokens, more than the maximum length 512, and truncation is off\n$/) });
    expect(existsSync(outFile)).toBe(false);
    expect(cli('embed', '--model', dir, '--backend', 'reference', '--truncate', long).code).toBe(0);
    expect(cli('embed', '--model', dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/no texts: give them as arguments or with --file/) });
    const empty = join(tempDir(), 'empty.txt');
    writeFileSync(empty, '\n\n');
    expect(cli('classify', '--model', dir, '--file', empty)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--file .*empty\.txt: no texts \(every line is empty\)/) });
    expect(cli('classify', '--model', dir, '--file', '/nonexistent.txt')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--file \/nonexistent\.txt: file not found/) });
    expect(cli('fill-mask', '--model', dir, '--top-k', '0', 'x [MASK]')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--top-k must be a positive integer, got "0"/) });
    expect(cli('fill-mask', 'x [MASK]')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--model DIR is required/) });
    expect(cli('fill-mask', '--model', dir, '--backend', 'tpu', 'x [MASK]')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--backend must be auto or one of reference, webgpu/) });
    expect(cli('embed', '--model', dir, '--backend', 'webgpu', '--dtype', 'f8', 'x')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--dtype must be f32 or f16, got "f8"/) });
    expect(cli('fill-mask', '--model', dir, '--backend', 'reference', 'no mask')).toMatchObject({ code: 2, stderr: expect.stringMatching(/the text has no \[MASK\] token: "no mask"/) });
  });

  it.each([['SIGINT', 130], ['SIGTERM', 143]] as const)('embed --out stopped by %s exits %i and leaves no output file and no temp file', async (signal, code) => {
    const work = tempDir();
    const texts = join(work, 'texts.txt');
    // Many batches of work on the reference backend (minutes if left to run): the signal comes in the middle.
    writeFileSync(texts, Array.from({ length: 4000 }, (_, i) => `text ${i}: ${'the quick brown fox jumps over the lazy dog '.repeat(4)}`).join('\n'));
    const outFile = join(work, 'embeddings.jsonl');
    const child = spawn(process.execPath, [BIN, 'embed', '--model', dir, '--backend', 'reference', '--file', texts, '--out', outFile]);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (status) => resolve(status)));
    await new Promise((resolve) => setTimeout(resolve, 4000));
    child.kill(signal);
    expect(await exited).toBe(code);
    expect(stderr).toMatch(new RegExp(`modernbert: interrupted \\(${signal}\\)\n$`));
    expect(readdirSync(work).sort()).toEqual(['texts.txt']);
  }, 60_000);
});
