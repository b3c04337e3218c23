// ModernBERT on gpu.js: the skeleton and names of reference/modernbert.ts, on gpu.js kernels that run as
// WGSL (webgpu), WebAssembly SIMD with worker threads (webasm) or JavaScript (cpu). The batch is packed (no
// padding is computed); in webgpu mode every intermediate stays on the device and only the outputs asked
// for are read back. Attention is materialized (scores, then softmax, then context): the generated-kernel
// baseline the hand-written flash attention of optimized/webgpu is compared against.
import type { Checkpoint, LinearWeights, ModernBertWeights, NormWeights } from '../../reference/checkpoint.ts';
import { type ModernBertConfig, type Pooling, isGlobalLayer, slidingWindow } from '../../reference/config.ts';
import { type BatchInput, type ForwardOptions, type ForwardOutput, toPackedBatch, validateBatch } from '../../reference/modernbert.ts';
import { fp32, ropeTables } from '../../reference/ops.ts';
import { BatchError, type PackedBatch } from '../../reference/unpad.ts';
import { type GpuJsContext, type GpuJsMode, holdGpuJs, releaseGpuJs } from './mode.ts';
import * as k from './kernels.ts';
import { GpuJsKernels, type Tensor, type TokenSequences, MAX_ELEMENTS, tokenSequences } from './kernels.ts';

type Weights = ModernBertWeights<Float32Array>;

export interface GpuJsModel {
  config: ModernBertConfig;
  weights: Weights;
  kernels: GpuJsKernels;
  /** the mode gpu.js runs in, and why auto selection fell back (null when it did not) */
  mode: GpuJsMode;
  fallback: string | null;
}

/** A model on gpu.js in `mode` ('auto': webgpu, else webasm, else cpu); a forced mode that cannot run is an error. */
export async function createGpuJsModel(checkpoint: Checkpoint, mode: GpuJsMode | 'auto' = 'auto'): Promise<GpuJsModel> {
  const weights = checkpoint.weights as Weights;
  if (!(weights.tokEmbeddings instanceof Float32Array)) throw new Error('the gpu.js backend computes in fp32: load the checkpoint with fp32 precision');
  const ctx: GpuJsContext = await holdGpuJs(mode);
  return { config: checkpoint.config, weights, kernels: new GpuJsKernels(ctx), mode: ctx.mode, fallback: ctx.fallback };
}

/** Frees the model's kernels and its gpu.js instance (worker threads; the device, with the last WebGPU model). */
export async function destroyModel(model: GpuJsModel): Promise<void> {
  model.kernels.destroy();
  await releaseGpuJs(model.kernels.ctx);
}

/** What every kernel of a pass needs to know about the batch, as f32 arrays. */
interface BatchTensors {
  seqs: TokenSequences;
  positions: Float32Array;
  cuSeqlens: Float32Array;
}
interface RopeTables {
  cos: Float32Array;
  sin: Float32Array;
}

/**
 * The largest tensor a pass over sequences of these lengths indexes, and what it is. gpu.js indexes in f32, so
 * a pass needs it below 2^24 values (MLM logits run in vocabulary blocks and are not counted).
 */
export function largestTensor(config: ModernBertConfig, lengths: readonly number[]): { values: number; name: string } {
  const T = lengths.reduce((a, b) => a + b, 0);
  const L = Math.max(1, ...lengths);
  const candidates = [
    { values: T * 3 * config.hiddenSize, name: `qkv [${T}, ${3 * config.hiddenSize}]` },
    { values: T * 2 * config.intermediateSize, name: `the Wi output [${T}, ${2 * config.intermediateSize}]` },
    { values: T * config.numAttentionHeads * L, name: `the attention scores [${T} x ${config.numAttentionHeads} heads, ${L}]` },
  ];
  return candidates.reduce((a, b) => (b.values > a.values ? b : a));
}

/** Sequences in consecutive groups whose passes fit gpu.js's f32 indexing; a sequence that fits alone nowhere is an error. */
export function subBatches(config: ModernBertConfig, lengths: readonly number[]): number[][] {
  const groups: number[][] = [];
  for (const n of lengths) {
    const last = groups.at(-1);
    if (last && largestTensor(config, [...last, n]).values < MAX_ELEMENTS) last.push(n);
    else {
      checkSize(config, [n]);
      groups.push([n]);
    }
  }
  return groups;
}

function checkSize(config: ModernBertConfig, lengths: readonly number[]): void {
  const largest = largestTensor(config, lengths);
  if (largest.values >= MAX_ELEMENTS) {
    throw new BatchError(`the gpujs backend cannot run this batch in one pass: ${largest.name} holds ${largest.values} values, and gpu.js indexes in f32, exact below 2^24 = ${MAX_ELEMENTS}; run fewer or shorter sequences per batch`);
  }
}

export async function forward(model: GpuJsModel, input: BatchInput, options: ForwardOptions = {}): Promise<ForwardOutput> {
  const { config, weights, kernels } = model;
  const batch = toPackedBatch(input);
  validateBatch(config, batch, options);
  checkSize(config, Array.from({ length: batch.batchSize }, (_, b) => batch.cuSeqlens[b + 1] - batch.cuSeqlens[b]));
  if (options.mlmLogits && !weights.decoder) throw new BatchError('this checkpoint has no MLM head (head.*, and decoder.bias when decoder_bias is set)');
  if ((options.pooling?.length || options.tokenLogits) && !(weights.head && weights.classifier)) throw new BatchError('this checkpoint has no classification head (head.*, classifier.weight, classifier.bias)');
  const T = batch.totalTokens;
  const inputs: BatchTensors = { seqs: tokenSequences(batch.cuSeqlens), positions: Float32Array.from(batch.positions), cuSeqlens: Float32Array.from(batch.cuSeqlens) };
  const rope = {
    global: ropeTables(fp32, config.globalRopeTheta, config.headDim, batch.maxSeqlen) as RopeTables,
    local: ropeTables(fp32, config.localRopeTheta, config.headDim, batch.maxSeqlen) as RopeTables,
  };

  let hidden = await embeddings(model, batch);
  const hiddenStates = options.hiddenStates ? [hidden] : null;
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const next = await encoderLayer(model, layer, hidden, T, inputs, isGlobalLayer(config, layer) ? rope.global : rope.local);
    if (hiddenStates) hiddenStates.push(next);
    else kernels.release(hidden);
    hidden = next;
  }
  const last = await norm(model, weights.finalNorm, hidden, T);
  if (!hiddenStates) kernels.release(hidden);

  const out: ForwardOutput = { batch, lastHiddenState: await kernels.read(last) };
  if (hiddenStates) {
    out.hiddenStates = [];
    for (const h of hiddenStates) out.hiddenStates.push(await kernels.read(h));
    kernels.release(...hiddenStates);
  }
  if (options.mlmLogits) out.mlmLogits = await mlmHead(model, last, T);
  if (options.pooling?.length) {
    out.pooled = {};
    out.classifierLogits = {};
    for (const pooling of options.pooling) {
      const pooled = await pool(model, last, batch, inputs, pooling);
      const logits = await classifierHead(model, pooled, batch.batchSize);
      out.pooled[pooling] = await kernels.read(pooled);
      out.classifierLogits[pooling] = await kernels.read(logits);
      kernels.release(pooled, logits);
    }
  }
  if (options.tokenLogits) {
    const logits = await classifierHead(model, last, T);
    out.tokenLogits = await kernels.read(logits);
    kernels.release(logits);
  }
  kernels.release(last);
  return out;
}

/**
 * tokens[T] -> norm(tokEmbeddings[tokens]) [T, C]. The gather is a copy, done on the host: a vocabulary table
 * holds more than 2^24 values (50368 x 768 in base), past what a gpu.js kernel indexes exactly.
 */
export async function embeddings(model: GpuJsModel, batch: PackedBatch): Promise<Tensor> {
  const C = model.config.hiddenSize;
  const table = model.weights.tokEmbeddings;
  const gathered = new Float32Array(batch.totalTokens * C);
  for (let t = 0; t < batch.totalTokens; t++) gathered.set(table.subarray(batch.tokens[t] * C, (batch.tokens[t] + 1) * C), t * C);
  return norm(model, model.weights.embeddingNorm, gathered, batch.totalTokens);
}

/** Pre-norm residual layer: h + attention(attnNorm(h)), then h + mlp(mlpNorm(h)). */
export async function encoderLayer(model: GpuJsModel, layer: number, hidden: Tensor, T: number, inputs: BatchTensors, rope: RopeTables): Promise<Tensor> {
  const { kernels } = model;
  const w = model.weights.layers[layer];
  const size = T * model.config.hiddenSize;
  const attnIn = w.attnNorm ? await norm(model, w.attnNorm, hidden, T) : hidden;
  const attended = await attention(model, layer, attnIn, T, inputs, rope);
  if (attnIn !== hidden) kernels.release(attnIn);
  const afterAttention = await k.add(kernels, hidden, attended, size);
  kernels.release(attended);
  const mlpIn = await norm(model, w.mlpNorm, afterAttention, T);
  const mlpOut = await mlp(model, layer, mlpIn, T);
  const out = await k.add(kernels, afterAttention, mlpOut, size);
  kernels.release(mlpIn, mlpOut, afterAttention);
  return out;
}

/** Wqkv -> RoPE on q and k -> varlen attention (window on local layers) -> Wo. x[T, C] -> [T, C]. */
export async function attention(model: GpuJsModel, layer: number, x: Tensor, T: number, inputs: BatchTensors, rope: RopeTables): Promise<Tensor> {
  const { config, kernels } = model;
  const w = model.weights.layers[layer];
  const { numAttentionHeads: H, headDim: D } = config;
  const qkv = await dense(model, x, w.wqkv, T); // [T, 3, H, D]
  const rotated = await k.rope(kernels, qkv, inputs.positions, rope.cos, rope.sin, T, H, D);
  kernels.release(qkv);
  const half = slidingWindow(config);
  const context = await k.attention(kernels, rotated, inputs.seqs, T, H, D, isGlobalLayer(config, layer) ? [-1, -1] : [half, half]);
  kernels.release(rotated);
  const out = await dense(model, context, w.wo, T);
  kernels.release(context);
  return out;
}

/** GLU MLP (GeGLU with gelu): Wo(act(Wi(x)[:, :I]) * Wi(x)[:, I:]), act = hidden_activation. x[T, C] -> [T, C]. */
export async function mlp(model: GpuJsModel, layer: number, x: Tensor, T: number): Promise<Tensor> {
  const w = model.weights.layers[layer];
  const u = await dense(model, x, w.wi, T); // [T, 2I]
  const I = model.config.intermediateSize;
  const activated = await k.activation(model.kernels, u, T * I, model.config.hiddenActivation, I);
  model.kernels.release(u);
  const out = await dense(model, activated, w.mlpWo, T);
  model.kernels.release(activated);
  return out;
}

/**
 * MLM logits [T, V] = decoder(head(x)), the decoder tied to the token embeddings. The decoder runs in blocks
 * of vocabulary rows that keep every index below 2^24, and the blocks are assembled on the host.
 */
export async function mlmHead(model: GpuJsModel, x: Tensor, T: number): Promise<Float32Array> {
  const { config, kernels } = model;
  const { weight, bias } = model.weights.decoder!;
  const C = config.hiddenSize;
  const V = config.vocabSize;
  const h = await predictionHead(model, x, T);
  const logits = new Float32Array(T * V);
  const block = Math.floor((MAX_ELEMENTS - 1) / Math.max(T, C));
  for (let v0 = 0; v0 < V; v0 += block) {
    const n = Math.min(block, V - v0);
    const part = await k.linear(kernels, h, weight.subarray(v0 * C, (v0 + n) * C), bias?.subarray(v0, v0 + n) ?? null, T, n, C);
    const values = await kernels.read(part);
    kernels.release(part);
    for (let t = 0; t < T; t++) logits.set(values.subarray(t * n, (t + 1) * n), t * V + v0);
  }
  kernels.release(h);
  return logits;
}

/** Classification logits [N, numLabels] = classifier(head(x)): x is pooled [B, C], or every token [T, C]. */
export async function classifierHead(model: GpuJsModel, pooled: Tensor, B: number): Promise<Tensor> {
  const h = await predictionHead(model, pooled, B);
  const logits = await dense(model, h, model.weights.classifier!, B);
  model.kernels.release(h);
  return logits;
}

/** ModernBertPredictionHead: norm(act(dense(x))), act = classifier_activation. x[N, C] -> [N, C]. */
export async function predictionHead(model: GpuJsModel, x: Tensor, N: number): Promise<Tensor> {
  const head = model.weights.head!;
  const projected = await dense(model, x, head.dense, N);
  const activated = await k.activation(model.kernels, projected, N * head.dense.outFeatures, model.config.classifierActivation);
  const out = await norm(model, head.norm, activated, N);
  model.kernels.release(projected, activated);
  return out;
}

/** last[T, C] -> pooled[B, C]: the first token (cls) or the mean over each sequence's tokens (mean). */
export function pool(model: GpuJsModel, last: Tensor, batch: PackedBatch, inputs: BatchTensors, pooling: Pooling): Promise<Tensor> {
  return k.pool(model.kernels, last, inputs.cuSeqlens, batch.maxSeqlen, batch.batchSize, model.config.hiddenSize, pooling);
}

function dense(model: GpuJsModel, x: Tensor, w: LinearWeights<Float32Array>, rows: number): Promise<Tensor> {
  return k.linear(model.kernels, x, w.weight, w.bias, rows, w.outFeatures, w.inFeatures);
}

function norm(model: GpuJsModel, w: NormWeights<Float32Array>, x: Tensor, rows: number): Promise<Tensor> {
  return k.layerNorm(model.kernels, x, w.weight, w.bias, rows, model.config.hiddenSize, model.config.normEps);
}
