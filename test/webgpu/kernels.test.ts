// Each WGSL kernel (the GEMMs: gemm.test.ts) against the reference (fp64 oracle, fp32 for the error budget) on swept shapes,
// including sizes that are not multiples of the tiles, 1-token sequences and windows wider than the sequence.
import { describe, expect, it } from 'vitest';
import { UNLIMITED, type Window, varlenAttention } from '../../reference/attention.ts';
import { type FloatArray, type Precision, applyRope, fp32, fp64, layerNorm, ropeTables } from '../../reference/ops.ts';
import { pool as referencePool } from '../../reference/modernbert.ts';
import { pack } from '../../reference/unpad.ts';
import * as attention from '../../optimized/webgpu/kernels/attention.ts';
import * as embedding from '../../optimized/webgpu/kernels/embedding.ts';
import * as gemm from '../../optimized/webgpu/kernels/gemm.ts';
import { roundHalf } from '../../optimized/webgpu/kernels/storage.ts';
import * as layernorm from '../../optimized/webgpu/kernels/layernorm.ts';
import * as poolKernel from '../../optimized/webgpu/kernels/pool.ts';
import * as rope from '../../optimized/webgpu/kernels/rope.ts';
import { expectKernelClose, gpu, read, values } from './harness.ts';

/** fp32-representable inputs, as both a Float64Array (for the references) and a Float32Array (for the GPU). */
function inputs(n: number, seed: number, scale = 1): { f64: Float64Array; f32: Float32Array } {
  const f64 = values(n, seed, scale).map(Math.fround);
  return { f64, f32: Float32Array.from(f64) };
}

describe('layernorm', () => {
  it('rows 1, 7, 65 x C 12, 32, 100, 768, with and without bias', async () => {
    const l = await gpu();
    for (const rows of [1, 7, 65]) {
      for (const C of [12, 32, 100, 768]) {
        for (const withBias of [false, true]) {
          const x = inputs(rows * C, rows + C, 3);
          const w = inputs(C, C, 1);
          const b = inputs(C, C + 1, 1);
          const y = l.pool.storage(rows * C * 4, 'y');
          layernorm.run(l, { x: l.upload(x.f32, 'x'), weight: l.upload(w.f32, 'w'), bias: withBias ? l.upload(b.f32, 'b') : null, y, rows, C, eps: 1e-5 });
          const got = await read(l, y, rows * C);
          expectKernelClose(`layernorm ${rows}x${C}${withBias ? '+bias' : ''}`, got, layerNorm(fp32, x.f32, w.f32, withBias ? b.f32 : null, rows, C, 1e-5), layerNorm(fp64, x.f64, w.f64, withBias ? b.f64 : null, rows, C, 1e-5), 1e-6);
        }
      }
    }
  });
});

describe('embedding', () => {
  it('gathers rows of the table exactly', async () => {
    const l = await gpu();
    const V = 50, C = 12;
    const table = inputs(V * C, 1).f32;
    const ids = [0, 49, 7, 7, 3];
    const out = l.pool.storage(ids.length * C * 4, 'out');
    embedding.run(l, { tokens: l.upload(Uint32Array.from(ids), 'tokens'), table: l.upload(table, 'table'), out, T: ids.length, C });
    const got = await read(l, out, ids.length * C);
    ids.forEach((id, t) => expect(got.subarray(t * C, (t + 1) * C)).toEqual(table.subarray(id * C, (id + 1) * C)));
  });

  it('gathers rows of a table packed for the subgroup-matrix GEMM (a tied decoder), 16 x 16 and 8 x 8 fragments', async () => {
    const l = await gpu();
    const V = 150, C = 40; // neither a multiple of the padding (128 rows, 32 columns)
    const table = Float32Array.from(inputs(V * C, 2).f32, roundHalf);
    const ids = [0, 149, 16, 15, 127, 128, 7];
    for (const shape of [{ SN: 16, SK: 16 }, { SN: 8, SK: 8 }]) {
      const packed = gemm.packWeights(l, table, { N: V, K: C, epilogue: 'none' }, 'table', shape);
      const out = l.pool.storage(ids.length * C * 4, 'out');
      embedding.run(l, { tokens: l.upload(Uint32Array.from(ids), 'tokens'), table: packed, out, T: ids.length, C, tableDtype: 'f16' });
      const got = await read(l, out, ids.length * C);
      ids.forEach((id, t) => expect(got.subarray(t * C, (t + 1) * C), `${shape.SN}x${shape.SK} token ${id}`).toEqual(table.subarray(id * C, (id + 1) * C)));
      expect(() => embedding.run(l, { tokens: l.upload(Uint32Array.from(ids), 'tokens'), table: packed, out, T: ids.length, C: 38, tableDtype: 'f16' })).toThrow('embedding: the packed table is f16 [150, 40]; this lookup reads a f16 table of 38 columns');
    }
  });
});

describe('rope', () => {
  for (const D of [8, 16, 64]) {
    it(`rotates q and k by per-token positions, D ${D}, both thetas`, async () => {
      const l = await gpu();
      for (const theta of [160000, 10000]) {
        for (const lengths of [[1], [5, 1, 65]]) {
          const H = 2;
          const batch = pack(lengths.map((n) => new Array(n).fill(0)));
          const T = batch.totalTokens;
          const qkv = inputs(T * 3 * H * D, T + D, 2);
          const run = (p: Precision, data: FloatArray) => {
            const out = data.slice();
            const tables = ropeTables(p, theta, D, batch.maxSeqlen);
            for (let t = 0; t < T; t++) for (const s of [0, 1]) for (let h = 0; h < H; h++) applyRope(p, out, t * 3 * H * D + s * H * D + h * D, batch.positions[t], tables);
            return out;
          };
          const tables = ropeTables(fp32, theta, D, batch.maxSeqlen);
          const buffer = l.upload(qkv.f32, 'qkv');
          rope.run(l, { qkv: buffer, positions: l.upload(Uint32Array.from(batch.positions), 'pos'), cos: l.upload(tables.cos, 'cos'), sin: l.upload(tables.sin, 'sin'), T, H, D });
          const got = await read(l, buffer, T * 3 * H * D);
          expectKernelClose(`rope D${D} theta ${theta} lengths ${lengths}`, got, run(fp32, qkv.f32), run(fp64, qkv.f64), 1e-6);
        }
      }
    });
  }
});

describe('varlen attention', () => {
  const batches = [[1], [2], [63], [64, 65], [127, 129], [1, 129, 1, 64, 5, 2, 33]];
  const windows: Window[] = [UNLIMITED, [2, 2], [64, 64], [0, 3]];
  for (const variant of ['flash', 'materialized'] as const) {
    for (const D of [8, 16, 64]) {
      it(`${variant}, D ${D}: B = 1 and 7, lengths 1 to 129, windows unlimited, +-2, wider than the sequence, one-sided`, async () => {
        const l = await gpu();
        const H = 2;
        for (const lengths of batches) {
          const batch = pack(lengths.map((n) => new Array(n).fill(0)));
          const T = batch.totalTokens;
          const qkv = inputs(T * 3 * H * D, T * 3 + D, 1.5);
          const qkvBuffer = l.upload(qkv.f32, 'qkv');
          const cu = l.upload(Uint32Array.from(batch.cuSeqlens), 'cu');
          for (const window of windows) {
            const out = l.pool.storage(T * H * D * 4, 'out');
            attention.run(l, { qkv: qkvBuffer, cuSeqlens: cu, out, lengths, maxSeqlen: batch.maxSeqlen, H, D, window, variant });
            const got = await read(l, out, T * H * D);
            l.pool.release(out);
            expectKernelClose(`${variant} D${D} lengths ${lengths} window ${window}`, got, varlenAttention(fp32, qkv.f32, batch.cuSeqlens, H, D, window), varlenAttention(fp64, qkv.f64, batch.cuSeqlens, H, D, window), 1e-6);
          }
        }
      });
    }
  }

  it('padded execution (sequsedK): real rows match varlen on the real tokens, pads are never keys', async () => {
    const l = await gpu();
    const H = 2;
    const D = 16;
    const lengths = [1, 129, 1, 64, 5, 2, 33];
    const L = 129;
    const batch = pack(lengths.map((n) => new Array(n).fill(0)));
    const packed = inputs(batch.totalTokens * 3 * H * D, 11, 1.5);
    // The padded layout: each sequence's real rows first, then rows of large values that would change any
    // result they leaked into.
    const row = 3 * H * D;
    const padded = Float32Array.from(values(lengths.length * L * row, 12, 50));
    lengths.forEach((n, b) => padded.set(packed.f32.subarray(batch.cuSeqlens[b] * row, batch.cuSeqlens[b + 1] * row), b * L * row));
    const qkv = l.upload(padded, 'qkv');
    const cu = l.upload(Uint32Array.from({ length: lengths.length + 1 }, (_, b) => b * L), 'cu');
    const sequsedK = l.upload(Uint32Array.from(lengths), 'sequsedK');
    for (const variant of ['flash', 'materialized'] as const) {
      for (const window of [UNLIMITED, [2, 2], [64, 64]] as Window[]) {
        const out = l.pool.storage(lengths.length * L * H * D * 4, 'out');
        attention.run(l, { qkv, cuSeqlens: cu, sequsedK, out, lengths: lengths.map(() => L), maxSeqlen: L, H, D, window, variant });
        const got = await read(l, out, lengths.length * L * H * D);
        l.pool.release(out);
        const real = new Float32Array(batch.totalTokens * H * D);
        lengths.forEach((n, b) => real.set(got.subarray(b * L * H * D, (b * L + n) * H * D), batch.cuSeqlens[b] * H * D));
        const what = `${variant} padded window ${window}`;
        expectKernelClose(what, real, varlenAttention(fp32, packed.f32, batch.cuSeqlens, H, D, window), varlenAttention(fp64, packed.f64, batch.cuSeqlens, H, D, window), 1e-6);
        // A pad query whose window holds no real key is defined as zero (sequence 0: 1 token, pad at position 3).
        if (window[1] === 2) expect([...got.subarray(3 * H * D, 4 * H * D)]).toEqual(new Array(H * D).fill(0));
        expect(got.every(Number.isFinite), `${what}: every output finite`).toBe(true);
      }
    }
  });

  it('counts only the visible pairs in flops', () => {
    // 5 tokens, window +-2: 3 + 4 + 5 + 4 + 3 = 19 pairs; 4 flops per pair per head dim.
    expect(attention.flops({ lengths: [5], H: 1, D: 1, window: [2, 2] })).toBe(4 * 19);
    expect(attention.flops({ lengths: [5], H: 1, D: 1, window: [-1, -1] })).toBe(4 * 25);
  });
});

describe('pool', () => {
  it('cls and mean over sequences of 1 to 40 tokens', async () => {
    const l = await gpu();
    const C = 24;
    const batch = pack([[0], new Array(40).fill(0), [0, 0, 0]]);
    const hidden = inputs(batch.totalTokens * C, 3, 2);
    for (const pooling of ['cls', 'mean'] as const) {
      const out = l.pool.storage(batch.batchSize * C * 4, 'out');
      poolKernel.run(l, { hidden: l.upload(hidden.f32, 'h'), cuSeqlens: l.upload(Uint32Array.from(batch.cuSeqlens), 'cu'), out, T: batch.totalTokens, B: batch.batchSize, C, pooling });
      const got = await read(l, out, batch.batchSize * C);
      expectKernelClose(`pool ${pooling}`, got, referencePool(fp32, hidden.f32, batch, C, pooling), referencePool(fp64, hidden.f64, batch, C, pooling), 1e-6);
    }
  });

  it('padded execution (sequsedK): pools only the real rows', async () => {
    const l = await gpu();
    const C = 24;
    const lengths = [1, 40, 3];
    const L = 40;
    const batch = pack(lengths.map((n) => new Array(n).fill(0)));
    const hidden = inputs(batch.totalTokens * C, 3, 2);
    const padded = Float32Array.from(values(lengths.length * L * C, 4, 100));
    lengths.forEach((n, b) => padded.set(hidden.f32.subarray(batch.cuSeqlens[b] * C, batch.cuSeqlens[b + 1] * C), b * L * C));
    const args = { hidden: l.upload(padded, 'h'), cuSeqlens: l.upload(Uint32Array.from([0, L, 2 * L, 3 * L]), 'cu'), sequsedK: l.upload(Uint32Array.from(lengths), 'used'), T: lengths.length * L, B: lengths.length, C };
    for (const pooling of ['cls', 'mean'] as const) {
      const out = l.pool.storage(batch.batchSize * C * 4, 'out');
      poolKernel.run(l, { ...args, out, pooling });
      const got = await read(l, out, batch.batchSize * C);
      expectKernelClose(`pool ${pooling} padded`, got, referencePool(fp32, hidden.f32, batch, C, pooling), referencePool(fp64, hidden.f64, batch, C, pooling), 1e-6);
    }
  });
});
