// `modernbert eval fill-mask` and `modernbert eval embeddings`: quick checks that a real checkpoint folder
// (config.json, model.safetensors, tokenizer.json, tokenizer_config.json) behaves like a language model:
// the top predictions for [MASK] in plain sentences, and paraphrases embedding closer than unrelated texts.
import type { Checkpoint } from '../reference/checkpoint.ts';
import type { ModernBertTokenizer } from '../reference/tokenizer.ts';
import { type Backend, type FillMaskPrediction, ModernBertPipeline } from '../tasks/model.ts';

export const FILL_MASK_PROMPTS = ['The capital of France is [MASK].', 'Paris is the [MASK] of France.', 'The sun rises in the [MASK].', 'She poured a cup of [MASK] for breakfast.'];

// Paraphrase pairs; every text of one pair is unrelated to the texts of the others.
export const EMBEDDING_PAIRS: [string, string][] = [
  ['A man is playing a guitar.', 'Someone plays an acoustic guitar.'],
  ['The stock market fell sharply today.', 'Share prices dropped steeply this afternoon.'],
  ['How do I bake bread at home?', 'What is a simple recipe for homemade bread?'],
];

/** The topK predictions for the mask of each text (the library's fillMask: softmax of the MLM logits). */
export async function fillMask(checkpoint: Checkpoint, tokenizer: ModernBertTokenizer, texts: readonly string[], options: { topK?: number; backend?: Backend } = {}): Promise<FillMaskPrediction[][]> {
  const model = await ModernBertPipeline.create(checkpoint, tokenizer, { backend: options.backend ?? 'reference' });
  try {
    const predictions: FillMaskPrediction[][] = [];
    for (const text of texts) predictions.push(await model.fillMask(text, { topK: options.topK }));
    return predictions;
  } finally {
    model.dispose();
  }
}

export interface EmbeddingCheck {
  /** cosine similarity of each paraphrase pair (mean pooling) */
  paraphrase: number[];
  /** mean cosine similarity of texts from different pairs */
  unrelatedMean: number;
  /** every paraphrase pair is closer than the unrelated mean */
  pass: boolean;
}

export async function checkEmbeddings(checkpoint: Checkpoint, tokenizer: ModernBertTokenizer, pairs: readonly [string, string][] = EMBEDDING_PAIRS, backend: Backend = 'reference'): Promise<EmbeddingCheck> {
  const texts = pairs.flat();
  const C = checkpoint.config.hiddenSize;
  // Mean pooling of the last hidden state (as sentence-embedding models do; no classification head needed).
  const model = await ModernBertPipeline.create(checkpoint, tokenizer, { backend });
  const embeddings = await model.embed(texts, { pooling: 'mean' }).finally(() => model.dispose());
  const vector = (i: number) => embeddings[i];
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
