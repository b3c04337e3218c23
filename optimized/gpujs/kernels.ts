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
