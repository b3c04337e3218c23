// ModernBERT on WebGPU: the skeleton and names of reference/modernbert.ts, calling WGSL kernel launchers.
// The batch is packed before the embeddings (no padding is computed or stored); every GEMM runs on the T
// real tokens, attention is varlen flash attention (window [w, w] on local layers), and only the outputs
// the caller asks for are read back.
// Storage dtype (f32, or f16 storage): with f16 the linear weights, the embedding table and the activations that
// feed GEMMs and attention (normed inputs, qkv, attention context, GeGLU output) are stored as f16; the residual
// stream, LayerNorm weights, biases, the final hidden state, the heads' activations and every output stay f32.
// Kernels compute in f32, but for the subgroup-matrix ones (tensor cores), which multiply halves and accumulate
// in f32: with f16 storage on an adapter that has them, every GEMM and attention runs on them (modelKernels).
import type { Checkpoint, LinearWeights, ModernBertWeights, NormWeights } from '../../reference/checkpoint.ts';
import { type Activation, type ModernBertConfig, type Pooling, isGlobalLayer, slidingWindow } from '../../reference/config.ts';
import { type BatchInput, type ForwardOptions, type ForwardOutput, toPackedBatch, validateBatch } from '../../reference/modernbert.ts';
import { expectedTensors } from '../../reference/checkpoint.ts';
import { fp32, ropeTables } from '../../reference/ops.ts';
import { type PackedBatch, paddedLayout, unpadRows } from '../../reference/unpad.ts';
import type { GpuContext } from './device.ts';
import { BufferPool, type MemoryStats } from './memory.ts';
import * as attentionKernel from './kernels/attention.ts';
import * as embeddingKernel from './kernels/embedding.ts';
import * as gemm from './kernels/gemm.ts';
import { type KernelChoice, kernelChoiceProblem } from './kernels/tiles.ts';
import { Launcher } from './kernels/launch.ts';
import * as layerNormKernel from './kernels/layernorm.ts';
import * as poolKernel from './kernels/pool.ts';
import * as ropeKernel from './kernels/rope.ts';
import { type DType, bytesOf, encode } from './kernels/storage.ts';
import { type Tuning, tunedAttentionTiles, tunedGemmTile } from './tuning.ts';

/** A GEMM's weights: as stored, or packed for the subgroup-matrix GEMM (a model whose GEMMs run sgmat). */
type GemmWeights = GPUBuffer | gemm.PackedWeights;
type GpuLinear = LinearWeights<GPUBuffer, GemmWeights>;
type GpuNorm = NormWeights<GPUBuffer>;
type GpuWeights = ModernBertWeights<GPUBuffer, GemmWeights>;

export interface WebGpuModel {
  config: ModernBertConfig;
  /** storage of the weights and of the activations between GEMMs */
  dtype: DType;
  weights: GpuWeights;
  pool: BufferPool;
  launcher: Launcher;
  /** the kernel choices tuned for this adapter (tuning-cache.ts loadTuning), or null: the launchers' defaults */
  tuning: Tuning | null;
  /** the kernels of every GEMM and attention (modelKernels: forced, or the subgroup-matrix ones with f16 storage
   *  where the adapter has them; sgmat emulated where it has none); absent: the tuned or default kernel */
  kernels: KernelChoice;
}


export interface WebGpuForwardOptions extends ForwardOptions {
  /** Ablation: attention that stores every score row instead of flash attention. */
  attention?: 'flash' | 'materialized';
  /**
   * Ablation: padded execution. Every sequence is padded to the batch's padded length (else the longest)
   * and the pads are computed, as a padded implementation does; attention never sees pads as keys, and the
   * outputs are the real tokens' rows, as in unpadded execution.
   */
  padded?: boolean;
}

/**
 * Uploads a checkpoint's weights once (in `dtype` storage, default f32); they stay resident for every forward pass.
 * `tuning`: the adapter's tuned kernel choices (in Node, `(await loadTuning(ctx.adapter)).tuning`), else the defaults.
 * `kernels`: the GEMM and attention kernels to force; the subgroup-matrix ones need f16 storage (their products are of halves).
 */
export function createWebGpuModel(ctx: GpuContext | null, checkpoint: Checkpoint, dtype: DType = 'f32', tuning: Tuning | null = null, kernels: KernelChoice = {}): WebGpuModel {
  const problem = kernelChoiceProblem(kernels, dtype);
  if (problem) throw new Error(problem);
  const pool = new BufferPool(ctx?.device ?? null);
  const launcher = new Launcher(ctx, pool);
  const upload = (data: ArrayLike<number>, label: string, stored: DType) => launcher.upload(encode(data, stored), label, 'weight');
  const chosen = modelKernels(ctx, checkpoint.config, dtype, kernels, tuning);
  return { config: checkpoint.config, dtype, weights: mapWeights(checkpoint.weights, checkpoint.config.hiddenSize, dtype, upload, gemmPacker(launcher, chosen)), pool, launcher, tuning, kernels: chosen };
}

/** Where every GEMM runs sgmat, its weights are uploaded packed for it (once, in place of the stored layout). */
function gemmPacker(l: Launcher, kernels: KernelChoice): Packer | null {
  return kernels.gemm === 'sgmat' ? (W, s, label) => gemm.packWeights(l, W, s, label) : null;
}

/**
 * The kernels a model runs: the forced ones; with f16 storage on an adapter that has subgroup matrices, every
 * GEMM on sgmat (its tuned tile where tuned), unless this adapter's tuning timed f16 GEMMs and sgmat won none,
 * and attention on flash_sgmat where the head dim fits; the rest absent (the tuned or default kernel).
 */
export function modelKernels(ctx: GpuContext | null, config: ModernBertConfig, dtype: DType, forced: KernelChoice, tuning: Tuning | null = null): KernelChoice {
  if (dtype !== 'f16' || !ctx?.subgroupMatrix) return forced;
  const tunedF16 = tuning?.gemm.filter((c) => c.dtypes.startsWith('f16.f16.')) ?? [];
  const sgmatLost = tunedF16.length > 0 && !tunedF16.some((c) => c.tile.kernel === 'sgmat');
  const attentionFits = attentionKernel.flashSgmatFits(config.headDim, ctx.subgroupMatrix.configs, ctx.device.limits.maxComputeWorkgroupStorageSize);
  return { gemm: forced.gemm ?? (sgmatLost ? undefined : 'sgmat'), attention: forced.attention ?? (attentionFits ? 'flash_sgmat' : undefined) };
}

/** A model that only plans: no device, weights as sized placeholders (for `modernbert plan`). */
export function planningModel(config: ModernBertConfig, dtype: DType = 'f32', kernels: KernelChoice = {}): WebGpuModel {
  const pool = new BufferPool(null);
  const launcher = new Launcher(null, pool);
  const shapes = expectedTensors(config);
  const sized = (name: string) => ({ length: shapes.get(name)!.shape.reduce((a, b) => a * b, 1) }) as unknown as Float32Array;
  // Placeholder weights with the right sizes: mapWeights only reads .length through the pool.
  const { SN, SK } = gemm.matrixShape(launcher);
  const packer: Packer | null =
    kernels.gemm === 'sgmat' ? (_, s, label) => ({ buffer: pool.storage(gemm.packedSize(s.N, s.K, s.epilogue === 'glu').halves * 2, label, 'weight'), SN, SK, N: s.N, K: s.K, glu: s.epilogue === 'glu' }) : null;
  const weights = mapWeights(placeholderWeights(config, sized), config.hiddenSize, dtype, (data, label, stored) => pool.storage(data.length * bytesOf(stored), label, 'weight'), packer);
  return { config, dtype, weights, pool, launcher, tuning: null, kernels };
}

export function memoryStats(model: WebGpuModel): MemoryStats {
  return model.pool.stats();
}

export async function forward(model: WebGpuModel, input: BatchInput, options: WebGpuForwardOptions = {}): Promise<ForwardOutput> {
  const { config, weights, launcher: l, pool } = model;
  l.ctx?.check();
  const batch = toPackedBatch(input);
  validateBatch(config, batch, options);
  if (options.mlmLogits && !weights.decoder) throw new Error('this checkpoint has no MLM head (head.*, and decoder.bias when decoder_bias is set)');
  if ((options.pooling?.length || options.tokenLogits) && !(weights.head && weights.classifier)) throw new Error('this checkpoint has no classification head (head.*, classifier.weight, classifier.bias)');
  // The rows the kernels run on: the real tokens, or in padded execution B x L rows.
  const rows = options.padded ? paddedLayout(batch, batch.paddedLength ?? batch.maxSeqlen, config.padTokenId) : batch;
  pool.resetPeak();
  try {
    return await runPass(model, batch, rows, options);
  } catch (e) {
    // A pass that failed (a buffer over the device's limit, a lost device) leaves the model ready for the next.
    l.abandon();
    pool.abandonPass();
    throw e;
  }
}

async function runPass(model: WebGpuModel, batch: PackedBatch, rows: PackedBatch, options: WebGpuForwardOptions): Promise<ForwardOutput> {
  const { config, weights, launcher: l, pool } = model;
  const T = rows.totalTokens;
  const C = config.hiddenSize;

  const inputs: BatchBuffers & { tokens: GPUBuffer } = {
    tokens: l.upload(Uint32Array.from(rows.tokens), 'tokens'),
    cuSeqlens: l.upload(Uint32Array.from(rows.cuSeqlens), 'cuSeqlens'),
    positions: l.upload(Uint32Array.from(rows.positions), 'positions'),
    sequsedK: options.padded ? l.upload(Uint32Array.from({ length: batch.batchSize }, (_, b) => batch.cuSeqlens[b + 1] - batch.cuSeqlens[b]), 'sequsedK') : undefined,
  };
  const rope = {
    global: ropeBuffers(l, config.globalRopeTheta, config.headDim, rows.maxSeqlen),
    local: ropeBuffers(l, config.localRopeTheta, config.headDim, rows.maxSeqlen),
  };
  let hidden = embeddings(model, rows, inputs.tokens);
  const hiddenStates = options.hiddenStates ? [hidden] : null;
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const next = encoderLayer(model, layer, hidden, rows, inputs, isGlobalLayer(config, layer) ? rope.global : rope.local, options);
    if (hiddenStates) hiddenStates.push(next);
    else pool.release(hidden);
    hidden = next;
  }
  const lastHiddenState = norm(model, weights.finalNorm, hidden, T);
  if (!hiddenStates) pool.release(hidden);

  const reads: { name: string; buffer: GPUBuffer; floats: number }[] = [{ name: 'last', buffer: lastHiddenState, floats: T * C }];
  hiddenStates?.forEach((h, i) => reads.push({ name: `hidden${i}`, buffer: h, floats: T * C }));
  if (options.mlmLogits) reads.push({ name: 'mlm', buffer: mlmHead(model, lastHiddenState, T), floats: T * config.vocabSize });
  for (const pooling of options.pooling ?? []) {
    const pooled = pool_(model, lastHiddenState, rows, inputs, pooling);
    reads.push({ name: `pooled:${pooling}`, buffer: pooled, floats: batch.batchSize * C });
    reads.push({ name: `logits:${pooling}`, buffer: classifierHead(model, pooled, batch.batchSize), floats: batch.batchSize * config.numLabels });
  }
  if (options.tokenLogits) reads.push({ name: 'tokens', buffer: classifierHead(model, lastHiddenState, T), floats: T * config.numLabels });
  const arrays = await l.finish(reads);
  for (const b of [inputs.tokens, inputs.cuSeqlens, inputs.positions, inputs.sequsedK, rope.global.cos, rope.global.sin, rope.local.cos, rope.local.sin, ...reads.map((r) => r.buffer)]) if (b) pool.release(b);
  pool.endPass(); // keeps this pass's activations for the next one (a steady pass allocates nothing)

  // Per-token outputs come back as the real tokens' rows, whatever the execution.
  const perToken = new Set(['last', 'mlm', 'tokens', ...(hiddenStates ?? []).map((_, i) => `hidden${i}`)]);
  const got = (name: string) => {
    const a = arrays[reads.findIndex((r) => r.name === name)];
    return options.padded && perToken.has(name) ? (unpadRows(fp32, a, batch, a.length / T, rows.maxSeqlen) as Float32Array) : a;
  };
  const out: ForwardOutput = { batch, lastHiddenState: got('last') };
  if (hiddenStates) out.hiddenStates = hiddenStates.map((_, i) => got(`hidden${i}`));
  if (options.mlmLogits) out.mlmLogits = got('mlm');
  if (options.pooling?.length) {
    out.pooled = Object.fromEntries(options.pooling.map((p) => [p, got(`pooled:${p}`)]));
    out.classifierLogits = Object.fromEntries(options.pooling.map((p) => [p, got(`logits:${p}`)]));
  }
  if (options.tokenLogits) out.tokenLogits = got('tokens');
  return out;
}

/** tokens[T] -> norm(tokEmbeddings[tokens]) [T, C]. */
export function embeddings(model: WebGpuModel, batch: PackedBatch, tokens: GPUBuffer): GPUBuffer {
  const { launcher: l, config } = model;
  const T = batch.totalTokens;
  const gathered = l.pool.storage(T * config.hiddenSize * 4, 'embeddings.gathered');
  embeddingKernel.run(l, { tokens, table: model.weights.tokEmbeddings, out: gathered, T, C: config.hiddenSize, tableDtype: model.dtype });
  const out = norm(model, model.weights.embeddingNorm, gathered, T);
  l.pool.release(gathered);
  return out;
}

interface BatchBuffers {
  cuSeqlens: GPUBuffer;
  positions: GPUBuffer;
  /** padded execution: real tokens per sequence [B] */
  sequsedK?: GPUBuffer;
}
interface RopeBuffers {
  cos: GPUBuffer;
  sin: GPUBuffer;
}

/** Pre-norm residual layer: h + attention(attnNorm(h)), then h + mlp(mlpNorm(h)); residuals fused into the Wo GEMMs. */
export function encoderLayer(model: WebGpuModel, layer: number, hidden: GPUBuffer, batch: PackedBatch, inputs: BatchBuffers, rope: RopeBuffers, options: WebGpuForwardOptions): GPUBuffer {
  const { pool } = model;
  const w = model.weights.layers[layer];
  const T = batch.totalTokens;
  const attnIn = w.attnNorm ? norm(model, w.attnNorm, hidden, T, model.dtype) : hidden;
  const afterAttention = attention(model, layer, attnIn, w.attnNorm ? model.dtype : 'f32', hidden, batch, inputs, rope, options);
  if (attnIn !== hidden) pool.release(attnIn);
  const mlpIn = norm(model, w.mlpNorm, afterAttention, T, model.dtype);
  const out = mlp(model, layer, mlpIn, afterAttention, T);
  pool.release(mlpIn);
  pool.release(afterAttention);
  return out;
}

/** residual + Wo(attention(rope(Wqkv x))). x[T, C] (stored as xDtype) -> [T, C] f32. */
export function attention(model: WebGpuModel, layer: number, x: GPUBuffer, xDtype: DType, residual: GPUBuffer, batch: PackedBatch, inputs: BatchBuffers, rope: RopeBuffers, options: WebGpuForwardOptions): GPUBuffer {
  const { launcher: l, config, dtype } = model;
  const w = model.weights.layers[layer];
  const { numAttentionHeads: H, headDim: D, hiddenSize: C } = config;
  const T = batch.totalTokens;
  const qkv = dense(model, x, w.wqkv, T, { stored: { x: xDtype, y: dtype } }); // [T, 3, H, D]
  ropeKernel.run(l, { qkv, positions: inputs.positions, cos: rope.cos, sin: rope.sin, T, H, D, dtype });
  const half = slidingWindow(config);
  const context = l.pool.storage(T * C * bytesOf(dtype), 'attention.context');
  const lengths = Array.from({ length: batch.batchSize }, (_, b) => batch.cuSeqlens[b + 1] - batch.cuSeqlens[b]);
  const global = isGlobalLayer(config, layer);
  const tiles = tunedAttentionTiles(model.tuning, { D, dtype, window: global ? 'global' : 'local', maxSeqlen: batch.maxSeqlen }) ?? undefined;
  attentionKernel.run(l, { qkv, cuSeqlens: inputs.cuSeqlens, sequsedK: inputs.sequsedK, out: context, lengths, maxSeqlen: batch.maxSeqlen, H, D, window: global ? [-1, -1] : [half, half], variant: options.attention === 'materialized' ? 'materialized' : (model.kernels.attention ?? options.attention), dtype, tiles });
  l.pool.release(qkv);
  const out = dense(model, context, w.wo, T, { epilogue: 'residual', residual, stored: { x: dtype, y: 'f32' } });
  l.pool.release(context);
  return out;
}

/** residual + Wo(GLU(Wi x)), the GLU (GeGLU with gelu) fused into the Wi GEMM. x[T, C] (stored as the model's dtype) -> [T, C] f32. */
export function mlp(model: WebGpuModel, layer: number, x: GPUBuffer, residual: GPUBuffer, T: number): GPUBuffer {
  const { dtype } = model;
  const w = model.weights.layers[layer];
  const I = model.config.intermediateSize;
  const activated = model.pool.storage(T * I * bytesOf(dtype), 'mlp.activated');
  matmul(model, { x, W: w.wi.weight, bias: w.wi.bias, y: activated, M: T, N: I, K: w.wi.inFeatures, epilogue: 'glu', activation: model.config.hiddenActivation, dtypes: { x: dtype, W: dtype, y: dtype } });
  const out = dense(model, activated, w.mlpWo, T, { epilogue: 'residual', residual, stored: { x: dtype, y: 'f32' } });
  model.pool.release(activated);
  return out;
}

/** MLM logits [T, V] = decoder(head(x)), the decoder tied to the token embeddings. */
export function mlmHead(model: WebGpuModel, x: GPUBuffer, T: number): GPUBuffer {
  const { config } = model;
  const decoder = model.weights.decoder!;
  const h = predictionHead(model, x, T);
  const logits = model.pool.storage(T * config.vocabSize * 4, 'mlm.logits');
  matmul(model, { x: h, W: decoder.weight, bias: decoder.bias, y: logits, M: T, N: config.vocabSize, K: config.hiddenSize, epilogue: 'none', dtypes: { x: 'f32', W: model.dtype, y: 'f32' } });
  model.pool.release(h);
  return logits;
}

/** Classification logits [N, numLabels] = classifier(head(x)): x is pooled [B, C], or every token [T, C]. */
export function classifierHead(model: WebGpuModel, x: GPUBuffer, N: number): GPUBuffer {
  const h = predictionHead(model, x, N);
  const logits = dense(model, h, model.weights.classifier!, N);
  model.pool.release(h);
  return logits;
}

/** ModernBertPredictionHead: norm(act(dense(x))), act = classifier_activation fused into the GEMM. x[N, C] -> [N, C]. */
export function predictionHead(model: WebGpuModel, x: GPUBuffer, N: number): GPUBuffer {
  const head = model.weights.head!;
  const activated = dense(model, x, head.dense, N, { epilogue: 'activation', activation: model.config.classifierActivation });
  const out = norm(model, head.norm, activated, N);
  model.pool.release(activated);
  return out;
}

/** last[T, C] -> pooled[B, C] (cls: first token; mean: over each sequence's tokens). */
function pool_(model: WebGpuModel, last: GPUBuffer, batch: PackedBatch, inputs: BatchBuffers, pooling: Pooling): GPUBuffer {
  const C = model.config.hiddenSize;
  const out = model.pool.storage(batch.batchSize * C * 4, `pooled.${pooling}`);
  poolKernel.run(model.launcher, { hidden: last, cuSeqlens: inputs.cuSeqlens, sequsedK: inputs.sequsedK, out, T: batch.totalTokens, B: batch.batchSize, C, pooling });
  return out;
}
export { pool_ as pool };

interface DenseOptions {
  epilogue?: gemm.Epilogue;
  residual?: GPUBuffer;
  activation?: Activation;
  /** storage of x and y (default f32, the heads' case); W is stored as the model's dtype */
  stored?: { x: DType; y: DType };
}

/** y = x W^T (+ bias), then the epilogue. */
function dense(model: WebGpuModel, x: GPUBuffer, w: GpuLinear, rows: number, { epilogue = 'none', residual, activation, stored = { x: 'f32', y: 'f32' } }: DenseOptions = {}): GPUBuffer {
  const y = model.pool.storage(rows * w.outFeatures * bytesOf(stored.y), 'dense.out');
  matmul(model, { x, W: w.weight, bias: w.bias, residual, y, M: rows, N: w.outFeatures, K: w.inFeatures, epilogue, activation, dtypes: { x: stored.x, W: model.dtype, y: stored.y } });
  return y;
}

/** Every GEMM of the model: the model's kernel (else the tuned or default one), on this adapter's tuned tile for the shape where it is that kernel's. */
function matmul(model: WebGpuModel, a: gemm.GemmArgs & { dtypes: { x: DType; W: DType; y: DType } }): void {
  gemm.run(model.launcher, { ...a, variant: model.kernels.gemm, tuned: tunedGemmTile(model.tuning, a) });
}

/** LayerNorm of an f32 x (the residual stream or a head's activation) into y stored as yDtype. */
function norm(model: WebGpuModel, w: GpuNorm, x: GPUBuffer, rows: number, yDtype: DType = 'f32'): GPUBuffer {
  const y = model.pool.storage(rows * model.config.hiddenSize * bytesOf(yDtype), 'norm.out');
  layerNormKernel.run(model.launcher, { x, weight: w.weight, bias: w.bias, y, rows, C: model.config.hiddenSize, eps: model.config.normEps, yDtype });
  return y;
}

/** cos/sin tables [P, D/2] for a theta, built on the CPU as HF builds them in f32. */
function ropeBuffers(l: Launcher, theta: number, D: number, P: number): RopeBuffers {
  const t = ropeTables(fp32, theta, D, P);
  return { cos: l.upload(t.cos, 'rope.cos'), sin: l.upload(t.sin, 'rope.sin') };
}

/** Uploads a GEMM's W [N, K] (GLU: [2N, K]) packed for sgmat. */
type Packer = (W: ArrayLike<number>, s: { N: number; K: number; epilogue: 'none' | 'glu' }, label: string) => gemm.PackedWeights;

/**
 * Linear weights and the embedding table are stored as `dtype`; biases and LayerNorm weights as f32. With a
 * packer, the GEMMs' weights are packed instead, and so is the embedding table where the decoder is tied to it
 * (the lookup reads it packed).
 */
function mapWeights(w: ModernBertWeights, C: number, dtype: DType, upload: (data: ArrayLike<number>, label: string, stored: DType) => GPUBuffer, pack: Packer | null = null): GpuWeights {
  const gemmWeight = (W: ArrayLike<number>, N: number, K: number, label: string, glu = false): GemmWeights =>
    pack ? pack(W, { N: glu ? N / 2 : N, K, epilogue: glu ? 'glu' : 'none' }, label) : upload(W, label, dtype);
  const lin = (x: LinearWeights, label: string, glu = false): GpuLinear => ({ weight: gemmWeight(x.weight, x.outFeatures, x.inFeatures, `${label}.weight`, glu), bias: x.bias ? upload(x.bias, `${label}.bias`, 'f32') : null, outFeatures: x.outFeatures, inFeatures: x.inFeatures });
  const nrm = (x: NormWeights, label: string): GpuNorm => ({ weight: upload(x.weight, `${label}.weight`, 'f32'), bias: x.bias ? upload(x.bias, `${label}.bias`, 'f32') : null });
  // The tied decoder shares the embedding table, uploaded once (packed for sgmat, where the GEMMs are)
  const tied = w.decoder?.weight === w.tokEmbeddings;
  const tokEmbeddings = tied ? gemmWeight(w.tokEmbeddings, w.tokEmbeddings.length / C, C, 'tok_embeddings') : upload(w.tokEmbeddings, 'tok_embeddings', dtype);
  return {
    tokEmbeddings,
    embeddingNorm: nrm(w.embeddingNorm, 'embeddings.norm'),
    layers: w.layers.map((x, i) => ({
      attnNorm: x.attnNorm ? nrm(x.attnNorm, `layers.${i}.attn_norm`) : null,
      wqkv: lin(x.wqkv, `layers.${i}.attn.Wqkv`),
      wo: lin(x.wo, `layers.${i}.attn.Wo`),
      mlpNorm: nrm(x.mlpNorm, `layers.${i}.mlp_norm`),
      wi: lin(x.wi, `layers.${i}.mlp.Wi`, true),
      mlpWo: lin(x.mlpWo, `layers.${i}.mlp.Wo`),
    })),
    finalNorm: nrm(w.finalNorm, 'final_norm'),
    head: w.head ? { dense: lin(w.head.dense, 'head.dense'), norm: nrm(w.head.norm, 'head.norm') } : null,
    decoder: w.decoder ? { weight: tied ? tokEmbeddings : gemmWeight(w.decoder.weight, w.decoder.weight.length / C, C, 'decoder.weight'), bias: w.decoder.bias ? upload(w.decoder.bias, 'decoder.bias', 'f32') : null } : null,
    classifier: w.classifier ? lin(w.classifier, 'classifier') : null,
  };
}

/** Weights of a config's MLM checkpoint with placeholder data of the right lengths (planning only). */
function placeholderWeights(config: ModernBertConfig, sized: (name: string) => Float32Array): ModernBertWeights {
  const has = expectedTensors(config);
  const lin = (name: string): LinearWeights => {
    const [outFeatures, inFeatures] = has.get(`${name}.weight`)!.shape;
    return { weight: sized(`${name}.weight`), bias: has.has(`${name}.bias`) ? sized(`${name}.bias`) : null, outFeatures, inFeatures };
  };
  const nrm = (name: string): NormWeights => ({ weight: sized(`${name}.weight`), bias: has.has(`${name}.bias`) ? sized(`${name}.bias`) : null });
  const tokEmbeddings = sized('embeddings.tok_embeddings.weight');
  return {
    tokEmbeddings,
    embeddingNorm: nrm('embeddings.norm'),
    layers: Array.from({ length: config.numHiddenLayers }, (_, i) => ({
      attnNorm: i === 0 ? null : nrm(`layers.${i}.attn_norm`),
      wqkv: lin(`layers.${i}.attn.Wqkv`),
      wo: lin(`layers.${i}.attn.Wo`),
      mlpNorm: nrm(`layers.${i}.mlp_norm`),
      wi: lin(`layers.${i}.mlp.Wi`),
      mlpWo: lin(`layers.${i}.mlp.Wo`),
    })),
    finalNorm: nrm('final_norm'),
    head: { dense: lin('head.dense'), norm: nrm('head.norm') },
    decoder: { weight: tokEmbeddings, bias: has.has('decoder.bias') ? sized('decoder.bias') : null },
    classifier: null,
  };
}

/** Frees the model's GPU buffers (weights, kept activations, uniforms included) and the launcher's query sets. */
export function destroyModel(model: WebGpuModel): void {
  model.launcher.dispose();
  model.pool.destroyAll();
}

export interface MemoryPlan {
  /** real tokens */
  tokens: number;
  peak_bytes: number;
  weight_bytes: number;
  activation_bytes: number;
  /** the largest single buffer (a device's maxStorageBufferBindingSize bounds it) */
  largest_buffer_bytes: number;
}

/**
 * The memory of one forward pass (last hidden state read back), from the engine's own allocations with no
 * device: the same code path as a real pass, with dispatches skipped. Ablations: `padded` is padded execution
 * (every sequence computed at the longest length); `materialized` stores attention scores. `kernels.gemm` sgmat
 * plans the weights packed for it (with a device that has subgroup matrices, f16 takes it by default).
 */
export async function planMemory(config: ModernBertConfig, lengths: readonly number[], ablate: { padded?: boolean; materialized?: boolean } = {}, dtype: DType = 'f32', kernels: KernelChoice = {}): Promise<MemoryPlan> {
  const model = planningModel(config, dtype, kernels);
  const sequences = lengths.map((n) => new Int32Array(n));
  await forward(model, sequences, { attention: ablate.materialized ? 'materialized' : 'flash', padded: ablate.padded, allowLongSequences: true });
  const { peakBytes, weightBytes, largestBufferBytes } = memoryStats(model);
  return { tokens: lengths.reduce((a, b) => a + b, 0), peak_bytes: peakBytes, weight_bytes: weightBytes, activation_bytes: peakBytes - weightBytes, largest_buffer_bytes: largestBufferBytes };
}
