// gpu.js kernels against the reference in every mode (webgpu runs on SwiftShader here), and mode selection.
import { describe, expect, it } from 'vitest';
import { linear as referenceLinear, fp32, fp64 } from '../../reference/ops.ts';
import { type GpuJsMode, GPUJS_MODES, createGpuJs } from '../../optimized/gpujs/mode.ts';
import { linear } from '../../optimized/gpujs/kernels.ts';
import { expectKernelClose, values } from '../webgpu/harness.ts';

describe('gpu.js mode selection', () => {
  it('auto picks webgpu when an adapter exists, and says which mode ran', async () => {
    const ctx = await createGpuJs('auto');
    expect(ctx.mode).toBe('webgpu'); // SwiftShader is an adapter; CI installs it
    expect(ctx.fallback).toBeNull();
    ctx.gpu.destroy();
  });

  it('runs each forced mode as that mode', async () => {
    for (const mode of GPUJS_MODES) {
      const ctx = await createGpuJs(mode);
      expect(ctx.mode).toBe(mode);
      ctx.gpu.destroy();
    }
  });
});

describe.each(GPUJS_MODES.map((m) => [m]))('gpu.js kernels, mode %s', (mode: GpuJsMode) => {
  // K = 1025 passes gpu.js's default loop limit of 1000: the kernel must raise it.
  const shapes: [number, number, number][] = [[1, 33, 17], [65, 64, 64], [7, 96, 1025]];

  it(`linear: (M, N, K) ${shapes.map((s) => s.join('x')).join(', ')}, with and without bias`, async () => {
    const ctx = await createGpuJs(mode);
    try {
      for (const [M, N, K] of shapes) {
        for (const withBias of [false, true]) {
          const x = values(M * K, M + K, 1).map(Math.fround);
          const W = values(N * K, N * K, 0.1).map(Math.fround);
          const bias = withBias ? values(N, N, 0.5).map(Math.fround) : null;
          const got = await linear(ctx, Float32Array.from(x), Float32Array.from(W), bias && Float32Array.from(bias), M, N, K);
          const ref32 = referenceLinear(fp32, Float32Array.from(x), Float32Array.from(W), bias && Float32Array.from(bias), M, N, K);
          const ref64 = referenceLinear(fp64, x, W, bias, M, N, K);
          expectKernelClose(`gpujs:${mode} linear ${M}x${N}x${K}${withBias ? ' +bias' : ''}`, got, ref32, ref64, 1e-6);
        }
      }
    } finally {
      ctx.gpu.destroy();
    }
  });
});
