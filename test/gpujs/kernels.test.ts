// gpu.js kernels against the reference in every mode (webgpu runs on SwiftShader here), and mode selection.
import { describe, expect, it } from 'vitest';
import { type FloatArray, type Precision, applyRope, activation as referenceActivation, glu as referenceGlu, layerNorm as referenceLayerNorm, linear as referenceLinear, fp32, fp64, ropeTables } from '../../reference/ops.ts';
import { UNLIMITED, type Window, varlenAttention } from '../../reference/attention.ts';
import { pack } from '../../reference/unpad.ts';
import { type GpuJsMode, GPUJS_MODES, createGpuJs } from '../../optimized/gpujs/mode.ts';
import { GpuJsKernels, type Tensor, activation, add, attention, layerNorm, linear, pool, rope, tokenSequences } from '../../optimized/gpujs/kernels.ts';
import { pool as referencePool } from '../../reference/modernbert.ts';
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

/** Runs fn with the kernels of a gpu.js instance in `mode`, destroyed afterwards. */
async function inMode(mode: GpuJsMode, fn: (k: GpuJsKernels) => Promise<void>): Promise<void> {
  const ctx = await createGpuJs(mode);
  const k = new GpuJsKernels(ctx);
  try {
    await fn(k);
  } finally {
    k.destroy();
    ctx.gpu.destroy();
  }
}

/** A kernel's result on the host, released on the device. */
async function host(k: GpuJsKernels, result: Promise<Tensor>): Promise<Float32Array> {
  const t = await result;
  const values = await k.read(t);
  k.release(t);
  return values;
}

describe.each(GPUJS_MODES.map((m) => [m]))('gpu.js kernels, mode %s', (mode: GpuJsMode) => {
  // K = 1025 passes gpu.js's default loop limit of 1000: the kernel must raise it.
  const shapes: [number, number, number][] = [[1, 33, 17], [65, 64, 64], [7, 96, 1025]];

  it(`linear: (M, N, K) ${shapes.map((s) => s.join('x')).join(', ')}, with and without bias`, async () => {
    await inMode(mode, async (k) => {
      for (const [M, N, K] of shapes) {
        for (const withBias of [false, true]) {
          const x = values(M * K, M + K, 1).map(Math.fround);
          const W = values(N * K, N * K, 0.1).map(Math.fround);
          const bias = withBias ? values(N, N, 0.5).map(Math.fround) : null;
          const got = await host(k, linear(k, Float32Array.from(x), Float32Array.from(W), bias && Float32Array.from(bias), M, N, K));
          const ref32 = referenceLinear(fp32, Float32Array.from(x), Float32Array.from(W), bias && Float32Array.from(bias), M, N, K);
          const ref64 = referenceLinear(fp64, x, W, bias, M, N, K);
          expectKernelClose(`gpujs:${k.ctx.mode} linear ${M}x${N}x${K}${withBias ? ' +bias' : ''}`, got, ref32, ref64, 1e-6);
        }
      }
    });
  });

  it('layerNorm: rows 1, 7, 65 x C 12, 100, 1025 (past the loop limit), with and without bias', async () => {
    await inMode(mode, async (k) => {
      for (const [T, C] of [[1, 12], [7, 100], [65, 1025]]) {
        for (const withBias of [false, true]) {
          const x = values(T * C, T + C, 2).map((v, i) => Math.fround(v + (i % 3)));
          const w = values(C, C, 1).map(Math.fround);
          const b = withBias ? values(C, 2 * C, 0.5).map(Math.fround) : null;
          const got = await host(k, layerNorm(k, Float32Array.from(x), Float32Array.from(w), b && Float32Array.from(b), T, C, 1e-5));
          const ref32 = referenceLayerNorm(fp32, Float32Array.from(x), Float32Array.from(w), b && Float32Array.from(b), T, C, 1e-5);
          const ref64 = referenceLayerNorm(fp64, x, w, b, T, C, 1e-5);
          expectKernelClose(`gpujs:${k.ctx.mode} layerNorm ${T}x${C}${withBias ? ' +bias' : ''}`, got, ref32, ref64, 1e-6);
        }
      }
    });
  });

  it('glu (T 1 and 33 x I 1, 24, 96) and elementwise, every activation (gelu, gelu_tanh, silu, relu)', async () => {
    await inMode(mode, async (k) => {
      for (const kind of ['gelu', 'gelu_tanh', 'silu', 'relu'] as const) {
        for (const [T, I] of [[1, 1], [33, 24], [1, 96]]) {
          const u = values(T * 2 * I, T * I, 4).map(Math.fround);
          const got = await host(k, activation(k, Float32Array.from(u), T * I, kind, I));
          expectKernelClose(`gpujs:${k.ctx.mode} glu ${kind} ${T}x${I}`, got, referenceGlu(fp32, Float32Array.from(u), T, I, kind), referenceGlu(fp64, u, T, I, kind), 1e-6);
        }
        const x = values(999, 5, 6).map(Math.fround);
        const got = await host(k, activation(k, Float32Array.from(x), x.length, kind));
        expectKernelClose(`gpujs:${k.ctx.mode} ${kind}`, got, referenceActivation(fp32, Float32Array.from(x), kind), referenceActivation(fp64, x, kind), 1e-6);
      }
    });
  });

  it('add, and rope on q and k with per-token positions (v untouched), D 8 and 64, both thetas', async () => {
    await inMode(mode, async (k) => {
      const a = Float32Array.from(values(37, 1, 3).map(Math.fround));
      const b = Float32Array.from(values(37, 2, 3).map(Math.fround));
      expect(await host(k, add(k, a, b, 37))).toEqual(Float32Array.from(a, (v, i) => Math.fround(v + b[i])));
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
          const got = await host(k, rope(k, Float32Array.from(qkv), Float32Array.from(positions), tables.cos as Float32Array, tables.sin as Float32Array, T, H, D));
          expectKernelClose(`gpujs:${k.ctx.mode} rope D${D} theta ${theta}`, got, ref(fp32, Float32Array.from(qkv)), ref(fp64, qkv), 1e-6);
        }
      }
    });
  });

  it('attention: B = 1 and 7, lengths 1 to 129, windows unlimited, +-2, wider than the sequence, one-sided', async () => {
    await inMode(mode, async (k) => {
      const H = 2;
      const D = 16;
      for (const lengths of [[1], [63], [64, 65], [1, 129, 1, 64, 5, 2, 33]]) {
        const batch = pack(lengths.map((n) => new Array(n).fill(0)));
        const qkv = values(batch.totalTokens * 3 * H * D, batch.totalTokens + 3, 1.5).map(Math.fround);
        for (const window of [UNLIMITED, [2, 2], [64, 64], [0, 3]] as Window[]) {
          const got = await host(k, attention(k, Float32Array.from(qkv), tokenSequences(batch.cuSeqlens), batch.totalTokens, H, D, window));
          expectKernelClose(`gpujs:${k.ctx.mode} attention lengths ${lengths} window ${window}`, got, varlenAttention(fp32, Float32Array.from(qkv), batch.cuSeqlens, H, D, window), varlenAttention(fp64, qkv, batch.cuSeqlens, H, D, window), 1e-6);
        }
      }
    });
  });

  it('pool: cls and mean over sequences of 1 to 1100 tokens (past the loop limit)', async () => {
    await inMode(mode, async (k) => {
      const C = 3;
      const batch = pack([[0], new Array(1100).fill(0), new Array(7).fill(0)]);
      const last = values(batch.totalTokens * C, 9, 2).map(Math.fround);
      for (const pooling of ['cls', 'mean'] as const) {
        const got = await host(k, pool(k, Float32Array.from(last), Float32Array.from(batch.cuSeqlens), batch.maxSeqlen, batch.batchSize, C, pooling));
        const ref32 = referencePool(fp32, Float32Array.from(last), batch, C, pooling);
        expectKernelClose(`gpujs:${k.ctx.mode} pool ${pooling}`, got, ref32, referencePool(fp64, last, batch, C, pooling), 1e-6);
      }
    });
  });

  it('a tensor of 2^24 values or more is an error naming the kernel (f32 indexes are exact only below 2^24)', async () => {
    await inMode(mode, async (k) => {
      await expect(linear(k, new Float32Array(4), new Float32Array(4), null, 2 ** 12, 2 ** 12, 1)).rejects.toThrow(/gpu.js kernel linear: 16777216 outputs.*exact below 2\^24/);
      await expect(add(k, new Float32Array(2 ** 24), new Float32Array(1), 1)).rejects.toThrow(/gpu.js kernel add: argument 0 holds 16777216 values/);
    });
  });
});

describe('gpu.js fallback guard', () => {
  it('a kernel that runs in another mode than the one asked for is an error, not a silent fallback', async () => {
    const { GPU } = await import('gpu.js');
    // gpu.js degrades a kernel it cannot build to cpu; a context whose instance runs cpu while it claims webasm looks the same.
    const k = new GpuJsKernels({ gpu: new GPU({ mode: 'cpu' }), mode: 'webasm', fallback: null });
    await expect(add(k, new Float32Array(2), new Float32Array(2), 2)).rejects.toThrow(/gpu.js kernel add ran in mode "cpu", not gpujs:webasm/);
    k.ctx.gpu.destroy();
  });
});
