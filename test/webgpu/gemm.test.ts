// The GEMM kernels (v4, v3, v2, the baselines v1 and naive) against the reference (fp64 oracle, fp32 for the error budget),
// on swept shapes: rows around the tile sizes, N not a multiple of the tile or of 4, K not a multiple of TK.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type FloatArray, type Precision, activation, add, fp32, fp64, glu, linear } from '../../reference/ops.ts';
import * as gemm from '../../optimized/webgpu/kernels/gemm.ts';
import { type Launcher } from '../../optimized/webgpu/kernels/launch.ts';
import { type DType, decode, encode, roundHalf } from '../../optimized/webgpu/kernels/storage.ts';
import v3Source from '../../optimized/webgpu/kernels/gemm_v3.wgsl';
import v4Source from '../../optimized/webgpu/kernels/gemm_v4.wgsl';
import { withV4Registers } from '../../optimized/webgpu/kernels/gemm_v4.ts';
import { compileErrors, expectKernelClose, gpu, nullDevice, pipelineError, read, storageRounding, values } from './harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Inputs representable in `dtype`, as both a Float64Array (for the references) and a Float32Array. */
function inputs(n: number, seed: number, scale = 1, dtype: DType = 'f32'): { f64: Float64Array; f32: Float32Array } {
  const f64 = values(n, seed, scale).map(dtype === 'f16' ? roundHalf : Math.fround);
  return { f64, f32: Float32Array.from(f64) };
}

const F32 = { x: 'f32', W: 'f32', y: 'f32' } as const;

function referenceGemm(p: Precision, x: FloatArray, W: FloatArray, bias: FloatArray | null, residual: FloatArray, s: gemm.GemmShape): FloatArray {
  const kind = s.activation ?? 'gelu';
  if (s.epilogue === 'glu') return glu(p, linear(p, x, W, bias, s.M, 2 * s.N, s.K), s.M, s.N, kind);
  const y = linear(p, x, W, bias, s.M, s.N, s.K);
  if (s.epilogue === 'residual') return add(p, y, residual);
  return s.epilogue === 'activation' ? activation(p, y, kind) : y;
}

/**
 * Runs one GEMM on the GPU and checks it against the references (with a bias on odd M, without on even). Inputs
 * stored in f16 are f16 values for the references too; an f16 output adds its own rounding (half an f16 ulp,
 * 2^-11 relative) to the allowed error.
 */
async function check(l: Launcher, s: gemm.GemmShape, variant: gemm.GemmVariant | undefined, tile?: gemm.AnyGemmTile): Promise<void> {
  const { M, N, K, epilogue } = s;
  const dtypes = s.dtypes ?? F32;
  const wRows = epilogue === 'glu' ? 2 * N : N;
  // the subgroup-matrix kernel rounds x to f16: halves, whatever their storage
  const sgmat = variant === 'sgmat' || tile?.kernel === 'sgmat';
  const x = inputs(M * K, M + K, 1, sgmat ? 'f16' : dtypes.x);
  const W = inputs(wRows * K, N * 7 + K, 0.3, dtypes.W);
  const b = inputs(wRows, N + 3, 0.5);
  const r = inputs(M * N, M * 5 + N);
  const y = l.pool.storage(M * N * 4, 'y');
  const bias = M % 2 ? l.upload(b.f32, 'bias') : null;
  // sgmat reads W packed in its tile's fragments (f16: the values here are halves already)
  const storedW = sgmat ? gemm.packWeights(l, W.f32, s, 'W', tile as gemm.SgmatTile) : l.upload(encode(W.f32, dtypes.W), 'W');
  gemm.run(l, { ...s, x: l.upload(encode(x.f32, dtypes.x), 'x'), W: storedW, bias, residual: l.upload(r.f32, 'r'), y, variant, tile });
  const got = decode(await read(l, y, dtypes.y === 'f16' ? Math.ceil((M * N) / 2) : M * N), dtypes.y, M * N);
  const ref64 = referenceGemm(fp64, x.f64, W.f64, bias ? b.f64 : null, r.f64, s);
  // GELU's erf is an f32 polynomial good to 1.5e-7 (absolute): allow that much more.
  const floor = (epilogue === 'activation' || epilogue === 'glu' ? 2e-6 : 1e-6) + storageRounding(dtypes.y, ref64);
  const stored = dtypes === F32 ? '' : ` ${dtypes.x}.${dtypes.W}->${dtypes.y}`;
  const name = `gemm ${variant ?? 'default'}${tile ? ` ${gemm.tileName(tile)}` : ''}${stored} ${epilogue}${s.activation ? ` ${s.activation}` : ''} ${M}x${N}x${K}${bias ? '+bias' : ''}`;
  expectKernelClose(name, got, referenceGemm(fp32, x.f32, W.f32, bias ? b.f32 : null, r.f32, s), ref64, floor);
}

const EPILOGUES: gemm.Epilogue[] = ['none', 'residual', 'activation', 'glu'];
const ROWS = [1, 2, 63, 64, 65, 127, 129, 1025];

describe('gemm v4, v3 and v2', () => {
  // K: one partial vec4 tile (4), not a multiple of TK (20, 40), several tiles (64); N: under 4, not a multiple of 4, of the tile.
  const shapes: [number, number][] = [
    [3, 4],
    [33, 20],
    [64, 64],
    [96, 40],
  ];
  for (const variant of ['v4', 'v3', 'v2'] as const) {
    for (const epilogue of EPILOGUES) {
      it(`${variant} ${epilogue}, default tile: rows ${ROWS.join(', ')} x (N, K) ${shapes.map((s) => s.join('x')).join(', ')}`, async () => {
        const l = await gpu();
        for (const M of ROWS) for (const [N, K] of shapes) await check(l, { M, N, K, epilogue }, variant);
      });
    }
  }

  // Every tile shape the tuner may choose must be correct too: both register heights and widths, narrow and wide
  // workgroups, TK 4 to 32, loads spread over one or two rounds of the threads (v3, v4).
  const tiles: gemm.GemmTile[] = [
    gemm.V4_LARGE_TILE,
    gemm.V4_GLU_SMALL_TILE,
    { kernel: 'v4', WG_M: 16, WG_N: 8, TM: 4, TN: 4, TK: 32 },
    { kernel: 'v4', WG_M: 8, WG_N: 16, TM: 4, TN: 8, TK: 8 },
    { kernel: 'v4', WG_M: 8, WG_N: 8, TM: 4, TN: 4, TK: 4 },
    { kernel: 'v4', WG_M: 8, WG_N: 8, TM: 8, TN: 4, TK: 16 },
    gemm.LARGE_TILE,
    gemm.SMALL_TILE,
    { WG_M: 8, WG_N: 32, TM: 8, TK: 8 },
    { WG_M: 32, WG_N: 8, TM: 4, TK: 32 },
    { WG_M: 4, WG_N: 16, TM: 4, TK: 4 },
    { kernel: 'v3', WG_M: 16, WG_N: 16, TM: 8, TN: 8, TK: 16 },
    { kernel: 'v3', WG_M: 16, WG_N: 16, TM: 8, TN: 4, TK: 8 },
    { kernel: 'v3', WG_M: 16, WG_N: 8, TM: 8, TN: 8, TK: 16 },
    { kernel: 'v3', WG_M: 8, WG_N: 8, TM: 4, TN: 4, TK: 32 },
    { kernel: 'v3', WG_M: 8, WG_N: 32, TM: 4, TN: 8, TK: 8 },
    { kernel: 'v3', WG_M: 4, WG_N: 4, TM: 8, TN: 8, TK: 16 },
  ];
  for (const tile of tiles) {
    it(`tile ${gemm.tileName(tile)}: every epilogue, rows 1, 65, 300 x (N, K) 70x36, 130x132`, async () => {
      const l = await gpu();
      // v4 refuses GLU on a tile of more than 32 outputs a thread (value and gate: twice the registers)
      for (const epilogue of EPILOGUES.filter((e) => !(e === 'glu' && gemm.tileProblem(tile, e, 256)))) {
        for (const M of [1, 65, 300]) {
          for (const [N, K] of [
            [70, 36],
            [130, 132],
          ]) {
            await check(l, { M, N, K, epilogue }, tile.kernel ?? 'v2', tile);
          }
        }
      }
    });
  }

  // f16 storage: the model's combinations (f16 activations and weights; f32 residual stream and head inputs) and an f32 x.
  const stored: { x: DType; W: DType; y: DType }[] = [
    { x: 'f16', W: 'f16', y: 'f16' },
    { x: 'f16', W: 'f16', y: 'f32' },
    { x: 'f32', W: 'f16', y: 'f32' },
    { x: 'f16', W: 'f32', y: 'f16' },
  ];
  for (const variant of ['v4', 'v3', 'v2'] as const) {
    for (const dtypes of stored) {
      it(`${variant} f16 storage ${dtypes.x}.${dtypes.W}->${dtypes.y}: every epilogue, rows 1, 65, 129 x (N, K) 2x4, 34x20, 96x64`, async () => {
        const l = await gpu();
        for (const epilogue of EPILOGUES) {
          for (const M of [1, 65, 129]) {
            for (const [N, K] of [
              [2, 4],
              [34, 20],
              [96, 64],
            ]) {
              await check(l, { M, N, K, epilogue, dtypes }, variant);
            }
          }
        }
      });
    }
  }

  // The subgroup-matrix kernel's tiling, bounds and epilogues, with the matrix operations emulated in plain WGSL
  // (SwiftShader has no subgroup matrices): the shapes adapters list (NVIDIA and AMD 16x16x16, Apple 8x8x8, Intel
  // 8x16x16) in each workgroup tile, M, N and K not multiples of the matrices or the tile (K tails shorter than a
  // step), one row, and x stored in f32 (rounded to f16 as it is staged: its values here are halves already).
  const emulated = (SM: number, SN: number, SK: number, tile: Partial<gemm.SgmatTile> = {}): gemm.SgmatTile => ({ kernel: 'sgmat', SM, SN, SK, ...tile, emulated: true });
  const sgmatCases: [gemm.SgmatTile, [gemm.Epilogue, DType, DType][]][] = [
    [emulated(16, 16, 16), [...EPILOGUES.map((e) => [e, 'f16', 'f16'] as [gemm.Epilogue, DType, DType]), ['residual', 'f16', 'f32'], ['glu', 'f32', 'f32']]],
    [emulated(16, 16, 16, { BM: 64, BW: 128, TK: 32 }), [['glu', 'f16', 'f16'], ['none', 'f32', 'f32']]],
    [emulated(16, 16, 16, { BM: 128, BW: 64 }), [['residual', 'f16', 'f32'], ['glu', 'f16', 'f16']]],
    [emulated(8, 8, 8, { BM: 64, BW: 64, TK: 16 }), [['glu', 'f16', 'f16'], ['residual', 'f16', 'f32']]],
    [emulated(8, 16, 16, { BM: 64 }), [['glu', 'f16', 'f16'], ['activation', 'f16', 'f32']]],
  ];
  // SwiftShader compiles each emulated pipeline for seconds: every epilogue on the default tile, two on the others.
  for (const [tile, cases] of sgmatCases) {
    it(`${gemm.tileName(tile)}: ${cases.map(([e, x, y]) => `${e} ${x} -> ${y}`).join(', ')}; (M, N, K) 1x2x4, 64x70x36, 129x130x68, 300x260x100`, async () => {
      const l = await gpu();
      for (const [epilogue, x, y] of cases) {
        for (const [M, N, K] of [
          [1, 2, 4],
          [64, 70, 36],
          [129, 130, 68],
          [300, 260, 100],
        ]) {
          await check(l, { M, N, K, epilogue, dtypes: { x, W: 'f16', y } }, 'sgmat', tile);
        }
      }
    });
  }

  it('gemm sgmat refuses what it cannot do, naming the reason', async () => {
    const l = await gpu();
    const packed = (t: gemm.SgmatTile, K: number, epilogue: gemm.Epilogue = 'none') => gemm.packWeights(l, new Float32Array((epilogue === 'glu' ? 8 : 4) * K), { N: 4, K, epilogue }, 'W', t);
    const args = (dtypes: { x: DType; W: DType; y: DType }, tile: gemm.SgmatTile, K = 8) => ({ M: 4, N: 4, K, epilogue: 'none' as const, x: l.pool.storage(64, 'x'), W: packed(tile, K), bias: null, y: l.pool.storage(64, 'y'), variant: 'sgmat' as const, tile, dtypes });
    const emulated: gemm.SgmatTile = { kernel: 'sgmat', SM: 16, SN: 16, SK: 16, emulated: true };
    const f16 = { x: 'f16', W: 'f16', y: 'f16' } as const;
    expect(() => gemm.run(l, args(f16, emulated, 6))).toThrow('gemm sgmat 16x16x16 128x128/tk16 emulated: K = 6 is not a multiple of 4');
    expect(() => gemm.run(l, args(f16, { ...emulated, SM: 4 }))).toThrow('M = 4 must be 8, 16 or 32');
    expect(() => gemm.run(l, args(f16, { ...emulated, BM: 96 as 64 }))).toThrow('BM = 96 and BW = 128 must be 64 or 128');
    expect(() => gemm.run(l, args(f16, { ...emulated, SK: 32, TK: 16 }))).toThrow('TK = 16 must be 16 or 32, and at least SK = 32');
    const wide = { ...emulated, SN: 32, BW: 64 as const };
    expect(() => gemm.run(l, { ...args(f16, wide), W: packed(wide, 8, 'glu'), epilogue: 'glu' })).toThrow("a subgroup's 64 x 16 outputs are not whole 16 x 32 matrices");
    // W must be packed, for this shape and the tile's fragments; packed W is for sgmat only
    expect(() => gemm.run(l, { ...args(f16, emulated), W: l.pool.storage(64, 'W') })).toThrow('gemm sgmat: W must be packed (gemm.packWeights), not a plain buffer');
    expect(() => gemm.run(l, { ...args(f16, emulated), N: 2 })).toThrow('W was packed as [4, 8], not for this N = 2, K = 8');
    expect(() => gemm.run(l, { ...args(f16, emulated), epilogue: 'glu' })).toThrow('W was packed as [4, 8], not for this GLU N = 4, K = 8');
    expect(() => gemm.run(l, { ...args(f16, emulated), W: packed({ ...emulated, SN: 8, SK: 8 }, 8) })).toThrow('W was packed in 8 x 8 fragments, not the tile\'s 16 x 16');
    expect(() => gemm.run(l, { ...args(f16, emulated), variant: 'v4' })).toThrow('gemm v4: W is packed for sgmat; v4 reads it as stored');
    expect(() => gemm.packWeights(l, new Float32Array(5), { N: 4, K: 8, epilogue: 'none' }, 'W', emulated)).toThrow('packSgmatWeights: W has 5 values, not 1 x 4 x 8');
    // SwiftShader offers no subgroup matrices: the native kernel says why
    expect(l.ctx?.subgroupMatrix).toBeNull();
    expect(() => gemm.run(l, args(f16, { kernel: 'sgmat', SM: 16, SN: 16, SK: 16 }))).toThrow(`gemm sgmat 16x16x16 128x128/tk32: no subgroup matrices on this device (${l.ctx?.subgroupMatrixReason}); use emulated: true to test the kernel`);
    // the default: emulated here; 128 x 128 where the grid fills a big GPU, else 64 rows of x
    expect(gemm.defaultSgmatTile(l)).toEqual(emulated);
    expect(gemm.defaultSgmatTile(l, { M: 8192, N: 768, epilogue: 'none' })).toEqual(emulated);
    expect(gemm.defaultSgmatTile(l, { M: 512, N: 768, epilogue: 'none' })).toEqual({ ...emulated, BM: 64 });
  });

  it('an f16 output saturates at +-65504 (v4, v3 and v2), where WGSL would leave the packed value indeterminate', async () => {
    const l = await gpu();
    for (const variant of ['v4', 'v3', 'v2'] as const) {
      // y = x W^T with x = 300 and W = +-300 over K = 4: +-360,000
      const x = l.upload(Float32Array.from({ length: 2 * 4 }, () => 300), 'x');
      const W = l.upload(Float32Array.from({ length: 4 * 4 }, (_, i) => (i < 8 ? 300 : -300)), 'W');
      const y = l.pool.storage(2 * 4 * 2, 'y');
      gemm.run(l, { M: 2, N: 4, K: 4, epilogue: 'none', x, W, bias: null, y, variant, dtypes: { x: 'f32', W: 'f32', y: 'f16' } });
      expect(Array.from(decode(await read(l, y, 4), 'f16', 8)), variant).toEqual([65504, 65504, -65504, -65504, 65504, 65504, -65504, -65504]);
    }
  });

  // The activations of ModernBERT-family configs, in both epilogues that apply one, on v4, v3, v2 and v1.
  for (const variant of ['v4', 'v3', 'v2', 'v1'] as const) {
    it(`${variant}: activation and glu epilogues with gelu_tanh, silu, relu: rows 1, 65 x (N, K) 34x20, 96x64`, async () => {
      const l = await gpu();
      for (const activation of ['gelu_tanh', 'silu', 'relu'] as const) {
        for (const epilogue of ['activation', 'glu'] as const) {
          for (const M of [1, 65]) {
            for (const [N, K] of [
              [34, 20],
              [96, 64],
            ]) {
              await check(l, { M, N, K, epilogue, activation }, variant);
            }
          }
        }
      }
    });
  }

  it('picks the large tile only where its grid fills a big GPU, within the workgroup memory', () => {
    // v4, the default: 128 x 128 (GLU: 128 x 64 of value and of gate) where its grid fills a big GPU, else 128 x 64 (64 x 64)
    expect(gemm.defaultTile({ M: 512, N: 768, epilogue: 'none' }, 32768)).toBe(gemm.V4_SMALL_TILE); // 4 x 6 = 24 large workgroups
    expect(gemm.defaultTile({ M: 32768, N: 768, epilogue: 'none' }, 32768)).toBe(gemm.V4_LARGE_TILE); // 256 x 6
    expect(gemm.defaultTile({ M: 32768, N: 1152, epilogue: 'glu' }, 32768)).toBe(gemm.V4_GLU_LARGE_TILE);
    expect(gemm.defaultTile({ M: 512, N: 1152, epilogue: 'glu' }, 32768)).toBe(gemm.V4_GLU_SMALL_TILE);
    // v4's large tile needs 32 KiB at TK 16: TK 8 in WebGPU's default 16 KiB
    expect(gemm.defaultTile({ M: 32768, N: 768, epilogue: 'none' })).toEqual({ ...gemm.V4_LARGE_TILE, TK: 8 });
    // v2's: 128 x 64 or 64 x 64; its large GeGLU tile needs 17,152 bytes: TK 8 in 16 KiB, TK 16 in 32 KiB
    expect(gemm.defaultTile({ M: 512, N: 768, epilogue: 'none' }, 16384, 'v2')).toBe(gemm.SMALL_TILE); // 4 x 12 = 48 large workgroups
    expect(gemm.defaultTile({ M: 32768, N: 768, epilogue: 'none' }, 16384, 'v2')).toBe(gemm.LARGE_TILE); // 256 x 12
    expect(gemm.defaultTile({ M: 32768, N: 1152, epilogue: 'glu' }, 16384, 'v2')).toEqual({ ...gemm.LARGE_TILE, TK: 8 });
    expect(gemm.defaultTile({ M: 32768, N: 1152, epilogue: 'glu' }, 32768, 'v2')).toBe(gemm.LARGE_TILE);
  });

  it('states the workgroup memory of a tile as the shader header does', () => {
    expect(gemm.workgroupBytes(gemm.LARGE_TILE, 'none')).toBe(16 * 33 * 16 + 16 * 17 * 16);
    expect(gemm.workgroupBytes(gemm.LARGE_TILE, 'glu')).toBe(16 * 33 * 16 + 2 * 16 * 17 * 16);
    expect(gemm.workgroupBytes({ kernel: 'v3', WG_M: 16, WG_N: 16, TM: 8, TN: 8, TK: 16 }, 'glu')).toBe(16 * 33 * 16 + 2 * 16 * 33 * 16);
    // v4: two buffers of TK k-rows of BM (x) and BN (W; and the gate's BN) floats, unpadded
    expect(gemm.workgroupBytes(gemm.V4_LARGE_TILE, 'none')).toBe(2 * 16 * (128 + 128) * 4);
    expect(gemm.workgroupBytes(gemm.V4_GLU_LARGE_TILE, 'glu')).toBe(2 * 16 * (128 + 2 * 64) * 4);
  });

  it('refuses what it cannot run, naming the reason', async () => {
    const l = await gpu();
    const args = (K: number, tile?: gemm.GemmTile) => ({ M: 4, N: 4, K, epilogue: 'none' as const, x: l.pool.storage(64, 'x'), W: l.pool.storage(64, 'W'), bias: null, y: l.pool.storage(64, 'y'), variant: 'v2' as const, tile });
    expect(() => gemm.run(l, args(6))).toThrow(/K = 6 is not a multiple of 4/);
    expect(() => gemm.run(l, args(8, { WG_M: 16, WG_N: 16, TM: 6 as 4, TK: 16 }))).toThrow(/TM = 6 must be 4 or 8/);
    expect(() => gemm.run(l, args(8, { WG_M: 16, WG_N: 16, TM: 8, TK: 10 }))).toThrow(/TK = 10/);
    expect(() => gemm.run(l, args(8, { WG_M: 64, WG_N: 64, TM: 8, TK: 16 }))).toThrow(/64 x 64 threads/);
    expect(() => gemm.run(l, args(8, { WG_M: 16, WG_N: 16, TM: 8, TK: 256 }))).toThrow(/bytes of workgroup memory/);
    expect(() => gemm.run(l, args(8, { WG_M: 16, WG_N: 16, TM: 8, TN: 8, TK: 16 }))).toThrow(/TN = 8 must be 4 \(v2 computes 4 columns a thread\)/);
    const v3 = { ...args(8), variant: 'v3' as const };
    expect(() => gemm.run(l, { ...v3, tile: { kernel: 'v3', WG_M: 16, WG_N: 16, TM: 8, TN: 6 as 8, TK: 16 } })).toThrow(/TN = 6 must be 4 or 8/);
    expect(() => gemm.run(l, { ...v3, tile: { kernel: 'v3', WG_M: 4, WG_N: 4, TM: 8, TN: 8, TK: 32 } })).toThrow(/gemm v3: tile v3 4x4\/tm8\/tn8\/tk32 needs more than 2 loads a thread/);
    const half = { x: 'f16', W: 'f16', y: 'f16' } as const;
    expect(() => gemm.run(l, { ...args(8), variant: 'v1', dtypes: half })).toThrow(/f16 storage needs v2, v3 or v4/);
    const v4 = { ...args(8), variant: 'v4' as const };
    expect(() => gemm.run(l, { ...v4, tile: { kernel: 'v4', WG_M: 4, WG_N: 16, TM: 4, TN: 4, TK: 16 } })).toThrow(/gemm v4: tile v4 4x16\/tm4\/tn4\/tk16: its 16 x 64 outputs must be multiples of 32 each way/);
    expect(() => gemm.run(l, { ...v4, epilogue: 'glu', tile: gemm.V4_LARGE_TILE })).toThrow(/gemm v4: tile v4 16x16\/tm8\/tn8\/tk16: with GLU a thread holds a value and a gate tile, at most 32 outputs each/);
    expect(() => gemm.run(l, { ...v4, tile: { kernel: 'v4', WG_M: 8, WG_N: 8, TM: 8, TN: 8, TK: 32 } })).toThrow(/gemm v4: tile v4 8x8\/tm8\/tn8\/tk32 needs more than 2 loads a thread/);
    expect(() => gemm.run(l, { ...args(8), N: 3, dtypes: half })).toThrow(/f16 output needs N even \(N = 3\)/);
  });

  it('falls back to v1 by default when K is not a multiple of 4, and v1 is still right there', async () => {
    const l = await gpu();
    for (const epilogue of EPILOGUES) await check(l, { M: 65, N: 33, K: 17, epilogue }, undefined);
  });
});

// Split-K: slices of K summed apart into an f32 workspace, then gemm_reduce.wgsl adds them and finishes. K
// from one vec4 (a single slice whatever splitK asks) to uneven slices (the last shorter, down to one vec4).
describe('gemm split-K', () => {
  const tiles: gemm.GemmTile[] = [
    { ...gemm.SMALL_TILE, splitK: 2 },
    { WG_M: 32, WG_N: 8, TM: 4, TK: 32, splitK: 3 },
    { kernel: 'v3', WG_M: 16, WG_N: 16, TM: 4, TN: 4, TK: 16, splitK: 4 },
    { kernel: 'v3', WG_M: 4, WG_N: 4, TM: 8, TN: 8, TK: 16, splitK: gemm.MAX_SPLIT_K },
    { ...gemm.V4_GLU_SMALL_TILE, splitK: 3 },
  ];
  const shapes: [number, number][] = [
    [2, 4],
    [70, 36],
    [130, 132],
  ];
  for (const tile of tiles) {
    it(`${gemm.tileName(tile)}: every epilogue, rows 1, 65, 129 x (N, K) ${shapes.map((s) => s.join('x')).join(', ')}; two dispatches where K splits`, async () => {
      const l = await gpu();
      for (const epilogue of EPILOGUES) {
        for (const M of [1, 65, 129]) {
          for (const [N, K] of shapes) {
            await check(l, { M, N, K, epilogue }, tile.kernel ?? 'v2', tile);
            expect(l.passStats().dispatches, `${epilogue} ${M}x${N}x${K}`).toBe(gemm.kSlices(K, tile).slices > 1 ? 2 : 1);
          }
        }
      }
    });
  }

  it('f16 storage (x, W f16; y f16 or f32), every epilogue, v2, v3 and v4: rows 1, 65 x (N, K) 34x20, 96x64', async () => {
    const l = await gpu();
    for (const tile of [tiles[0], tiles[2], tiles[4]]) {
      for (const y of ['f16', 'f32'] as const) {
        for (const epilogue of EPILOGUES) {
          for (const M of [1, 65]) {
            for (const [N, K] of [
              [34, 20],
              [96, 64],
            ]) {
              await check(l, { M, N, K, epilogue, dtypes: { x: 'f16', W: 'f16', y } }, tile.kernel ?? 'v2', tile);
            }
          }
        }
      }
    }
  });

  it('cuts K into whole TK steps, never an empty slice, at most splitK', () => {
    const tile = { ...gemm.SMALL_TILE, splitK: 4 }; // TK 16: 4 vec4 a step
    expect(gemm.kSlices(768, tile)).toEqual({ slices: 4, kSlice4: 48 });
    expect(gemm.kSlices(132, tile)).toEqual({ slices: 3, kSlice4: 12 }); // 33 vec4: 12, 12, 9
    expect(gemm.kSlices(16, tile)).toEqual({ slices: 1, kSlice4: 4 });
    expect(gemm.kSlices(768, gemm.SMALL_TILE)).toEqual({ slices: 1, kSlice4: 192 });
    for (let K = 4; K <= 400; K += 4) {
      for (let splitK = 1; splitK <= gemm.MAX_SPLIT_K; splitK++) {
        const { slices, kSlice4 } = gemm.kSlices(K, { ...tile, splitK });
        expect(slices).toBeLessThanOrEqual(splitK);
        expect(kSlice4 % 4).toBe(0);
        expect((slices - 1) * kSlice4).toBeLessThan(K / 4); // the last slice has work
        expect(slices * kSlice4).toBeGreaterThanOrEqual(K / 4); // and the slices cover K
      }
    }
  });

  it('refuses a splitK out of range, and names the tile', async () => {
    const l = await gpu();
    const args = (splitK: number) => ({ M: 4, N: 4, K: 8, epilogue: 'none' as const, x: l.pool.storage(64, 'x'), W: l.pool.storage(64, 'W'), bias: null, y: l.pool.storage(64, 'y'), variant: 'v2' as const, tile: { ...gemm.SMALL_TILE, splitK } });
    expect(() => gemm.run(l, args(0))).toThrow('gemm v2: splitK = 0 must be an integer from 1 to 16');
    expect(() => gemm.run(l, args(1.5))).toThrow('splitK = 1.5 must be an integer');
    expect(() => gemm.run(l, args(17))).toThrow('splitK = 17 must be an integer from 1 to 16');
    expect(gemm.tileName({ ...gemm.SMALL_TILE, splitK: 2 })).toBe('16x16/tm4/tk16/sk2');
    expect(gemm.tileName({ ...gemm.SMALL_TILE, splitK: 1 })).toBe('16x16/tm4/tk16');
  });
});

// v3's and v4's registers are written out (withRegisterTile, withV4Registers) so that no driver needs to unroll a
// loop to keep them in registers: the SPIR-V Dawn makes of them has no function-scope array, where v2's
// accumulators are one.
describe('gemm v3 and v4 registers', () => {
  const spirv = (tile: gemm.GemmTile, epilogue: gemm.Epilogue) => {
    const r = spawnSync(process.execPath, ['--import', './bin/register.js', 'test/webgpu/dump-spirv.ts', JSON.stringify(tile), epilogue], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('Dumped SPIRV disassembly');
    return r.stdout;
  };
  const FUNCTION_ARRAY = /OpTypePointer Function %_arr/;

  it('Dawn compiles v3 (GLU, and split-K with its reduction) to SPIR-V with no function-scope array; v2 has one', () => {
    const glu = spirv({ kernel: 'v3', WG_M: 16, WG_N: 16, TM: 8, TN: 8, TK: 16 }, 'glu');
    expect(glu).toMatch(/%gacc_7_1 = OpVariable %_ptr_Function_v4float Function/);
    expect(glu).not.toMatch(FUNCTION_ARRAY);
    const split = spirv({ kernel: 'v3', WG_M: 16, WG_N: 16, TM: 4, TN: 4, TK: 16, splitK: 2 }, 'residual');
    expect(split.match(/Dumped SPIRV disassembly/g)).toHaveLength(2); // the slices' kernel and gemm_reduce
    expect(split).not.toMatch(FUNCTION_ARRAY);
    expect(spirv(gemm.LARGE_TILE, 'none')).toMatch(FUNCTION_ARRAY); // the check can fail
  });

  it('Dawn compiles v4 (its default tiles, GLU, and split-K) to SPIR-V with no function-scope array', () => {
    const large = spirv(gemm.V4_LARGE_TILE, 'residual');
    expect(large).toMatch(/%acc_7_1 = OpVariable %_ptr_Function_v4float Function/);
    expect(large).not.toMatch(FUNCTION_ARRAY);
    const glu = spirv({ ...gemm.V4_GLU_LARGE_TILE, splitK: 2 }, 'glu');
    expect(glu).toMatch(/%gacc_7_0 = OpVariable %_ptr_Function_v4float Function/);
    expect(glu).not.toMatch(FUNCTION_ARRAY);
  });

  it('writes out every marker of gemm_v4.wgsl; each load slot touches only the operands its groups can belong to', () => {
    // the code of the first prefetch's first slot
    const firstSlot = (out: string) => out.slice(out.indexOf('let g = tid'), out.indexOf('let g = tid', out.indexOf('let g = tid') + 1));
    for (const glu of [false, true]) {
      const tile = glu ? gemm.V4_GLU_LARGE_TILE : gemm.V4_LARGE_TILE;
      const out = withV4Registers(v4Source, tile, glu);
      expect(out).not.toMatch(/^ *\/\/ @\w+(\([\w -]+\))?$/m);
      expect(out.slice(out.indexOf('fn main'))).not.toContain('array<');
      // 256 threads, one slot: x's 128 groups, then W's (and the gate's 64 + 64, which end the slot: no test)
      const prefetch = firstSlot(out);
      expect(prefetch.match(/if \(g < \d+u\)|else if \(g < \d+u\)|} else {/g)).toEqual(glu ? ['if (g < 128u)', 'else if (g < 192u)', '} else {'] : ['if (g < 128u)', '} else {']);
    }
    // 8 x 8 threads of 4 x 4, TK 4: 24 groups for 64 threads (GLU): every group's test is kept, the last bounds the tile
    const small = withV4Registers(v4Source, { kernel: 'v4', WG_M: 8, WG_N: 8, TM: 4, TN: 4, TK: 4 }, true);
    expect(firstSlot(small).match(/if \(g < \d+u\)/g)).toEqual(['if (g < 8u)', 'if (g < 16u)', 'if (g < 24u)']);
    expect(() => withV4Registers(v4Source.replace('// @finish', ''), gemm.V4_LARGE_TILE, false)).toThrow('gemm_v4.wgsl has no "// @finish" line');
  });

  it('writes out every marker of gemm_v3.wgsl, and says which one a source lacks', () => {
    for (const glu of [false, true]) {
      const out = gemm.withRegisterTile(v3Source, { kernel: 'v3', WG_M: 8, WG_N: 16, TM: 8, TN: 8, TK: 16 }, glu);
      expect(out).not.toMatch(/^ *\/\/ @\w+(\(\w+\))?$/m);
      expect(out.slice(out.indexOf('fn main'))).not.toContain('array<');
      expect(out.includes('gacc_0_0'), `glu ${glu}`).toBe(glu);
    }
    expect(() => gemm.withRegisterTile(v3Source.replace('// @stage', ''), gemm.SMALL_TILE, false)).toThrow('gemm_v3.wgsl has no "// @stage" line');
  });
});

describe('gemm v1 and naive (baselines)', () => {
  const shapes: [number, number][] = [
    [33, 17],
    [64, 64],
    [96, 40],
  ];
  const cases: [gemm.Epilogue, gemm.GemmVariant][] = [...EPILOGUES.map((e) => [e, 'v1'] as [gemm.Epilogue, gemm.GemmVariant]), ['none', 'naive'], ['residual', 'naive']];
  for (const [epilogue, variant] of cases) {
    it(`${variant} ${epilogue}: rows ${ROWS.join(', ')} x (N, K) ${shapes.map((s) => s.join('x')).join(', ')}`, async () => {
      const l = await gpu();
      for (const M of ROWS) for (const [N, K] of shapes) await check(l, { M, N, K, epilogue }, variant);
    });
  }

  it('reports flops and bytes', () => {
    expect(gemm.flops({ M: 2, N: 3, K: 4, epilogue: 'none' })).toBe(48);
    expect(gemm.flops({ M: 2, N: 3, K: 4, epilogue: 'glu' })).toBe(96);
    expect(gemm.bytes({ M: 2, N: 3, K: 4, epilogue: 'residual' })).toBe(4 * (8 + 12 + 12));
  });
});

// The native subgroup-matrix kernel cannot run here (SwiftShader has no subgroup matrices), but Dawn's Null
// backend offers the feature with allow_unsafe_apis: Tint's front end (parse, types, uniformity) checks every
// shader the launcher can build, for the shapes adapters list and subgroups of 32 and 64.
describe('gemm sgmat native WGSL', () => {
  it('compiles in Dawn for 16x16x16, 8x8x8 and 8x16x16, each workgroup tile, every epilogue, x and y dtype, 128 and 256 threads; makes the pipelines that fit the Null device', async () => {
    const device = await nullDevice();
    const limit = device.limits.maxComputeWorkgroupStorageSize;
    let pipelines = 0;
    try {
      for (const [SM, SN, SK] of [
        [16, 16, 16],
        [8, 8, 8],
        [8, 16, 16],
      ]) {
        for (const tile of [{}, { BM: 64 }, { BW: 64 }, { BM: 64, BW: 64, TK: 16 }] as const) {
          const t: gemm.SgmatTile = { kernel: 'sgmat', SM, SN, SK, ...tile };
          for (const threads of [128, 256]) {
            for (const epilogue of EPILOGUES) {
              if (gemm.sgmatTileProblem(t, epilogue === 'glu')) continue; // 8x16x16 at BW 64 with GLU: 16 columns a subgroup
              for (const [x, y] of [['f16', 'f16'], ['f16', 'f32'], ['f32', 'f32']] as const) {
                const kernel = gemm.sgmatKernel(t, { epilogue: EPILOGUES.indexOf(epilogue), threads, dtypes: { x, y } });
                expect(await compileErrors(device, kernel.source), kernel.name).toEqual([]);
                // A pipeline checks more (workgroup size against the subgroup size, memory): where the tile fits this device's memory.
                if (gemm.sgmatWorkgroupBytes(t, epilogue === 'glu') > limit) continue;
                expect(await pipelineError(device, kernel.source), kernel.name).toBeUndefined();
                pipelines++;
              }
            }
          }
        }
      }
      expect(pipelines).toBeGreaterThan(0);
      // and the check can fail: without the subgroups extension, subgroup_id is an error
      const broken = gemm.sgmatKernel({ kernel: 'sgmat', SM: 16, SN: 16, SK: 16 }, { epilogue: 0, threads: 128, dtypes: { x: 'f16', y: 'f16' } }).source.replace('enable subgroups;', '');
      expect((await compileErrors(device, broken)).join('\n')).toMatch(/subgroup_id.*requires enabling extension 'subgroups'/);
    } finally {
      device.destroy();
    }
  });
});
