// `modernbert eval fill-mask` and `modernbert eval embeddings`: quick checks that a real checkpoint folder
// (config.json, model.safetensors, tokenizer.json, tokenizer_config.json) behaves like a language model:
// the top predictions for [MASK] in plain sentences, and paraphrases embedding closer than unrelated texts.
import type { Checkpoint } from '../reference/checkpoint.ts';
import { type ForwardOutput, forward, pool } from '../reference/modernbert.ts';
import { fp32 } from '../reference/ops.ts';
import type { ModernBertTokenizer } from '../reference/tokenizer.ts';

export type EvalBackend = 'reference' | 'webgpu';

export const FILL_MASK_PROMPTS = ['The capital of France is [MASK].', 'Paris is the [MASK] of France.', 'The sun rises in the [MASK].', 'She poured a cup of [MASK] for breakfast.'];

// Paraphrase pairs; every text of one pair is unrelated to the texts of the others.
export const EMBEDDING_PAIRS: [string, string][] = [
  ['A man is playing a guitar.', 'Someone plays an acoustic guitar.'],
  ['The stock market fell sharply today.', 'Share prices dropped steeply this afternoon.'],
  ['How do I bake bread at home?', 'What is a simple recipe for homemade bread?'],
];

export interface FillMaskPrediction {
  token: number;
  tokenStr: string;
  score: number;
  /** the text with this token in place of the mask */
  sequence: string;
}

/** One forward pass over the encoded texts on a backend (fp32), with the outputs asked for. */
export async function run(checkpoint: Checkpoint, backend: EvalBackend, ids: number[][], options: { mlmLogits?: boolean }): Promise<ForwardOutput> {
  if (backend === 'reference') return forward({ ...checkpoint, precision: fp32 }, ids, options);
  const { sharedDevice } = await import('../optimized/webgpu/device.ts');
  const gpu = await import('../optimized/webgpu/modernbert.ts');
  const model = gpu.createWebGpuModel(await sharedDevice(), checkpoint);
  try {
    return await gpu.forward(model, ids, options);
  } finally {
    gpu.destroyModel(model);
  }
}

/** The topK predictions for the first mask of each text: softmax (in double) of its MLM logits. */
export async function fillMask(checkpoint: Checkpoint, tokenizer: ModernBertTokenizer, texts: readonly string[], options: { topK?: number; backend?: EvalBackend } = {}): Promise<FillMaskPrediction[][]> {
  const topK = options.topK ?? 5;
  const V = checkpoint.config.vocabSize;
  if (tokenizer.vocabSize > V) throw new Error(`the tokenizer has ${tokenizer.vocabSize} ids but config.json's vocab_size is ${V}`);
  const ids = texts.map((text) => tokenizer.encode(text));
  const maskAt = ids.map((seq, i) => {
    const at = seq.indexOf(tokenizer.maskTokenId);
    if (at < 0) throw new Error(`text ${i + 1} ("${texts[i]}") has no ${tokenizer.maskToken} token`);
    return at;
  });
  const out = await run(checkpoint, options.backend ?? 'reference', ids, { mlmLogits: true });
  return ids.map((seq, i) => {
    const row = (out.batch.cuSeqlens[i] + maskAt[i]) * V;
    const logits = out.mlmLogits!.subarray(row, row + V);
    let max = -Infinity;
    for (const v of logits) max = Math.max(max, v);
    let sum = 0;
    for (const v of logits) sum += Math.exp(v - max);
    const order = Array.from({ length: V }, (_, t) => t).sort((a, b) => logits[b] - logits[a]).slice(0, topK);
    return order.map((token) => ({
      token,
      tokenStr: tokenizer.decode([token]),
      score: Math.exp(logits[token] - max) / sum,
      sequence: tokenizer.decode(seq.map((id, j) => (j === maskAt[i] ? token : id))),
    }));
  });
}

export interface EmbeddingCheck {
  /** cosine similarity of each paraphrase pair (mean pooling) */
  paraphrase: number[];
  /** mean cosine similarity of texts from different pairs */
  unrelatedMean: number;
  /** every paraphrase pair is closer than the unrelated mean */
  pass: boolean;
}

export async function checkEmbeddings(checkpoint: Checkpoint, tokenizer: ModernBertTokenizer, pairs: readonly [string, string][] = EMBEDDING_PAIRS, backend: EvalBackend = 'reference'): Promise<EmbeddingCheck> {
  const texts = pairs.flat();
  // Mean pooling of the last hidden state (as sentence-embedding models do; no classification head needed).
  const out = await run(checkpoint, backend, texts.map((t) => tokenizer.encode(t)), {});
  const C = checkpoint.config.hiddenSize;
  const pooled = pool(fp32, out.lastHiddenState, out.batch, C, 'mean');
  const vector = (i: number) => pooled.subarray(i * C, (i + 1) * C);
  const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let c = 0; c < C; c++) {
      ab += a[c] * b[c];
      aa += a[c] * a[c];
      bb += b[c] * b[c];
    }
    return ab / Math.sqrt(aa * bb);
  };
  const paraphrase = pairs.map((_, p) => cosine(vector(2 * p), vector(2 * p + 1)));
  const unrelated: number[] = [];
  for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) if (Math.floor(i / 2) !== Math.floor(j / 2)) unrelated.push(cosine(vector(i), vector(j)));
  const unrelatedMean = unrelated.reduce((a, b) => a + b, 0) / unrelated.length;
  return { paraphrase, unrelatedMean, pass: paraphrase.every((s) => s > unrelatedMean) };
}
