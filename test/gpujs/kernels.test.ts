// gpu.js kernels against the reference in every mode (webgpu runs on SwiftShader here), and mode selection.
import { describe, expect, it } from 'vitest';
import { type FloatArray, type Precision, applyRope, geglu as referenceGeglu, layerNorm as referenceLayerNorm, linear as referenceLinear, fp32, fp64, ropeTables } from '../../reference/ops.ts';
import { UNLIMITED, type Window, varlenAttention } from '../../reference/attention.ts';
import { pack } from '../../reference/unpad.ts';
import { type GpuJsContext, type GpuJsMode, GPUJS_MODES, createGpuJs } from '../../optimized/gpujs/mode.ts';
import { add, attention, embedding, geglu, layerNorm, linear, rope } from '../../optimized/gpujs/kernels.ts';
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

/** Runs fn with a gpu.js instance in `mode`, destroyed afterwards. */
async function inMode(mode: GpuJsMode, fn: (ctx: GpuJsContext) => Promise<void>): Promise<void> {
  const ctx = await createGpuJs(mode);
  try {
    await fn(ctx);
  } finally {
    ctx.gpu.destroy();
  }
}

describe.each(GPUJS_MODES.map((m) => [m]))('gpu.js kernels, mode %s', (mode: GpuJsMode) => {
  // K = 1025 passes gpu.js's default loop limit of 1000: the kernel must raise it.
  const shapes: [number, number, number][] = [[1, 33, 17], [65, 64, 64], [7, 96, 1025]];

  it(`linear: (M, N, K) ${shapes.map((s) => s.join('x')).join(', ')}, with and without bias`, async () => {
    await inMode(mode, async (ctx) => {
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
    });
  });

  it('layerNorm: rows 1, 7, 65 x C 12, 100, 1025 (past the loop limit), with and without bias', async () => {
    await inMode(mode, async (ctx) => {
      for (const [T, C] of [[1, 12], [7, 100], [65, 1025]]) {
        for (const withBias of [false, true]) {
          const x = values(T * C, T + C, 2).map((v, i) => Math.fround(v + (i % 3)));
          const w = values(C, C, 1).map(Math.fround);
          const b = withBias ? values(C, 2 * C, 0.5).map(Math.fround) : null;
          const got = await layerNorm(ctx, Float32Array.from(x), Float32Array.from(w), b && Float32Array.from(b), T, C, 1e-5);
          const ref32 = referenceLayerNorm(fp32, Float32Array.from(x), Float32Array.from(w), b && Float32Array.from(b), T, C, 1e-5);
          const ref64 = referenceLayerNorm(fp64, x, w, b, T, C, 1e-5);
          expectKernelClose(`gpujs:${mode} layerNorm ${T}x${C}${withBias ? ' +bias' : ''}`, got, ref32, ref64, 1e-6);
        }
      }
    });
  });

  it('geglu: T 1 and 33 x I 1, 24, 96', async () => {
    await inMode(mode, async (ctx) => {
      for (const [T, I] of [[1, 1], [33, 24], [1, 96]]) {
        const u = values(T * 2 * I, T * I, 4).map(Math.fround);
        const got = await geglu(ctx, Float32Array.from(u), T, I);
        expectKernelClose(`gpujs:${mode} geglu ${T}x${I}`, got, referenceGeglu(fp32, Float32Array.from(u), T, I), referenceGeglu(fp64, u, T, I), 1e-6);
      }
    });
  });

  it('embedding: gathers rows exactly, ids up to the vocabulary size', async () => {
    await inMode(mode, async (ctx) => {
      const V = 50368;
      const C = 4;
      const table = Float32Array.from({ length: V * C }, (_, i) => Math.fround(Math.sin(i)));
      const tokens = [0, 1, 50367, 12345, 7];
      const got = await embedding(ctx, tokens, table, C);
      expect(got).toEqual(Float32Array.from(tokens.flatMap((t) => Array.from(table.subarray(t * C, t * C + C)))));
    });
  });

  it('add, and rope on q and k with per-token positions (v untouched), D 8 and 64, both thetas', async () => {
    await inMode(mode, async (ctx) => {
      const a = Float32Array.from(values(37, 1, 3).map(Math.fround));
      const b = Float32Array.from(values(37, 2, 3).map(Math.fround));
      expect(await add(ctx, a, b)).toEqual(Float32Array.from(a, (v, i) => Math.fround(v + b[i])));
      for (const D of [8, 64]) {
        for (const theta of [160000, 10000]) {
          const H = 2;
          const positions = [0, 1, 2, 0, 5, 1, 130];
          const T = positions.length;
          const qkv = values(T * 3 * H * D, D + T, 1.5).map(Math.fround);
          const ref = (p: Precision, x: FloatArray): FloatArray => {
            const y = p.alloc(x.length);
            y.set(x);
            const tables = ropeTables(p, theta, D, 131);
            for (let t = 0; t < T; t++) for (let part = 0; part < 2; part++) for (let h = 0; h < H; h++) applyRope(p, y, t * 3 * H * D + part * H * D + h * D, positions[t], tables);
            return y;
          };
          const tables = ropeTables(fp32, theta, D, 131);
          const got = await rope(ctx, Float32Array.from(qkv), positions, tables.cos as Float32Array, tables.sin as Float32Array, T, H, D);
          expectKernelClose(`gpujs:${mode} rope D${D} theta ${theta}`, got, ref(fp32, Float32Array.from(qkv)), ref(fp64, qkv), 1e-6);
        }
      }
    });
  });

  it('attention: B = 1 and 7, lengths 1 to 129, windows unlimited, +-2, wider than the sequence, one-sided', async () => {
    await inMode(mode, async (ctx) => {
      const H = 2;
      const D = 16;
      for (const lengths of [[1], [63], [64, 65], [1, 129, 1, 64, 5, 2, 33]]) {
        const batch = pack(lengths.map((n) => new Array(n).fill(0)));
        const qkv = values(batch.totalTokens * 3 * H * D, batch.totalTokens + 3, 1.5).map(Math.fround);
        for (const window of [UNLIMITED, [2, 2], [64, 64], [0, 3]] as Window[]) {
          const got = await attention(ctx, Float32Array.from(qkv), batch.cuSeqlens, H, D, window);
          expectKernelClose(`gpujs:${mode} attention lengths ${lengths} window ${window}`, got, varlenAttention(fp32, Float32Array.from(qkv), batch.cuSeqlens, H, D, window), varlenAttention(fp64, qkv, batch.cuSeqlens, H, D, window), 1e-6);
        }
      }
    });
  });
});
