// The model's kernels as gpu.js kernel functions: one source for webgpu, webasm and cpu. Every kernel has a
// 1-D output over flat row-major tensors, and is built once per shape and reused (gpu.js compiles on the
// first call). gpu.js traps handled here:
//  - a loop bounded by an argument stops at loopMaxIterations (default 1000): each kernel sets it from its shape;
//  - integer arrays travel as f32, and index arithmetic is f32 in webgpu and webasm: an index is exact only
//    below 2^24, so every tensor a kernel reads or writes must hold fewer than 2^24 values (checked, an error);
//  - a kernel gpu.js cannot build in the mode asked for degrades to cpu with a console warning: that is an
//    error here, never a silent fallback.
// In webgpu mode results stay on the device (`pipeline: true`, `immutable: true`) and pass straight into the
// next kernel; `read` brings one back. In webasm mode kernels run asynchronously, split across worker threads.
import type { IGPUKernelSettings, IKernelFunctionThis, IKernelRunShortcut, KernelFunction } from 'gpu.js';
import { type GpuJsContext, GpuJsModeError } from './mode.ts';
import type { Activation } from '../../reference/config.ts';
import { nextTurn } from '../../reference/steps.ts';

/** A device-resident kernel result (webgpu mode). */
export interface DeviceTensor {
  toArray(): Float32Array | Promise<Float32Array>;
  delete(): void;
}
/** A kernel input or output: host values (webasm, cpu) or a device-resident result (webgpu). */
export type Tensor = Float32Array | DeviceTensor;
type Argument = Tensor | number;
/** A kernel function: one output cell per call, at this.thread.x. */
type Source = (this: IKernelFunctionThis, ...args: any[]) => number;

/** Every index a kernel computes must be exact in f32. */
export const MAX_ELEMENTS = 2 ** 24;

/** A tensor too large for gpu.js's f32 indexing. */
export class GpuJsSizeError extends Error {
  override name = 'GpuJsSizeError';
}

export class GpuJsKernels {
  private readonly built = new Map<string, IKernelRunShortcut>();

  constructor(readonly ctx: GpuJsContext) {}

  /** Runs `source` over `size` output cells, its loops bounded by `loop` iterations. */
  async run(name: string, source: Source, size: number, loop: number, args: Argument[]): Promise<Tensor> {
    if (size >= MAX_ELEMENTS) throw new GpuJsSizeError(`gpu.js kernel ${name}: ${size} outputs; gpu.js indexes in f32, exact below 2^24 = ${MAX_ELEMENTS}: run fewer tokens per batch`);
    for (const [i, a] of args.entries()) {
      if (a instanceof Float32Array && a.length >= MAX_ELEMENTS) throw new GpuJsSizeError(`gpu.js kernel ${name}: argument ${i} holds ${a.length} values; gpu.js indexes in f32, exact below 2^24 = ${MAX_ELEMENTS}`);
    }
    // gpu.js compiles a kernel for its arguments' types and sizes: one build per distinct signature.
    const signature = args.map((a) => (typeof a === 'number' ? 'n' : a instanceof Float32Array ? a.length : 'device'));
    const key = `${name}/${size}/${loop}/${signature.join(',')}`;
    let kernel = this.built.get(key);
    const first = !kernel;
    kernel ??= this.ctx.gpu.createKernel(source as KernelFunction, {
      output: [size],
      loopMaxIterations: loop + 1,
      pipeline: this.ctx.mode === 'webgpu',
      immutable: true,
      asyncMode: true,
    } as IGPUKernelSettings);
    this.built.set(key, kernel);
    const result = (await kernel(...(args as never[]))) as Tensor;
    if (first) this.checkMode(name, kernel);
    await nextTurn(); // kernels run synchronously here: between them Ctrl-C and timers are served
    return result;
  }

  /** Host values of a tensor (a copy only where the data was on the device). */
  async read(t: Tensor): Promise<Float32Array> {
    return t instanceof Float32Array ? t : Float32Array.from(await t.toArray());
  }

  /** Frees device-resident results (nothing to do for host values). */
  release(...tensors: (Tensor | null | undefined)[]): void {
    for (const t of tensors) if (t && !(t instanceof Float32Array)) t.delete();
  }

  destroy(): void {
    for (const k of this.built.values()) k.destroy();
    this.built.clear();
  }

  private checkMode(name: string, kernel: IKernelRunShortcut): void {
    const impl = (kernel as unknown as { kernel?: { constructor: { mode?: string }; fallbackReason?: string | null } }).kernel;
    const ran = impl?.constructor.mode;
    if (ran !== this.ctx.mode || impl?.fallbackReason) {
      throw new GpuJsModeError(`gpu.js kernel ${name} ran in mode "${ran}", not gpujs:${this.ctx.mode}${impl?.fallbackReason ? ` (${impl.fallbackReason})` : ''}`);
    }
  }
}

/** y[M, N] = x[M, K] W[N, K]^T (+ bias[N]). */
export function linear(k: GpuJsKernels, x: Tensor, W: Float32Array, bias: Float32Array | null, M: number, N: number, K: number): Promise<Tensor> {
  return k.run(
    'linear',
    function (this: IKernelFunctionThis, x: number[], W: number[], bias: number[], hasBias: number, N: number, K: number) {
      const m = Math.floor(this.thread.x / N);
      const n = this.thread.x - m * N;
      let sum = 0;
      for (let i = 0; i < K; i++) sum += x[m * K + i] * W[n * K + i];
      if (hasBias > 0) sum += bias[n];
      return sum;
    },
    M * N,
    K,
    [x, W, bias ?? new Float32Array(1), bias ? 1 : 0, N, K],
  );
}

/** LayerNorm over the last dimension: y[T, C] = (x - mean) / sqrt(var + eps) * weight (+ bias); mean and variance first, per row. */
export async function layerNorm(k: GpuJsKernels, x: Tensor, weight: Float32Array, bias: Float32Array | null, T: number, C: number, eps: number): Promise<Tensor> {
  const mean = await k.run(
    'layerNorm.mean',
    function (this: IKernelFunctionThis, x: number[], C: number) {
      let sum = 0;
      for (let c = 0; c < C; c++) sum += x[this.thread.x * C + c];
      return sum / C;
    },
    T,
    C,
    [x, C],
  );
  const variance = await k.run(
    'layerNorm.variance',
    function (this: IKernelFunctionThis, x: number[], mean: number[], C: number) {
      let sum = 0;
      for (let c = 0; c < C; c++) {
        const d = x[this.thread.x * C + c] - mean[this.thread.x];
        sum += d * d;
      }
      return sum / C;
    },
    T,
    C,
    [x, mean, C],
  );
  const y = await k.run(
    'layerNorm.normalize',
    function (this: IKernelFunctionThis, x: number[], mean: number[], variance: number[], weight: number[], bias: number[], hasBias: number, C: number, eps: number) {
      const t = Math.floor(this.thread.x / C);
      const c = this.thread.x - t * C;
      let y = ((x[this.thread.x] - mean[t]) / Math.sqrt(variance[t] + eps)) * weight[c];
      if (hasBias > 0) y += bias[c];
      return y;
    },
    T * C,
    0,
    [x, mean, variance, weight, bias ?? new Float32Array(1), bias ? 1 : 0, C, eps],
  );
  k.release(mean, variance);
  return y;
}

const ACTIVATION_CODE: Record<Activation, number> = { gelu: 0, gelu_tanh: 1, silu: 2, relu: 3 };

/**
 * An activation (HF's ACT2FN kinds: gelu with erf by Abramowitz-Stegun 7.1.26, |error| < 1.5e-7, as in
 * activation.wgsl; the tanh approximation; silu; relu), elementwise over `size` values of u, or as a GLU on
 * the Wi output u[T, 2I] when `I` is given: act(u[:, :I]) * u[:, I:] (GeGLU with gelu).
 */
export function activation(k: GpuJsKernels, u: Tensor, size: number, kind: Activation, I?: number): Promise<Tensor> {
  return k.run(
    'activation',
    function (this: IKernelFunctionThis, u: number[], act: number, glu: number, I: number) {
      let v = u[this.thread.x];
      let gate = 1;
      if (glu > 0) {
        const t = Math.floor(this.thread.x / I);
        const i = this.thread.x - t * I;
        v = u[t * 2 * I + i];
        gate = u[t * 2 * I + I + i];
      }
      let out = 0;
      if (act === 0) {
        const z = v * 0.7071067811865476;
        const a = Math.abs(z);
        const s = 1 / (1 + 0.3275911 * a);
        let erf = 1 - s * (0.254829592 + s * (-0.284496736 + s * (1.421413741 + s * (-1.453152027 + s * 1.061405429)))) * Math.exp(-a * a);
        if (z < 0) erf = -erf;
        out = 0.5 * v * (1 + erf);
      } else if (act === 1) {
        out = 0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
      } else if (act === 2) {
        out = v / (1 + Math.exp(-v));
      } else {
        out = Math.max(v, 0);
      }
      return out * gate;
    },
    size,
    0,
    [u, ACTIVATION_CODE[kind], I === undefined ? 0 : 1, I ?? 1],
  );
}

/** a + b, elementwise (the residual adds). */
export function add(k: GpuJsKernels, a: Tensor, b: Tensor, size: number): Promise<Tensor> {
  return k.run(
    'add',
    function (this: IKernelFunctionThis, a: number[], b: number[]) {
      return a[this.thread.x] + b[this.thread.x];
    },
    size,
    0,
    [a, b],
  );
}

/**
 * RoPE on q and k of packed qkv[T, 3, H, D] with per-token positions (as f32), tables cos/sin[P, D/2]; v is
 * copied. Returns a new qkv (gpu.js kernels do not write in place).
 */
export function rope(k: GpuJsKernels, qkv: Tensor, positions: Float32Array, cos: Float32Array, sin: Float32Array, T: number, H: number, D: number): Promise<Tensor> {
  return k.run(
    'rope',
    function (this: IKernelFunctionThis, qkv: number[], positions: number[], cos: number[], sin: number[], H: number, D: number) {
      const width = 3 * H * D;
      const t = Math.floor(this.thread.x / width);
      const e = this.thread.x - t * width; // index inside the token's q, k, v
      const value = qkv[this.thread.x];
      if (e >= 2 * H * D) return value; // v is not rotated
      const d = e % D;
      const half = D / 2;
      const row = positions[t] * half;
      if (d < half) return value * cos[row + d] - qkv[this.thread.x + half] * sin[row + d];
      return value * cos[row + d - half] + qkv[this.thread.x - half] * sin[row + d - half];
    },
    T * 3 * H * D,
    0,
    [qkv, positions, cos, sin, H, D],
  );
}

/** Per token, its sequence's first token and length (as f32), from cuSeqlens: the varlen kernels' view of a packed batch. */
export interface TokenSequences {
  start: Float32Array;
  length: Float32Array;
  /** the longest sequence */
  maxSeqlen: number;
}

export function tokenSequences(cuSeqlens: ArrayLike<number>): TokenSequences {
  const B = cuSeqlens.length - 1;
  const T = cuSeqlens[B];
  const start = new Float32Array(T);
  const length = new Float32Array(T);
  let maxSeqlen = 1;
  for (let b = 0; b < B; b++) {
    const n = cuSeqlens[b + 1] - cuSeqlens[b];
    maxSeqlen = Math.max(maxSeqlen, n);
    start.fill(cuSeqlens[b], cuSeqlens[b], cuSeqlens[b + 1]);
    length.fill(n, cuSeqlens[b], cuSeqlens[b + 1]);
  }
  return { start, length, maxSeqlen };
}

/**
 * Varlen attention with a window, materialized: scores[T*H, L] (masked keys at the lowest finite f32), per row
 * its max, the weights exp(score - max) (0 where masked) and their sum, then out[T, H*D] = weights · v / sum. window = [left, right],
 * -1 for unlimited.
 */
export async function attention(k: GpuJsKernels, qkv: Tensor, seqs: TokenSequences, T: number, H: number, D: number, window: readonly [number, number]): Promise<Tensor> {
  const L = seqs.maxSeqlen;
  const scale = Math.fround(1 / Math.sqrt(D));
  const scores = await k.run(
    'attention.scores',
    function (this: IKernelFunctionThis, qkv: number[], start: number[], length: number[], H: number, D: number, L: number, left: number, right: number, scale: number) {
      const row = Math.floor(this.thread.x / L); // t * H + h
      const j = this.thread.x - row * L; // key index inside the sequence
      const t = Math.floor(row / H);
      const h = row - t * H;
      const i = t - start[t];
      let visible = j < length[t];
      if (left >= 0 && j < i - left) visible = false;
      if (right >= 0 && j > i + right) visible = false;
      if (!visible) return -3.4028234663852886e38;
      const C = H * D;
      const q = t * 3 * C + h * D;
      const key = (start[t] + j) * 3 * C + C + h * D;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += qkv[q + d] * qkv[key + d];
      return dot * scale;
    },
    T * H * L,
    D,
    [qkv, seqs.start, seqs.length, H, D, L, window[0], window[1], scale],
  );
  const rowMax = await k.run(
    'attention.rowMax',
    function (this: IKernelFunctionThis, s: number[], L: number) {
      let m = -3.4028234663852886e38;
      for (let j = 0; j < L; j++) m = Math.max(m, s[this.thread.x * L + j]);
      return m;
    },
    T * H,
    L,
    [scores, L],
  );
  // exp once per score, not once per output value (an exp is a long software routine in WebAssembly).
  const weights = await k.run(
    'attention.weights',
    function (this: IKernelFunctionThis, s: number[], m: number[], L: number) {
      const v = s[this.thread.x];
      if (v > -3.4e38) return Math.exp(v - m[Math.floor(this.thread.x / L)]);
      return 0;
    },
    T * H * L,
    0,
    [scores, rowMax, L],
  );
  const rowSum = await k.run(
    'attention.rowSum',
    function (this: IKernelFunctionThis, e: number[], L: number) {
      let sum = 0;
      for (let j = 0; j < L; j++) sum += e[this.thread.x * L + j];
      return sum;
    },
    T * H,
    L,
    [weights, L],
  );
  const context = await k.run(
    'attention.context',
    function (this: IKernelFunctionThis, qkv: number[], e: number[], z: number[], start: number[], length: number[], H: number, D: number, L: number, left: number, right: number) {
      const C = H * D;
      const t = Math.floor(this.thread.x / C);
      const hd = this.thread.x - t * C; // h * D + d
      const row = t * H + Math.floor(hd / D);
      // only the keys inside the window: a local layer reads 2w + 1 of them, not the whole sequence
      const i = t - start[t];
      let from = 0;
      let to = length[t];
      if (left >= 0) from = Math.max(0, i - left);
      if (right >= 0) to = Math.min(to, i + right + 1);
      const keys = to - from;
      let acc = 0;
      for (let j = 0; j < keys; j++) acc += e[row * L + from + j] * qkv[(start[t] + from + j) * 3 * C + 2 * C + hd]; // an integer counter: WGSL increments only integers
      return acc / z[row];
    },
    T * H * D,
    L,
    [qkv, weights, rowSum, seqs.start, seqs.length, H, D, L, window[0], window[1]],
  );
  k.release(scores, rowMax, weights, rowSum);
  return context;
}

/** last[T, C] -> pooled[B, C]: each sequence's first token (cls), or the mean over its tokens (mean). */
export function pool(k: GpuJsKernels, last: Tensor, cuSeqlens: Float32Array, maxSeqlen: number, B: number, C: number, pooling: 'cls' | 'mean'): Promise<Tensor> {
  return k.run(
    'pool',
    function (this: IKernelFunctionThis, last: number[], cuSeqlens: number[], C: number, mean: number, L: number) {
      const b = Math.floor(this.thread.x / C);
      const c = this.thread.x - b * C;
      const start = cuSeqlens[b];
      if (mean < 1) return last[start * C + c];
      const n = cuSeqlens[b + 1] - start;
      let sum = 0;
      for (let i = 0; i < L; i++) {
        if (i < n) sum += last[(start + i) * C + c];
      }
      return sum / n;
    },
    B * C,
    maxSeqlen,
    [last, cuSeqlens, C, pooling === 'mean' ? 1 : 0, maxSeqlen],
  );
}
