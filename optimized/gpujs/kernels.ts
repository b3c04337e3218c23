// The model's kernels as gpu.js kernel functions (one source for webgpu, webasm and cpu). gpu.js traps
// handled here: a loop bounded by an argument stops at loopMaxIterations (default 1000), so each kernel sets
// it from its shape; integer arrays travel as f32 (exact below 2^24, which every id and offset here is).
import type { IKernelFunctionThis } from 'gpu.js';
import type { GpuJsContext } from './mode.ts';

type Output = Float32Array | number[] | Float32Array[] | number[][];

/** Kernel results as one flat Float32Array, whatever the mode returns (rows of typed arrays, or a Promise). */
async function flat(result: unknown, rows: number, cols: number): Promise<Float32Array> {
  const value = (await result) as Output;
  const out = new Float32Array(rows * cols);
  if (rows === 1 && !Array.isArray(value[0]) && !ArrayBuffer.isView(value[0])) {
    out.set(value as ArrayLike<number>);
    return out;
  }
  for (let r = 0; r < rows; r++) out.set((value as ArrayLike<number>[])[r], r * cols);
  return out;
}

/** y[M, N] = x[M, K] W[N, K]^T (+ bias[N]). */
export async function linear(ctx: GpuJsContext, x: Float32Array, W: Float32Array, bias: Float32Array | null, M: number, N: number, K: number): Promise<Float32Array> {
  const kernel = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, x: number[], W: number[], bias: number[], hasBias: number, K: number) {
      const m = this.thread.y;
      const n = this.thread.x;
      let sum = 0;
      for (let k = 0; k < K; k++) sum += x[m * K + k] * W[n * K + k];
      if (hasBias > 0) sum += bias[n];
      return sum;
    })
    .setOutput([N, M])
    .setLoopMaxIterations(K + 1);
  const result = kernel(x, W, bias ?? new Float32Array(1), bias ? 1 : 0, K);
  const out = await flat(result, M, N);
  kernel.destroy();
  return out;
}

/** LayerNorm over the last dimension: y[T, C] = (x - mean) / sqrt(var + eps) * weight (+ bias); mean and variance first, per row. */
export async function layerNorm(ctx: GpuJsContext, x: Float32Array, weight: Float32Array, bias: Float32Array | null, T: number, C: number, eps: number): Promise<Float32Array> {
  const mean = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, x: number[], C: number) {
      let sum = 0;
      for (let c = 0; c < C; c++) sum += x[this.thread.x * C + c];
      return sum / C;
    })
    .setOutput([T])
    .setLoopMaxIterations(C + 1);
  const variance = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, x: number[], mean: number[], C: number) {
      let sum = 0;
      for (let c = 0; c < C; c++) {
        const d = x[this.thread.x * C + c] - mean[this.thread.x];
        sum += d * d;
      }
      return sum / C;
    })
    .setOutput([T])
    .setLoopMaxIterations(C + 1);
  const normalize = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, x: number[], mean: number[], variance: number[], weight: number[], bias: number[], hasBias: number, C: number, eps: number) {
      const t = this.thread.y;
      const c = this.thread.x;
      let y = ((x[t * C + c] - mean[t]) / Math.sqrt(variance[t] + eps)) * weight[c];
      if (hasBias > 0) y += bias[c];
      return y;
    })
    .setOutput([C, T]);
  const m = await flat(mean(x, C), 1, T);
  const v = await flat(variance(x, m, C), 1, T);
  const out = await flat(normalize(x, m, v, weight, bias ?? new Float32Array(1), bias ? 1 : 0, C, eps), T, C);
  for (const k of [mean, variance, normalize]) k.destroy();
  return out;
}

/** GeGLU on the Wi output u[T, 2I]: gelu_erf(u[:, :I]) * u[:, I:], erf by Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7) as in gemm.wgsl. */
export async function geglu(ctx: GpuJsContext, u: Float32Array, T: number, I: number): Promise<Float32Array> {
  const kernel = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, u: number[], I: number) {
      const t = this.thread.y;
      const i = this.thread.x;
      const g = u[t * 2 * I + i];
      const z = g * 0.7071067811865476;
      const a = Math.abs(z);
      const k = 1 / (1 + 0.3275911 * a);
      const poly = k * (0.254829592 + k * (-0.284496736 + k * (1.421413741 + k * (-1.453152027 + k * 1.061405429))));
      let erf = 1 - poly * Math.exp(-a * a);
      if (z < 0) erf = -erf;
      return 0.5 * g * (1 + erf) * u[t * 2 * I + I + i];
    })
    .setOutput([I, T]);
  const out = await flat(kernel(u, I), T, I);
  kernel.destroy();
  return out;
}

/** Rows of the embedding table for each token: out[T, C] = table[tokens[t]] (ids as f32: exact below 2^24). */
export async function embedding(ctx: GpuJsContext, tokens: ArrayLike<number>, table: Float32Array, C: number): Promise<Float32Array> {
  const T = tokens.length;
  const kernel = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, tokens: number[], table: number[], C: number) {
      return table[tokens[this.thread.y] * C + this.thread.x];
    })
    .setOutput([C, T]);
  const out = await flat(kernel(Float32Array.from(tokens), table, C), T, C);
  kernel.destroy();
  return out;
}

/** a + b, elementwise (the residual adds). */
export async function add(ctx: GpuJsContext, a: Float32Array, b: Float32Array): Promise<Float32Array> {
  const kernel = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, a: number[], b: number[]) {
      return a[this.thread.x] + b[this.thread.x];
    })
    .setOutput([a.length]);
  const out = await flat(kernel(a, b), 1, a.length);
  kernel.destroy();
  return out;
}

/**
 * RoPE on q and k of packed qkv[T, 3, H, D] with per-token positions, tables cos/sin[P, D/2]; v is copied.
 * Returns a new qkv (gpu.js kernels do not write in place).
 */
export async function rope(ctx: GpuJsContext, qkv: Float32Array, positions: ArrayLike<number>, cos: Float32Array, sin: Float32Array, T: number, H: number, D: number): Promise<Float32Array> {
  const kernel = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, qkv: number[], positions: number[], cos: number[], sin: number[], H: number, D: number) {
      const t = this.thread.y;
      const e = this.thread.x; // index inside the token's 3 * H * D values
      const C = H * D;
      const value = qkv[t * 3 * C + e];
      if (e >= 2 * C) return value; // v is not rotated
      const d = e % D;
      const half = D / 2;
      const row = positions[t] * half;
      if (d < half) return value * cos[row + d] - qkv[t * 3 * C + e + half] * sin[row + d];
      return value * cos[row + d - half] + qkv[t * 3 * C + e - half] * sin[row + d - half];
    })
    .setOutput([3 * H * D, T]);
  const out = await flat(kernel(qkv, Float32Array.from(positions), cos, sin, H, D), T, 3 * H * D);
  kernel.destroy();
  return out;
}

/**
 * Varlen attention with a window, materialized: scores[T*H, L] (masked keys at the most negative finite
 * float), then per row its max and sum of exponentials, then out[T, H*D] = softmax(scores) · v. Sequence
 * start and length per token come in as arrays (ids and offsets as f32, exact below 2^24).
 */
export async function attention(ctx: GpuJsContext, qkv: Float32Array, cuSeqlens: ArrayLike<number>, H: number, D: number, window: readonly [number, number]): Promise<Float32Array> {
  const B = cuSeqlens.length - 1;
  const T = cuSeqlens[B];
  const start = new Float32Array(T);
  const length = new Float32Array(T);
  let L = 1;
  for (let b = 0; b < B; b++) {
    L = Math.max(L, cuSeqlens[b + 1] - cuSeqlens[b]);
    for (let t = cuSeqlens[b]; t < cuSeqlens[b + 1]; t++) {
      start[t] = cuSeqlens[b];
      length[t] = cuSeqlens[b + 1] - cuSeqlens[b];
    }
  }
  const scale = Math.fround(1 / Math.sqrt(D));
  const scores = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, qkv: number[], start: number[], length: number[], H: number, D: number, left: number, right: number, scale: number) {
      const row = this.thread.y; // t * H + h
      const j = this.thread.x; // key index inside the sequence
      const t = Math.floor(row / H);
      const h = row - t * H;
      const i = t - start[t];
      let visible = j < length[t];
      if (left >= 0 && j < i - left) visible = false;
      if (right >= 0 && j > i + right) visible = false;
      if (!visible) return -3.4028234663852886e38;
      const C = H * D;
      const q = t * 3 * C + h * D;
      const k = (start[t] + j) * 3 * C + C + h * D;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += qkv[q + d] * qkv[k + d];
      return dot * scale;
    })
    .setOutput([L, T * H])
    .setLoopMaxIterations(D + 1);
  const rowMax = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, s: number[], L: number) {
      let m = -3.4028234663852886e38;
      for (let j = 0; j < L; j++) m = Math.max(m, s[this.thread.x * L + j]);
      return m;
    })
    .setOutput([T * H])
    .setLoopMaxIterations(L + 1);
  const rowSum = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, s: number[], m: number[], L: number) {
      let sum = 0;
      for (let j = 0; j < L; j++) {
        const v = s[this.thread.x * L + j];
        if (v > -3.4e38) sum += Math.exp(v - m[this.thread.x]);
      }
      return sum;
    })
    .setOutput([T * H])
    .setLoopMaxIterations(L + 1);
  const context = ctx.gpu
    .createKernel(function (this: IKernelFunctionThis, qkv: number[], s: number[], m: number[], z: number[], start: number[], H: number, D: number, L: number) {
      const t = this.thread.y;
      const hd = this.thread.x; // h * D + d
      const h = Math.floor(hd / D);
      const row = t * H + h;
      const C = H * D;
      let acc = 0;
      for (let j = 0; j < L; j++) {
        const v = s[row * L + j];
        if (v > -3.4e38) acc += (Math.exp(v - m[row]) / z[row]) * qkv[(start[t] + j) * 3 * C + 2 * C + hd];
      }
      return acc;
    })
    .setOutput([H * D, T])
    .setLoopMaxIterations(L + 1);
  const s = await flat(scores(qkv, start, length, H, D, window[0], window[1], scale), T * H, L);
  const m = await flat(rowMax(s, L), 1, T * H);
  const z = await flat(rowSum(s, m, L), 1, T * H);
  const out = await flat(context(qkv, s, m, z, start, H, D, L), T, H * D);
  for (const k of [scores, rowMax, rowSum, context]) k.destroy();
  return out;
}
