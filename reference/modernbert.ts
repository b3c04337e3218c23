// ModernBERT, top to bottom, on a packed batch (no padding is ever computed):
//   embeddings -> N x [attnNorm (not on layer 0), attention (global | local window), mlpNorm, GeGLU MLP]
//   -> finalNorm -> heads (MLM logits with the tied decoder; classification with cls or mean pooling).
// Semantics are Hugging Face transformers' ModernBertModel / ForMaskedLM / ForSequenceClassification.
import { type ModernBertConfig, type Pooling, isGlobalLayer, slidingWindow } from './config.ts';
import { type Checkpoint, type LinearWeights, type ModernBertWeights, type NormWeights, randomTensors, weightsFromTensors } from './checkpoint.ts';
import { UNLIMITED, type Window, varlenAttentionSteps } from './attention.ts';
import { type FloatArray, type Precision, type RopeTables, activation, add, applyRope, glu, layerNorm, linear, ropeTables } from './ops.ts';
import { BatchError, type PackedBatch, type PaddedBatch, pack, packPadded } from './unpad.ts';
import { type Steps, complete, completeAsync, rowsPerStep } from './steps.ts';

export interface ModernBertModel {
  config: ModernBertConfig;
  weights: ModernBertWeights;
  precision: Precision;
}

/** A list of unpadded sequences of token ids, a padded batch with its mask, or an already packed batch. */
export type BatchInput = readonly ArrayLike<number>[] | PaddedBatch | PackedBatch;

export interface ForwardOptions {
  /** Return the embedding output and each layer's output (before the final norm), HF's hidden_states. */
  hiddenStates?: boolean;
  /** Compute MLM logits for every token. */
  mlmLogits?: boolean;
  /** Compute pooled embeddings and classification logits with these poolings. */
  pooling?: readonly Pooling[];
  /** Compute the classifier on every token (token classification; question answering's start/end logits). */
  tokenLogits?: boolean;
  /** Sequences longer than max_position_embeddings are an error unless this is set. */
  allowLongSequences?: boolean;
  /** The precision the RoPE cos/sin tables are built in (default: the model's); evals/diff.ts builds them in f16 to reproduce ports that do. */
  ropePrecision?: Precision;
}

export interface ForwardOutput {
  batch: PackedBatch;
  /** [T, C], after the final norm. */
  lastHiddenState: FloatArray;
  /** numHiddenLayers + 1 tensors [T, C]: embeddings, then the output of each layer. */
  hiddenStates?: FloatArray[];
  /** [T, V] */
  mlmLogits?: FloatArray;
  /** [B, C] per pooling: the pooled last hidden state. */
  pooled?: Partial<Record<Pooling, FloatArray>>;
  /** [B, numLabels] per pooling. */
  classifierLogits?: Partial<Record<Pooling, FloatArray>>;
  /** [T, numLabels]: classifier(head(last)) per token, HF's ModernBertForTokenClassification logits; with two labels, ModernBertForQuestionAnswering's start (column 0) and end (column 1) logits. */
  tokenLogits?: FloatArray;
}

export function createModel(checkpoint: Checkpoint, precision: Precision): ModernBertModel {
  return { config: checkpoint.config, weights: checkpoint.weights, precision };
}

/** A model with seeded random weights (HF's initialization), so any config runs with no download. */
export function randomModel(config: ModernBertConfig, precision: Precision, seed = 0): ModernBertModel {
  return { config, precision, weights: weightsFromTensors(config, randomTensors(config, seed), precision, `random weights (seed ${seed})`) };
}

export function toPackedBatch(input: BatchInput): PackedBatch {
  if (Array.isArray(input)) return pack(input);
  if ('cuSeqlens' in (input as PackedBatch)) return input as PackedBatch;
  return packPadded(input as PaddedBatch);
}

/** Token ids must index the vocabulary; lengths must fit max_position_embeddings unless allowed. */
export function validateBatch(config: ModernBertConfig, batch: PackedBatch, options: ForwardOptions = {}): void {
  for (let b = 0; b < batch.batchSize; b++) {
    const start = batch.cuSeqlens[b];
    const n = batch.cuSeqlens[b + 1] - start;
    if (n > config.maxPositionEmbeddings && !options.allowLongSequences) {
      throw new BatchError(`sequence ${b} has ${n} tokens, more than max_position_embeddings (${config.maxPositionEmbeddings}); pass allowLongSequences to run it anyway`);
    }
    for (let i = 0; i < n; i++) {
      const id = batch.tokens[start + i];
      if (id >= config.vocabSize) throw new BatchError(`token id ${id} at sequence ${b}, position ${i} is out of range: vocab_size is ${config.vocabSize}`);
    }
  }
}

export function forward(model: ModernBertModel, input: BatchInput, options: ForwardOptions = {}): ForwardOutput {
  return complete(forwardSteps(model, input, options));
}

/** forward, giving the event loop a turn every few milliseconds (Ctrl-C, timers): for long passes in a process that does other work. */
export function forwardAsync(model: ModernBertModel, input: BatchInput, options: ForwardOptions = {}): Promise<ForwardOutput> {
  return completeAsync(forwardSteps(model, input, options));
}

/** The forward pass as steps of a few milliseconds (reference/steps.ts). */
export function* forwardSteps(model: ModernBertModel, input: BatchInput, options: ForwardOptions = {}): Steps<ForwardOutput> {
  const { config, weights, precision: p } = model;
  const batch = toPackedBatch(input);
  validateBatch(config, batch, options);
  if (options.mlmLogits && !weights.decoder) throw new BatchError('this checkpoint has no MLM head (head.*, and decoder.bias when decoder_bias is set)');
  if ((options.pooling?.length || options.tokenLogits) && !(weights.head && weights.classifier)) throw new BatchError('this checkpoint has no classification head (head.*, classifier.weight, classifier.bias)');

  const ropeP = options.ropePrecision ?? p;
  const rope = {
    global: ropeTables(ropeP, config.globalRopeTheta, config.headDim, batch.maxSeqlen),
    local: ropeTables(ropeP, config.localRopeTheta, config.headDim, batch.maxSeqlen),
  };
  let hidden = embeddings(model, batch);
  const hiddenStates = options.hiddenStates ? [hidden] : undefined;
  for (let l = 0; l < config.numHiddenLayers; l++) {
    hidden = yield* encoderLayer(model, l, hidden, batch, isGlobalLayer(config, l) ? rope.global : rope.local);
    hiddenStates?.push(hidden);
  }
  const lastHiddenState = norm(model, weights.finalNorm, hidden, batch.totalTokens);

  const out: ForwardOutput = { batch, lastHiddenState, hiddenStates };
  if (options.mlmLogits) out.mlmLogits = yield* mlmHead(model, lastHiddenState, batch.totalTokens);
  if (options.pooling?.length) {
    out.pooled = {};
    out.classifierLogits = {};
    for (const pooling of options.pooling) {
      const pooled = pool(p, lastHiddenState, batch, config.hiddenSize, pooling);
      out.pooled[pooling] = pooled;
      out.classifierLogits[pooling] = yield* classifierHead(model, pooled, batch.batchSize);
    }
  }
  if (options.tokenLogits) out.tokenLogits = yield* classifierHead(model, lastHiddenState, batch.totalTokens);
  return out;
}

/** tokens[T] -> norm(tokEmbeddings[tokens]) [T, C]. No position embeddings: RoPE carries position. */
export function embeddings(model: ModernBertModel, batch: PackedBatch): FloatArray {
  const { weights, precision: p } = model;
  const C = model.config.hiddenSize;
  const x = p.alloc(batch.totalTokens * C);
  for (let t = 0; t < batch.totalTokens; t++) x.set(weights.tokEmbeddings.subarray(batch.tokens[t] * C, (batch.tokens[t] + 1) * C), t * C);
  return norm(model, weights.embeddingNorm, x, batch.totalTokens);
}

/** Pre-norm residual layer: h + attention(attnNorm(h)), then h + mlp(mlpNorm(h)). */
export function* encoderLayer(model: ModernBertModel, l: number, hidden: FloatArray, batch: PackedBatch, rope: RopeTables): Steps<FloatArray> {
  const layer = model.weights.layers[l];
  const T = batch.totalTokens;
  const attnIn = layer.attnNorm ? norm(model, layer.attnNorm, hidden, T) : hidden;
  hidden = add(model.precision, hidden, yield* attention(model, l, attnIn, batch, rope));
  return add(model.precision, hidden, yield* mlp(model, l, norm(model, layer.mlpNorm, hidden, T), T));
}

/** Wqkv -> RoPE on q and k -> varlen attention (window on local layers) -> Wo. x[T, C] -> [T, C]. */
export function* attention(model: ModernBertModel, l: number, x: FloatArray, batch: PackedBatch, rope: RopeTables): Steps<FloatArray> {
  const { config, precision: p } = model;
  const layer = model.weights.layers[l];
  const { numAttentionHeads: H, headDim: D, hiddenSize: C } = config;
  const qkv = yield* dense(p, x, layer.wqkv, batch.totalTokens); // [T, 3, H, D]
  for (let t = 0; t < batch.totalTokens; t++) {
    for (let h = 0; h < H; h++) {
      applyRope(p, qkv, t * 3 * C + h * D, batch.positions[t], rope); // q
      applyRope(p, qkv, t * 3 * C + C + h * D, batch.positions[t], rope); // k
    }
  }
  const w = slidingWindow(config);
  const window: Window = isGlobalLayer(config, l) ? UNLIMITED : [w, w];
  const context = yield* varlenAttentionSteps(p, qkv, batch.cuSeqlens, H, D, window); // [T, C]
  return yield* dense(p, context, layer.wo, batch.totalTokens);
}

/** GLU MLP (GeGLU with gelu): Wo(act(Wi(x)[:, :I]) * Wi(x)[:, I:]), act = hidden_activation. x[T, C] -> [T, C]. */
export function* mlp(model: ModernBertModel, l: number, x: FloatArray, T: number): Steps<FloatArray> {
  const { config, precision: p } = model;
  const layer = model.weights.layers[l];
  const u = yield* dense(p, x, layer.wi, T); // [T, 2I]
  return yield* dense(p, glu(p, u, T, config.intermediateSize, config.hiddenActivation), layer.mlpWo, T);
}

/** MLM logits [T, V] = decoder(head(x)), the decoder tied to the token embeddings. */
export function* mlmHead(model: ModernBertModel, x: FloatArray, T: number): Steps<FloatArray> {
  const { config, weights, precision: p } = model;
  const decoder = weights.decoder!;
  return yield* dense(p, yield* predictionHead(model, x, T), { ...decoder, outFeatures: config.vocabSize, inFeatures: config.hiddenSize }, T);
}

/** Classification logits [N, numLabels] = classifier(head(x)): x is pooled [B, C], or every token [T, C]. */
export function* classifierHead(model: ModernBertModel, pooled: FloatArray, B: number): Steps<FloatArray> {
  return yield* dense(model.precision, yield* predictionHead(model, pooled, B), model.weights.classifier!, B);
}

/** ModernBertPredictionHead: norm(act(dense(x))), act = classifier_activation. x[N, C] -> [N, C]. */
export function* predictionHead(model: ModernBertModel, x: FloatArray, N: number): Steps<FloatArray> {
  const head = model.weights.head!;
  return norm(model, head.norm, activation(model.precision, yield* dense(model.precision, x, head.dense, N), model.config.classifierActivation), N);
}

/** last[T, C] -> pooled[B, C]: the first token (cls) or the mean over each sequence's real tokens (mean). */
export function pool(p: Precision, last: FloatArray, batch: PackedBatch, C: number, pooling: Pooling): FloatArray {
  const out = p.alloc(batch.batchSize * C);
  for (let b = 0; b < batch.batchSize; b++) {
    const start = batch.cuSeqlens[b];
    const n = batch.cuSeqlens[b + 1] - start;
    if (pooling === 'cls') {
      out.set(last.subarray(start * C, (start + 1) * C), b * C);
      continue;
    }
    for (let c = 0; c < C; c++) {
      let sum = 0;
      for (let t = start; t < start + n; t++) sum = p.round(sum + last[t * C + c]);
      out[b * C + c] = p.round(sum / n);
    }
  }
  return out;
}

/** x[rows, in] -> [rows, out], a block of rows per step. */
function* dense(p: Precision, x: FloatArray, w: LinearWeights, rows: number): Steps<FloatArray> {
  const { weight, bias, outFeatures: N, inFeatures: K } = w;
  const y = p.alloc(rows * N);
  const block = 4 * Math.ceil(rowsPerStep(N * K) / 4); // linear computes rows four at a time
  for (let r = 0; r < rows; r += block) {
    const n = Math.min(block, rows - r);
    y.set(linear(p, x.subarray(r * K, (r + n) * K), weight, bias, n, N, K), r * N);
    yield;
  }
  return y;
}

function norm(model: ModernBertModel, w: NormWeights, x: FloatArray, rows: number): FloatArray {
  return layerNorm(model.precision, x, w.weight, w.bias, rows, model.config.hiddenSize, model.config.normEps);
}
