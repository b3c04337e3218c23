// A sentence-transformers folder (test/fixtures/sentence-transformers: Pooling, Dense, Normalize, prompts) embeds
// as SentenceTransformer.encode does: every variant of expected.json (prompts, Matryoshka truncation, every
// pooling mode, both pooling config spellings) within 1e-5, on the reference and on WebGPU; and its bad files
// are errors naming them.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type EmbedOptions, loadModel } from '../tasks/index.ts';
import { closeSharedDevice } from '../optimized/webgpu/device.ts';
import { fixtureWithTokenizer } from './helpers.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const reranked = JSON.parse(readFileSync(join(FIXTURES, 'sentence-transformers', 'rerank.json'), 'utf8')) as {
  query: string;
  documents: string[];
  models: Record<'rerank-1' | 'rerank-2', { activation_fn: string; logits: number[] | number[][]; scores: number[] | number[][]; rank?: number[] }>;
};
const expected = JSON.parse(readFileSync(join(FIXTURES, 'sentence-transformers', 'expected.json'), 'utf8')) as {
  texts: string[];
  variants: Record<string, { pooling_mode: string; include_prompt: boolean; encode: { prompt?: string; prompt_name?: string; truncate_dim?: number; normalize_embeddings?: boolean }; embeddings: number[][] }>;
};

const withTokenizer = (name: string) => fixtureWithTokenizer(`sentence-transformers/${name}`);

/** The embedding folder with this pooling config. */
function folder(pooling: object): string {
  const dir = withTokenizer('embed');
  writeFileSync(join(dir, '1_Pooling', 'config.json'), JSON.stringify(pooling));
  return dir;
}

function options(encode: (typeof expected.variants)[string]['encode']): EmbedOptions {
  return { prompt: encode.prompt, promptName: encode.prompt_name, dimensions: encode.truncate_dim, normalize: encode.normalize_embeddings };
}

afterAll(closeSharedDevice);

describe('sentence-transformers folders', () => {
  for (const backend of ['reference', 'webgpu'] as const) {
    it(`${backend}: every variant equals SentenceTransformer.encode within 1e-5`, async () => {
      // One model per pooling config; the variants of a config share it.
      const byPooling = new Map<string, [string, (typeof expected.variants)[string]][]>();
      for (const [name, v] of Object.entries(expected.variants)) {
        const key = `${v.pooling_mode}|${v.include_prompt}`;
        byPooling.set(key, [...(byPooling.get(key) ?? []), [name, v]]);
      }
      for (const variants of byPooling.values()) {
        const [, first] = variants[0];
        const model = await loadModel(folder({ embedding_dimension: 16, pooling_mode: first.pooling_mode, include_prompt: first.include_prompt }), { backend });
        try {
          for (const [name, v] of variants) {
            const got = await model.embed(expected.texts, options(v.encode));
            expect(got, `${name}: one embedding per text`).toHaveLength(expected.texts.length);
            got.forEach((e, i) => {
              expect(e.length, name).toBe(v.embeddings[i].length);
              e.forEach((x, c) => expect(Math.abs(x - v.embeddings[i][c]), `${name} text ${i} value ${c}`).toBeLessThan(1e-5));
            });
          }
        } finally {
          model.dispose();
        }
      }
    });
  }

  it('reads the older pooling_mode_* flags, and an explicit pooling bypasses the modules', async () => {
    const v = expected.variants.default;
    const model = await loadModel(folder({ word_embedding_dimension: 16, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true, pooling_mode_max_tokens: false, include_prompt: false }), { backend: 'reference' });
    const one = await model.embed(expected.texts.slice(0, 1));
    expect(one).toHaveLength(1);
    const [first] = one;
    expect(first).toHaveLength(v.embeddings[0].length);
    first.forEach((x, c) => expect(Math.abs(x - v.embeddings[0][c])).toBeLessThan(1e-5));
    expect(model.sentenceTransformers).toMatchObject({ pooling: { modes: ['mean'], includePrompt: false }, normalize: true, defaultPromptName: 'query', similarity: 'cosine' });
    // similarity_fn_name "cosine": the unit embeddings' dot product
    const pair = await model.embed(expected.texts.slice(0, 2));
    expect(pair).toHaveLength(2);
    const [a, b] = pair;
    expect(model.similarity(a, b)).toBeCloseTo(a.reduce((s, x, i) => s + x * b[i], 0), 6);
    expect((await model.embed(['Hi'], { pooling: 'mean' }))[0]).toHaveLength(16); // the encoder's hidden size, no Dense
    await expect(model.embed(['Hi'], { promptName: 'passage' })).rejects.toThrow('promptName "passage" is not one of this model\'s prompts (document, query)');
    await expect(model.embed(['Hi'], { prompt: 'a', promptName: 'query' })).rejects.toThrow('pass prompt or promptName, not both');
    await expect(model.embed(['Hi'], { dimensions: 9 })).rejects.toThrow('dimensions 9 is more than the embedding\'s 8');
    model.dispose();
  });

  it('embeds from the command line: modernbert embed --dimensions 4 --normalize (default prompt), --prompt-name', () => {
    const dir = folder({ embedding_dimension: 16, pooling_mode: 'mean', include_prompt: false });
    const run = (...args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bin', 'modernbert.js'), 'embed', '--model', dir, '--backend', 'reference', ...args, ...expected.texts], { encoding: 'utf8' });
    for (const [args, variant] of [
      [['--dimensions', '4', '--normalize'], 'matryoshka_4_normalized'],
      [['--prompt-name', 'document'], 'prompt_name_document'],
    ] as const) {
      const r = run(...args);
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { text: string; embedding: number[] });
      expect(lines.map((l) => l.text), 'one line per text, in order').toEqual(expected.texts);
      lines.forEach((l, i) => expect(l.embedding).toHaveLength(expected.variants[variant].embeddings[i].length));
      lines.forEach((l, i) => l.embedding.forEach((x, c) => expect(Math.abs(x - expected.variants[variant].embeddings[i][c])).toBeLessThan(1e-5)));
    }
    expect(run('--dimensions', '0')).toMatchObject({ status: 2, stderr: expect.stringMatching(/--dimensions must be a positive integer, got "0"/) });
  });

  for (const backend of ['reference', 'webgpu'] as const) {
    it(`${backend}: rerank scores and orders as CrossEncoder: sigmoid for one output (scores differ, never softmax's 1.0), softmax for two`, async () => {
      const one = await loadModel(withTokenizer('rerank-1'), { backend });
      try {
        const want = reranked.models['rerank-1'];
        expect(one.crossEncoder).toEqual({ activation: 'sigmoid' });
        const got = await one.rerank(reranked.query, reranked.documents);
        expect(got, 'one result per document').toHaveLength(reranked.documents.length);
        expect(got.map((r) => r.index)).toEqual(want.rank);
        for (const r of got) {
          expect(r.logits[0]).toBeCloseTo((want.logits as number[])[r.index], 5);
          expect(r.score).toBeCloseTo((want.scores as number[])[r.index], 5);
        }
        expect(new Set(got.map((r) => r.score.toFixed(6))).size).toBe(reranked.documents.length); // the trap: distinct, not all 1.0
        expect((await one.rerank(reranked.query, reranked.documents, { topK: 2 })).map((r) => r.index)).toEqual(want.rank!.slice(0, 2));
      } finally {
        one.dispose();
      }
      const two = await loadModel(withTokenizer('rerank-2'), { backend });
      try {
        const want = reranked.models['rerank-2'];
        const got = await two.rerank(reranked.query, reranked.documents);
        expect(got.map((r) => r.index).sort((x, y) => x - y), 'one result per document').toEqual(reranked.documents.map((_, i) => i));
        for (const r of got) {
          expect(r.scores).toHaveLength(2);
          r.scores.forEach((p, label) => expect(p).toBeCloseTo((want.scores as number[][])[r.index][label], 5));
          expect(r.score).toBe(r.scores[1]);
        }
      } finally {
        two.dispose();
      }
    });
  }

  it('reranks from the command line, and refuses a cross-encoder activation it does not know', async () => {
    const dir = withTokenizer('rerank-1');
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bin', 'modernbert.js'), 'rerank', '--model', dir, '--backend', 'reference', '--query', reranked.query, ...reranked.documents], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).index)).toEqual(reranked.models['rerank-1'].rank);
    const noQuery = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bin', 'modernbert.js'), 'rerank', '--model', dir, 'doc'], { encoding: 'utf8' });
    expect(noQuery).toMatchObject({ status: 2, stderr: expect.stringMatching(/--query TEXT is required/) });
    const config = join(dir, 'config_sentence_transformers.json');
    writeFileSync(config, JSON.stringify({ model_type: 'CrossEncoder', activation_fn: 'torch.nn.modules.activation.Tanh' }));
    await expect(loadModel(dir, { backend: 'reference' })).rejects.toThrow(/config_sentence_transformers\.json: field "activation_fn" is "torch\.nn\.modules\.activation\.Tanh"/);
  });

  it('names the file and field of a bad folder', async () => {
    const weighted = folder({ pooling_mode: 'weightedmean' });
    await expect(loadModel(weighted, { backend: 'reference' })).rejects.toThrow(/1_Pooling\/config\.json: pooling mode "weightedmean" is not supported/);
    const dense = folder({ pooling_mode: 'mean' });
    writeFileSync(join(dense, '2_Dense', 'config.json'), JSON.stringify({ in_features: 16, out_features: 8, bias: true, activation_function: 'torch.nn.modules.activation.Softplus' }));
    await expect(loadModel(dense, { backend: 'reference' })).rejects.toThrow(/2_Dense\/config\.json: field "activation_function" is "torch\.nn\.modules\.activation\.Softplus"/);
    const shape = folder({ pooling_mode: 'mean' });
    writeFileSync(join(shape, '2_Dense', 'config.json'), JSON.stringify({ in_features: 16, out_features: 4, bias: true, activation_function: 'torch.nn.modules.activation.Tanh' }));
    await expect(loadModel(shape, { backend: 'reference' })).rejects.toThrow(/2_Dense\/model\.safetensors: tensor "linear\.weight" must be \[4, 16\] \(config\.json\), got \[8, 16\]/);
    const modules = folder({ pooling_mode: 'mean' });
    writeFileSync(join(modules, 'modules.json'), JSON.stringify([{ type: 'sentence_transformers.models.Transformer', path: '' }, { type: 'sentence_transformers.models.LSTM', path: 'x' }]));
    await expect(loadModel(modules, { backend: 'reference' })).rejects.toThrow(/modules\.json: field "\[1\]\.type" is "sentence_transformers\.models\.LSTM"; supported modules: Transformer, Pooling, Dense, Normalize/);
    const similarity = folder({ pooling_mode: 'mean' });
    writeFileSync(join(similarity, 'config_sentence_transformers.json'), JSON.stringify({ prompts: {}, similarity_fn_name: 'jaccard' }));
    await expect(loadModel(similarity, { backend: 'reference' })).rejects.toThrow(/config_sentence_transformers\.json: field "similarity_fn_name" is "jaccard"; supported: cosine, dot, euclidean, manhattan/);
    const prompts = folder({ pooling_mode: 'mean' });
    writeFileSync(join(prompts, 'config_sentence_transformers.json'), JSON.stringify({ prompts: { query: 'q: ' }, default_prompt_name: 'passage' }));
    await expect(loadModel(prompts, { backend: 'reference' })).rejects.toThrow(/config_sentence_transformers\.json: field "default_prompt_name" \("passage"\) is not one of the prompts/);
  });
});
