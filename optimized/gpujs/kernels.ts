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
