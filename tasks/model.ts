// The library API: a checkpoint folder (config.json, model.safetensors, tokenizer.json,
// tokenizer_config.json) as a model that embeds, fills masks and classifies texts, on any backend. Texts are
// tokenized here, batched by length (so packed batches stay dense), and results come back in input order.
// Texts longer than the model's maximum length are an error unless the caller asks for truncation.
import type { Checkpoint } from '../reference/checkpoint.ts';
import type { ModernBertConfig } from '../reference/config.ts';
import { type BatchInput, type ForwardOptions, type ForwardOutput, forwardAsync as referenceForward, pool } from '../reference/modernbert.ts';
import { fp32 } from '../reference/ops.ts';
import { assertFinite } from '../reference/finite.ts';
import type { EncodeOptions, ModernBertTokenizer, TextInput } from '../reference/tokenizer.ts';
import { MAX_ELEMENTS } from '../optimized/gpujs/kernels.ts';
import { type AttentionChoice, type GemmChoice, type KernelChoice, kernelChoiceProblem } from '../optimized/webgpu/kernels/tiles.ts';
import { ModelInputError, quoteText } from './errors.ts';
import type { HubOptions } from './hub.ts';
import { AGGREGATIONS, type Aggregation, type EntityGroup, type TokenEntity, tokenEntities } from './token-classification.ts';
import { type CrossEncoderConfig, SIMILARITIES, type SentenceTransformerModules, sentenceEmbedding, unit } from './sentence-transformers.ts';

/** reference (pure TypeScript), webgpu (WGSL engine), gpujs[:mode]; auto: webgpu on a real GPU, else reference. */
export type Backend = 'reference' | 'webgpu' | 'gpujs' | 'gpujs:webgpu' | 'gpujs:webasm' | 'gpujs:cpu';
export const BACKENDS: readonly Backend[] = ['reference', 'webgpu', 'gpujs', 'gpujs:webgpu', 'gpujs:webasm', 'gpujs:cpu'];

export interface LoadModelOptions extends HubOptions {
  backend?: Backend | 'auto';
  /** the folder's sentence-transformers modules (loadModel reads them from modules.json) */
  sentenceTransformers?: SentenceTransformerModules | null;
  /** the folder's cross-encoder settings (loadModel reads them from config_sentence_transformers.json) */
  crossEncoder?: CrossEncoderConfig | null;
  /** webgpu only: 'f16' stores weights and activations as f16 (f32 arithmetic; half the weight memory). Default f32. */
  dtype?: 'f32' | 'f16';
  /** check every output of every pass for NaN and infinity: a NumericError names the first (default false: a scan of the outputs per pass) */
  checkFinite?: boolean;
  /** webgpu only: run every GEMM on this kernel instead of the tuned or default one; 'sgmat' (subgroup matrices, emulated where the device has none) needs dtype f16 */
  gemm?: GemmChoice;
  /** webgpu only: run every attention on this kernel; 'flash_sgmat' (subgroup matrices) needs dtype f16 */
  attention?: AttentionChoice;
}

export interface TextOptions {
  /** What to do with a text longer than the maximum length: 'error' (default) or 'truncate'. */
  truncation?: EncodeOptions['truncation'];
  /** Called after each batch with the number of texts done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface FillMaskPrediction {
  token: number;
  tokenStr: string;
  /** softmax of the MLM logits at the mask */
  score: number;
  /** the text with this token in place of the mask */
  sequence: string;
}

export interface Classification {
  /** the best label (config.json's id2label) and its score (softmax, sigmoid or raw: see classify) */
  label: string;
  score: number;
  /** every label with its score, best first */
  scores: { label: string; score: number }[];
}

export { ModelInputError };

/** One document of rerank(), best first. */
export interface Reranked {
  /** its position in the documents passed */
  index: number;
  document: string;
  /** the classifier's raw outputs for (query, document) */
  logits: number[];
  /** the activated outputs (see rerank) */
  scores: number[];
  /** the relevance it is ranked by: scores[0] for one output, scores[1] for two */
  score: number;
}

/** embed()'s options. Where the folder has sentence-transformers modules, they pool unless `pooling` is given. */
export interface EmbedOptions extends TextOptions {
  /** pool the last hidden state this way instead of the folder's sentence-transformers modules */
  pooling?: 'mean' | 'cls';
  /** L2-normalize the result (after any Matryoshka truncation) */
  normalize?: boolean;
  /** text put before every text (default: the folder's default prompt, if any) */
  prompt?: string;
  /** a prompt of the folder's config_sentence_transformers.json, by name */
  promptName?: string;
  /** Matryoshka: keep the first `dimensions` values */
  dimensions?: number;
}

/** Tokens per forward pass when texts are batched: long enough to keep the GEMMs busy, bounded in memory. */
const TOKENS_PER_BATCH = 8192;

export class ModernBertPipeline {
  private constructor(
    readonly config: ModernBertConfig,
    /** null when loaded from {config, weights} without one: forward() works, the text tasks do not */
    readonly tokenizer: ModernBertTokenizer | null,
    /** the backend that runs */
    readonly backend: Backend,
    private readonly run: (batch: BatchInput, options: ForwardOptions) => Promise<ForwardOutput>,
    private readonly close: () => void,
    /** whether sequences of these lengths fit one forward pass of the backend (gpu.js: its f32 index limit) */
    private readonly fits: (lengths: readonly number[]) => boolean = () => true,
  ) {}

  /** sentence-transformers modules (pooling, Dense, Normalize) and prompts, or null: a plain encoder */
  sentenceTransformers: SentenceTransformerModules | null = null;
  /** a cross-encoder folder's settings, or null (rerank then scores with sentence-transformers' defaults) */
  crossEncoder: CrossEncoderConfig | null = null;

  static async create(checkpoint: Checkpoint, tokenizer: ModernBertTokenizer | null, { backend = 'auto', dtype = 'f32', sentenceTransformers = null, crossEncoder = null, checkFinite = false, gemm, attention }: LoadModelOptions = {}): Promise<ModernBertPipeline> {
    const pipeline = await ModernBertPipeline.onBackend(checkpoint, tokenizer, backend, dtype, checkFinite, { ...(gemm && { gemm }), ...(attention && { attention }) });
    pipeline.sentenceTransformers = sentenceTransformers;
    pipeline.crossEncoder = crossEncoder;
    return pipeline;
  }

  private static async onBackend(checkpoint: Checkpoint, tokenizer: ModernBertTokenizer | null, backend: Backend | 'auto', dtype: 'f32' | 'f16', checkFinite: boolean, kernels: KernelChoice): Promise<ModernBertPipeline> {
    const { config } = checkpoint;
    if (tokenizer && tokenizer.vocabSize > config.vocabSize) throw new ModelInputError(`the tokenizer has ${tokenizer.vocabSize} ids but config.json's vocab_size is ${config.vocabSize}`);
    if (dtype !== 'f32' && dtype !== 'f16') throw new ModelInputError(`dtype must be f32 or f16, got "${dtype}"`);
    const chosen = backend === 'auto' ? await autoBackend() : backend;
    if (!BACKENDS.includes(chosen)) throw new ModelInputError(`unknown backend "${chosen}" (available: auto, ${BACKENDS.join(', ')})`);
    if (dtype === 'f16' && chosen !== 'webgpu') throw new ModelInputError(`dtype f16 is the webgpu backend's (f16 storage); ${chosen} computes and stores f32`);
    const forced = Object.keys(kernels);
    if (forced.length && chosen !== 'webgpu') throw new ModelInputError(`${forced[0]} chooses a kernel of the webgpu backend; ${chosen} has its own`);
    const problem = kernelChoiceProblem(kernels, dtype);
    if (problem) throw new ModelInputError(problem);
    type Run = (batch: BatchInput, options: ForwardOptions) => Promise<ForwardOutput>;
    const guard = (name: string, run: Run): Run => (checkFinite ? async (batch, options) => {
      const out = await run(batch, options);
      assertFinite(out, `the ${name} backend's output`);
      return out;
    } : run);
    if (chosen === 'reference') {
      const model = { ...checkpoint, precision: fp32 };
      return new ModernBertPipeline(config, tokenizer, chosen, guard(chosen, (batch, options) => referenceForward(model, batch, options)), () => {});
    }
    if (chosen === 'webgpu') {
      const { holdSharedDevice } = await import('../optimized/webgpu/device.ts');
      const gpu = await import('../optimized/webgpu/modernbert.ts');
      const { loadTuning } = await import('../optimized/webgpu/tuning-cache.ts');
      // Held, not kept: the last model's dispose() destroys the device, and the process can exit.
      const { ctx, release } = await holdSharedDevice();
      let model: ReturnType<typeof gpu.createWebGpuModel>;
      try {
        model = gpu.createWebGpuModel(ctx, checkpoint, dtype, (await loadTuning(ctx.adapter)).tuning, kernels);
      } catch (e) {
        await release();
        throw e;
      }
      const close = () => {
        gpu.destroyModel(model);
        return release();
      };
      return new ModernBertPipeline(config, tokenizer, chosen, guard(chosen, (batch, options) => gpu.forward(model, batch, options)), close);
    }
    const gpujs = await import('../optimized/gpujs/modernbert.ts');
    const model = await gpujs.createGpuJsModel(checkpoint, chosen === 'gpujs' ? 'auto' : (chosen.split(':')[1] as 'webgpu' | 'webasm' | 'cpu'));
    const fits = (lengths: readonly number[]) => gpujs.largestTensor(config, lengths).values < MAX_ELEMENTS;
    return new ModernBertPipeline(config, tokenizer, `gpujs:${model.mode}`, guard(`gpujs:${model.mode}`, (batch, options) => gpujs.forward(model, batch, options)), () => gpujs.destroyModel(model), fits);
  }

  /** Raw outputs of one forward pass (the reference's ForwardOutput), on the backend. */
  forward(batch: BatchInput, options: ForwardOptions = {}): Promise<ForwardOutput> {
    return this.run(batch, options);
  }

  /**
   * One embedding per text, as SentenceTransformer.encode computes it where the folder has sentence-transformers
   * modules (its pooling, with the prompt's tokens left out unless include_prompt; Dense; Normalize; the default
   * prompt unless another is given), else the last hidden state pooled (mean over tokens, or the [CLS] token).
   * Then Matryoshka truncation to `dimensions`, then L2 normalization if asked.
   */
  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    const C = this.config.hiddenSize;
    const st = options.pooling === undefined ? this.sentenceTransformers : null;
    const prompt = this.prompt(options);
    // sentence-transformers' prompt_length: the prompt's tokens with [CLS], without its closing [SEP]
    const promptLength = prompt ? this.textTokenizer().encode(prompt).length - 1 : 0;
    if (options.dimensions !== undefined && !(Number.isInteger(options.dimensions) && options.dimensions >= 1)) throw new ModelInputError(`dimensions must be a positive integer, got ${options.dimensions}`);
    return this.inBatches(this.encodeTexts(prompt ? texts.map((t) => prompt + t) : texts, options), options, {}, (out) => {
      const pooled = st ? null : (pool(fp32, out.lastHiddenState, out.batch, C, options.pooling ?? 'mean') as Float32Array);
      return Array.from({ length: out.batch.batchSize }, (_, b) => {
        const [start, end] = [out.batch.cuSeqlens[b], out.batch.cuSeqlens[b + 1]];
        let v = st ? sentenceEmbedding(st, out.lastHiddenState.subarray(start * C, end * C) as Float32Array, end - start, C, promptLength) : pooled!.slice(b * C, (b + 1) * C);
        if (options.dimensions !== undefined) {
          if (options.dimensions > v.length) throw new ModelInputError(`dimensions ${options.dimensions} is more than the embedding's ${v.length}`);
          v = v.slice(0, options.dimensions);
        }
        return options.normalize ? Float32Array.from(unit(Float64Array.from(v))) : v;
      });
    });
  }

  /** The similarity of two embeddings by the folder's similarity_fn_name (cosine when it names none). */
  similarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
    if (a.length !== b.length) throw new ModelInputError(`embeddings of different sizes: ${a.length} and ${b.length}`);
    return SIMILARITIES[this.sentenceTransformers?.similarity ?? 'cosine'](a, b);
  }

  /** The prompt embed() puts before each text: explicit, by name, or the folder's default ('' for none). */
  private prompt(options: EmbedOptions): string {
    if (options.prompt !== undefined && options.promptName !== undefined) throw new ModelInputError('pass prompt or promptName, not both');
    if (options.prompt !== undefined) return options.prompt;
    const prompts = this.sentenceTransformers?.prompts ?? {};
    if (options.promptName !== undefined) {
      if (!(options.promptName in prompts)) throw new ModelInputError(`promptName "${options.promptName}" is not one of this model's prompts (${Object.keys(prompts).join(', ') || 'it has none'})`);
      return prompts[options.promptName];
    }
    const fallback = this.sentenceTransformers?.defaultPromptName;
    return fallback ? prompts[fallback] : '';
  }

  /** The topK tokens for the text's [MASK], scored by the softmax of the MLM logits there. */
  async fillMask(text: string, options: Omit<TextOptions, 'onProgress'> & { topK?: number } = {}): Promise<FillMaskPrediction[]> {
    const topK = options.topK ?? 5;
    if (!(Number.isInteger(topK) && topK >= 1)) throw new ModelInputError(`topK must be a positive integer, got ${topK}`);
    const tokenizer = this.textTokenizer();
    const maxLength = this.maxLength(tokenizer);
    const ids = tokenizer.encode(text, { maxLength, truncation: options.truncation });
    const at = ids.indexOf(tokenizer.maskTokenId);
    if (at < 0) {
      const whole = tokenizer.encode(text, { maxLength: Number.MAX_SAFE_INTEGER });
      const cut = whole.indexOf(tokenizer.maskTokenId);
      if (cut >= 0) throw new ModelInputError(`truncation to ${maxLength} tokens removed the ${tokenizer.maskToken} (token ${cut + 1} of the text's ${whole.length}): shorten the text or put the ${tokenizer.maskToken} earlier: ${quoteText(text)}`);
      throw new ModelInputError(`the text has no ${tokenizer.maskToken} token: ${quoteText(text)}`);
    }
    const V = this.config.vocabSize;
    const out = await this.run([ids], { mlmLogits: true });
    const probabilities = softmax(out.mlmLogits!.subarray(at * V, (at + 1) * V));
    const order = Array.from({ length: V }, (_, t) => t).sort((a, b) => probabilities[b] - probabilities[a]).slice(0, topK);
    return order.map((token) => ({
      token,
      tokenStr: tokenizer.decode([token]),
      score: probabilities[token],
      sequence: tokenizer.decode(ids.map((id, j) => (j === at ? token : id))),
    }));
  }

  /**
   * The label of each text (sequence classification head, config.json's classifier_pooling and id2label), scored
   * as HF's text-classification pipeline does: raw logits for problem_type regression; a sigmoid per label for
   * multi_label_classification or a single label (a softmax over one logit would always be 1); else a softmax.
   */
  async classify(texts: readonly string[], options: TextOptions = {}): Promise<Classification[]> {
    const { classifierPooling: pooling, id2label, problemType } = this.config;
    const n = id2label.length; // loading checked classifier.weight against id2label
    const scoring = problemType === 'regression' ? (x: ArrayLike<number>) => Float64Array.from(x) : problemType === 'multi_label_classification' || n === 1 ? sigmoid : softmax;
    return this.inBatches(this.encodeTexts(texts, options), options, { pooling: [pooling] }, (out) => {
      const logits = out.classifierLogits![pooling]!;
      return Array.from({ length: out.batch.batchSize }, (_, b) => {
        const p = scoring(logits.subarray(b * n, (b + 1) * n));
        const scores = id2label.map((label, i) => ({ label, score: p[i] })).sort((x, y) => y.score - x.score);
        return { label: scores[0].label, score: scores[0].score, scores };
      });
    });
  }

  /**
   * Cross-encoder reranking: the classifier on each (query, document) pair, best first. One output (a reranker)
   * is activated by the folder's activation_fn, by default a sigmoid (a softmax over one logit would score every
   * document 1.0); two outputs get a softmax and rank by the second ("relevant"), as sentence-transformers'
   * CrossEncoder.predict(apply_softmax=True).
   */
  async rerank(query: string, documents: readonly string[], options: TextOptions & { topK?: number } = {}): Promise<Reranked[]> {
    const { classifierPooling: pooling, id2label } = this.config;
    const n = id2label.length;
    // A cross-encoder folder says so itself (config_sentence_transformers.json); else its config.json names the head.
    if (!this.crossEncoder) this.requireHead('rerank', 'ModernBertForSequenceClassification', 'a cross-encoder: a sequence classification head with 1 or 2 labels');
    if (n > 2) throw new ModelInputError(`rerank needs a cross-encoder with one or two outputs; this classifier has ${n} (id2label, num_labels)`);
    const topK = options.topK ?? documents.length;
    if (!(Number.isInteger(topK) && topK >= 1)) throw new ModelInputError(`topK must be a positive integer, got ${topK}`);
    const activate = n === 2 ? softmax : this.crossEncoder?.activation === 'identity' ? (x: ArrayLike<number>) => Float64Array.from(x) : sigmoid;
    const results = await this.inBatches(this.encodeTexts(documents.map((d) => [query, d] as const), options), options, { pooling: [pooling] }, (out) => {
      const logits = out.classifierLogits![pooling]!;
      return Array.from({ length: out.batch.batchSize }, (_, b) => {
        const raw = Array.from(logits.subarray(b * n, (b + 1) * n));
        const scores = Array.from(activate(raw));
        return { logits: raw, scores, score: scores[n - 1] };
      });
    });
    return results
      .map((r, index) => ({ index, document: documents[index], ...r }))
      .sort((a, b) => b.score - a.score)
      .slice(0, topK);
  }

  /**
   * Multiple choice (a ModernBertForMultipleChoice checkpoint): the prompt paired with each choice, scored by
   * the one-output classifier (config.json's classifier_pooling; CLS is each pair's first token, as HF finds
   * it), and the softmax over the choices. Returns the best choice's index, the logits and the probabilities.
   */
  async multipleChoice(prompt: string, choices: readonly string[], options: TextOptions = {}): Promise<{ index: number; logits: number[]; probabilities: number[] }> {
    if (!this.config.multipleChoice) throw new ModelInputError('multipleChoice needs a ModernBertForMultipleChoice checkpoint (config.json architectures)');
    const pooling = this.config.classifierPooling;
    const logits = await this.inBatches(this.encodeTexts(choices.map((c) => [prompt, c] as const), options), options, { pooling: [pooling] }, (out) => Array.from(out.classifierLogits![pooling]!));
    const probabilities = Array.from(softmax(logits));
    return { index: probabilities.indexOf(Math.max(...probabilities)), logits, probabilities };
  }

  /**
   * Token classification (NER, PII) as HF's token-classification pipeline: for each text its entities with
   * character offsets into the text, by the aggregation strategy (default none: every token not labelled O).
   * A text given as words (pre-tokenized, HF's is_split_into_words) is tokenized word by word with no prefix
   * space, as HF does for this tokenizer, and its offsets are into the words joined by spaces.
   */
  async tokenClassify(texts: readonly (string | readonly string[])[], options: TextOptions & { aggregation?: Aggregation; ignoreLabels?: readonly string[] } = {}): Promise<(TokenEntity | EntityGroup)[][]> {
    const aggregation = options.aggregation ?? 'none';
    if (!AGGREGATIONS.includes(aggregation)) throw new ModelInputError(`aggregation must be one of ${AGGREGATIONS.join(', ')}, got "${aggregation}"`);
    if (texts.length === 0) throw new ModelInputError('no texts: pass at least one');
    this.requireHead('tokenClassify', 'ModernBertForTokenClassification', 'a token classification head');
    const tokenizer = this.textTokenizer();
    const n = this.config.id2label.length;
    const encodeOptions = { maxLength: this.maxLength(tokenizer), truncation: options.truncation };
    const tokens = texts.map((t) => tokenizer.encodeWithOffsets(t, encodeOptions));
    const logits = await this.inBatches(tokens.map((t) => t.ids), options, { tokenLogits: true }, (out) =>
      Array.from({ length: out.batch.batchSize }, (_, b) => out.tokenLogits!.slice(out.batch.cuSeqlens[b] * n, out.batch.cuSeqlens[b + 1] * n)),
    );
    return texts.map((input, i) => {
      const t = tokens[i];
      const text = typeof input === 'string' ? input : input.join(' ');
      const scores = t.tokens.map((_, k) => softmax(logits[i].subarray((t.first + k) * n, (t.first + k + 1) * n)));
      return tokenEntities({ text, tokens: t.tokens, offsets: t.offsets, first: t.first, scores }, this.config.id2label, aggregation, tokenizer.tokensToString, options.ignoreLabels);
    });
  }

  /**
   * A task that needs a trained head: an error when config.json's architectures names another one (a masked-LM
   * checkpoint's classifier weights are not a trained head, and its results would mean nothing). A config that
   * names none is taken at its word.
   */
  private requireHead(task: string, architecture: string, what: string): void {
    const { architectures, id2label } = this.config;
    if (architectures.length && !architectures.includes(architecture)) {
      throw new ModelInputError(`${task} needs ${what} (architectures ${architecture}); this checkpoint's config.json has architectures ${architectures.join(', ')} (num_labels ${id2label.length})`);
    }
  }

  /** Frees the backend's resources (GPU buffers, gpu.js workers). */
  dispose(): void {
    this.close();
  }

  private textTokenizer(): ModernBertTokenizer {
    if (!this.tokenizer) throw new ModelInputError('this model has no tokenizer (load a folder with tokenizer.json, or pass one): only forward() takes token ids');
    return this.tokenizer;
  }

  /** The longest text: the tokenizer's model_max_length, at most the model's max_position_embeddings. */
  private maxLength(tokenizer: ModernBertTokenizer): number {
    return Math.min(tokenizer.maxLength, this.config.maxPositionEmbeddings);
  }

  /**
   * Tokenizes every text first (a bad text fails before any work), then runs them in batches of similar
   * length (sorted, up to TOKENS_PER_BATCH tokens, and what the backend fits) and returns the results in
   * input order.
   */
  /** Every text's ids (a bad text fails before any work), naming the text at fault. */
  private encodeTexts(texts: readonly TextInput[], options: TextOptions): number[][] {
    if (texts.length === 0) throw new ModelInputError('no texts: pass at least one');
    const tokenizer = this.textTokenizer();
    return tokenizer.encodeBatch(texts, { maxLength: this.maxLength(tokenizer), truncation: options.truncation });
  }

  private async inBatches<R>(ids: readonly number[][], options: TextOptions, forwardOptions: ForwardOptions, collect: (out: ForwardOutput) => R[]): Promise<R[]> {
    const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length);
    const results = new Array<R>(ids.length);
    for (let start = 0; start < order.length; ) {
      const lengths = [ids[order[start]].length];
      let tokens = lengths[0];
      let end = start + 1;
      for (; end < order.length; end++) {
        const n = ids[order[end]].length;
        if (tokens + n > TOKENS_PER_BATCH || !this.fits([...lengths, n])) break;
        lengths.push(n);
        tokens += n;
      }
      const batch = order.slice(start, end);
      collect(await this.run(batch.map((i) => ids[i]), forwardOptions)).forEach((r, k) => (results[batch[k]] = r));
      start = end;
      options.onProgress?.(end, ids.length);
      // A turn of the event loop between batches: the CPU backends compute a batch without one, and signals
      // (Ctrl-C on the CLI), timers and I/O would otherwise wait for the whole call.
      if (start < order.length) await new Promise((resolve) => (globalThis.setImmediate ?? setTimeout)(resolve));
    }
    return results;
  }
}

let autoAnnounced = false;

/**
 * webgpu when WebGPU finds a real GPU (not SwiftShader), else the reference: decided from the adapter, with no
 * device left open (a device keeps Node running), and said once per process on stderr.
 */
async function autoBackend(): Promise<Backend> {
  const { probeGpu } = await import('../optimized/webgpu/device.ts');
  const { gpu, why } = await probeGpu();
  const chosen = gpu ? 'webgpu' : 'reference';
  if (!autoAnnounced && typeof process !== 'undefined') process.stderr?.write(`modernbert: backend auto chose ${chosen}: ${why}\n`);
  autoAnnounced = true;
  return chosen;
}

function sigmoid(logits: ArrayLike<number>): Float64Array {
  return Float64Array.from(logits, (x) => 1 / (1 + Math.exp(-x)));
}

function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const p = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / sum);
}
