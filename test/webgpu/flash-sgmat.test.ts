// Flash attention on subgroup matrices (flash_attention_sgmat.wgsl) against the fp64 and fp32 references: on
// SwiftShader its matrix operations are emulated (sgmat_emulated.wgsl; SwiftShader has no subgroup matrices), on
// head dims padded to whole matrices (8, 12), 16, 32 and 64, every window, padded execution with garbage pads,
// f16 storage, and the window tile skipping counted by the shader; the native source compiles on Dawn's Null backend.
import { describe, expect, it } from 'vitest';
import { UNLIMITED, type Window, varlenAttention, visibleKeys } from '../../reference/attention.ts';
import { fp32, fp64 } from '../../reference/ops.ts';
import * as attention from '../../optimized/webgpu/kernels/attention.ts';
import { flashSgmatBytes, flashSgmatKernel, flashSgmatTile } from '../../optimized/webgpu/kernels/flash_attention_sgmat.ts';
import type { Launcher } from '../../optimized/webgpu/kernels/launch.ts';
import { decode, encode, roundHalf } from '../../optimized/webgpu/kernels/storage.ts';
import { compileErrors, expectKernelClose, gpu, nullDevice, pipelineError, read, storageRounding, values, withGarbagePads } from './harness.ts';

// The kernel rounds q, k and v to f16 for its products: inputs that are halves already lose nothing there.
function halves(n: number, seed: number): { f64: Float64Array; f32: Float32Array } {
  const f64 = values(n, seed, 1.5).map(roundHalf);
  return { f64, f32: Float32Array.from(f64) };
}

function cumulative(lengths: readonly number[]): Int32Array {
  const cu = new Int32Array(lengths.length + 1);
  lengths.forEach((n, b) => (cu[b + 1] = cu[b] + n));
  return cu;
}

// P (the probabilities) is rounded to f16 before P V, and the sums are of the rounded values: each output is a
// weighted mean of v with weights off by at most 2^-11 relative, so at most 2 * 2^-11 * max |v| from the exact one.
const probabilityRounding = (qkv: ArrayLike<number>) => 2 * storageRounding('f16', qkv);

const BATCHES = [[300], [1, 129, 2, 63, 64, 127, 65]];
const WINDOWS: Window[] = [UNLIMITED, [2, 2], [64, 64], [400, 400], [-1, 3], [3, -1]];

async function run(l: Launcher, qkv: GPUBuffer, cu: GPUBuffer, lengths: readonly number[], H: number, D: number, window: Window, sequsedK?: GPUBuffer): Promise<Float32Array> {
  const T = lengths.reduce((s, n) => s + n, 0);
  const out = l.pool.storage(T * H * D * 4, 'out');
  attention.run(l, { qkv, cuSeqlens: cu, sequsedK, out, lengths, maxSeqlen: Math.max(...lengths), H, D, window, variant: 'flash_sgmat' });
  const got = await read(l, out, T * H * D);
  l.pool.release(out);
  return got;
}

describe('flash attention sgmat (emulated)', () => {
  for (const D of [8, 12, 16, 32, 64]) {
    it(`D ${D}: B = 1 and 7, lengths 1 to 300, windows unlimited, +-2, +-64, wider than the sequence, one-sided`, async () => {
      const l = await gpu();
      const H = 2;
      for (const lengths of BATCHES) {
        const cuSeqlens = cumulative(lengths);
        const qkv = halves(cuSeqlens[lengths.length] * 3 * H * D, 7 * D + lengths.length);
        const qkvBuffer = l.upload(qkv.f32, 'qkv');
        const cu = l.upload(Uint32Array.from(cuSeqlens), 'cu');
        for (const window of WINDOWS) {
          const got = await run(l, qkvBuffer, cu, lengths, H, D, window);
          expectKernelClose(`sgmat D${D} lengths ${lengths} window ${window}`, got, varlenAttention(fp32, qkv.f32, cuSeqlens, H, D, window), varlenAttention(fp64, qkv.f64, cuSeqlens, H, D, window), 1e-6 + probabilityRounding(qkv.f64));
        }
      }
    });
  }

  // Scores that climb along the keys, by about 2 (slope 1/64) or 16 (1/8) a tile of 32: the running max is stale
  // by up to 8 for a few tiles (P above 1), then moves with a rescale, or moves on every tile.
  it('D 16: scores climbing along the keys, slowly and fast (the lazy running max, and the rescale where it moves)', async () => {
    const l = await gpu();
    const [H, D] = [2, 16];
    for (const lengths of BATCHES) {
      const cuSeqlens = cumulative(lengths);
      for (const slope of [1 / 64, 1 / 8]) {
        const qkv = halves(cuSeqlens[lengths.length] * 3 * H * D, 11);
        lengths.forEach((n, b) => {
          for (let pos = 0; pos < n; pos++) {
            const t = cuSeqlens[b] + pos;
            for (let i = 0; i < H * D; i++) {
              qkv.f64[(t * 3 + 0) * H * D + i] = roundHalf(qkv.f64[(t * 3 + 0) * H * D + i] + 1); // q mostly positive
              qkv.f64[(t * 3 + 1) * H * D + i] = roundHalf(qkv.f64[(t * 3 + 1) * H * D + i] + pos * slope);
            }
          }
        });
        const f32 = Float32Array.from(qkv.f64);
        const qkvBuffer = l.upload(f32, 'qkv');
        const cu = l.upload(Uint32Array.from(cuSeqlens), 'cu');
        for (const window of [UNLIMITED, [64, 64], [-1, 3]] as Window[]) {
          const got = await run(l, qkvBuffer, cu, lengths, H, D, window);
          expectKernelClose(`sgmat climbing ${slope} lengths ${lengths} window ${window}`, got, varlenAttention(fp32, f32, cuSeqlens, H, D, window), varlenAttention(fp64, qkv.f64, cuSeqlens, H, D, window), 1e-6 + probabilityRounding(qkv.f64));
        }
      }
    }
  });

  it('f16 storage (qkv and out), D 64', async () => {
    const l = await gpu();
    const [H, D] = [2, 64];
    const lengths = BATCHES[1];
    const cuSeqlens = cumulative(lengths);
    const T = cuSeqlens[lengths.length];
    const qkv = halves(T * 3 * H * D, 3);
    const buffer = l.upload(encode(qkv.f64, 'f16'), 'qkv');
    const cu = l.upload(Uint32Array.from(cuSeqlens), 'cu');
    for (const window of [UNLIMITED, [64, 64]] as Window[]) {
      const out = l.pool.storage(T * H * D * 2, 'out');
      attention.run(l, { qkv: buffer, cuSeqlens: cu, out, lengths, maxSeqlen: Math.max(...lengths), H, D, window, dtype: 'f16', variant: 'flash_sgmat' });
      const got = decode(await read(l, out, (T * H * D) / 2), 'f16', T * H * D);
      l.pool.release(out);
      const ref64 = varlenAttention(fp64, qkv.f64, cuSeqlens, H, D, window);
      expectKernelClose(`sgmat f16 D${D} window ${window}`, got, varlenAttention(fp32, qkv.f32, cuSeqlens, H, D, window), ref64, 1e-6 + probabilityRounding(qkv.f64) + storageRounding('f16', ref64));
    }
  });

  it('padded execution (sequsedK): garbage pads are never keys, fully-masked pads are exactly 0, real rows match the unpadded run', async () => {
    const l = await gpu();
    const [H, D] = [2, 16];
    const lengths = [1, 129, 1, 64, 5, 2, 33];
    const L = 129;
    const cuSeqlens = cumulative(lengths);
    const packed = halves(cuSeqlens[lengths.length] * 3 * H * D, 11);
    const qkv = l.upload(withGarbagePads(packed.f32, lengths, L, H, D, 12), 'qkv');
    const cu = l.upload(Uint32Array.from({ length: lengths.length + 1 }, (_, b) => b * L), 'cu');
    const sequsedK = l.upload(Uint32Array.from(lengths), 'sequsedK');
    for (const window of [UNLIMITED, [2, 2], [-1, 3]] as Window[]) {
      const what = `sgmat padded window ${window}`;
      const got = await run(l, qkv, cu, lengths.map(() => L), H, D, window, sequsedK);
      expect(got.every(Number.isFinite), `${what}: every output finite`).toBe(true);
      const real = new Float32Array(cuSeqlens[lengths.length] * H * D);
      lengths.forEach((n, b) => real.set(got.subarray(b * L * H * D, (b * L + n) * H * D), cuSeqlens[b] * H * D));
      expectKernelClose(what, real, varlenAttention(fp32, packed.f32, cuSeqlens, H, D, window), varlenAttention(fp64, packed.f64, cuSeqlens, H, D, window), 1e-6 + probabilityRounding(packed.f64));
      expect(real, `${what}: padded = unpadded on the real rows`).toEqual(await run(l, l.upload(packed.f32, 'qkv unpadded'), l.upload(Uint32Array.from(cuSeqlens), 'cu unpadded'), lengths, H, D, window));
      lengths.forEach((n, b) => {
        for (let i = n; i < L; i++) {
          const [first, last] = visibleKeys(i, n, window);
          if (first > last) expect([...got.subarray((b * L + i) * H * D, (b * L + i + 1) * H * D)], `${what}: sequence ${b} pad ${i}`).toEqual(new Array(H * D).fill(0));
        }
      });
    }
  });

  it('visits only the key tiles the windows reach: the shader counts what keyTilesVisited() says', async () => {
    const l = await gpu();
    const [H, D] = [2, 16];
    const lengths = [1, 300, 129, 64, 65];
    const cuSeqlens = cumulative(lengths);
    const T = cuSeqlens[lengths.length];
    const qkv = l.upload(halves(T * 3 * H * D, 17).f32, 'qkv');
    const cu = l.upload(Uint32Array.from(cuSeqlens), 'cu');
    for (const window of [[64, 64], [2, 2], UNLIMITED, [-1, 3]] as Window[]) {
      const out = l.upload(new Float32Array(T * H * D).fill(-7), 'out');
      const { BR, BC } = attention.runCountingKeyTiles(l, { qkv, cuSeqlens: cu, out, lengths, maxSeqlen: Math.max(...lengths), H, D, window, variant: 'flash_sgmat' });
      expect([BR, BC]).toEqual([64, 32]); // 4 subgroups of 16 queries; 32 keys a tile
      const got = await read(l, out, T * H * D);
      l.pool.release(out);
      attention.keyTilesVisited(lengths, window, BR, BC).forEach((tiles, b) =>
        tiles.forEach((count, x) => {
          for (let h = 0; h < H; h++) expect(got[(cuSeqlens[b] + x * BR) * H * D + h * D], `window ${window}: sequence ${b}, query tile ${x}, head ${h}`).toBe(count);
        }),
      );
    }
  });

  it('pads the head dim to whole matrices, takes 32 keys a tile where the memory allows, and refuses what it cannot run', async () => {
    const m16 = { SM: 16, SN: 16, SK: 16 };
    expect(flashSgmatTile(m16, 12, 32768)).toEqual({ ...m16, DP: 16, BC: 32, BR: 64 });
    expect(flashSgmatTile(m16, 12, 16384)).toEqual({ ...m16, DP: 16, BC: 16, BR: 64 }); // 32 keys would take 18,180 bytes
    expect(flashSgmatTile({ SM: 8, SN: 8, SK: 8 }, 12, 16384)).toMatchObject({ DP: 16, BR: 32 });
    expect(flashSgmatBytes(flashSgmatTile(m16, 128, 32768))).toBe(32516); // native, 32 keys: K and V reuse Q's place
    expect(flashSgmatBytes(flashSgmatTile(m16, 64, 32768))).toBeLessThanOrEqual(32768);
    expect(() => flashSgmatTile({ ...m16, emulated: true }, 128, 32768)).toThrow('flash attention sgmat: head dim 128 needs more than 32768 bytes of workgroup memory');
    const l = await gpu();
    const buffer = l.pool.storage(1024, 'b');
    expect(() => attention.run(l, { qkv: buffer, cuSeqlens: buffer, out: buffer, lengths: [4], maxSeqlen: 4, H: 1, D: 6, window: UNLIMITED, variant: 'flash_sgmat' })).toThrow('flash attention sgmat: head dim 6 must be a multiple of 4 (its rows load 4 values), at most 128');
  });
});

// The native kernel cannot run here, but Dawn's Null backend offers the feature with allow_unsafe_apis: its
// shader compiler checks every source the launcher can build, and pipelines are made for the tiles that fit.
describe('flash attention sgmat native WGSL', () => {
  it('compiles in Dawn for 16x16x16, 8x8x8 and 8x16x16, head dims 8 to 128, f32 and f16 storage, 128 and 256 threads', async () => {
    const device = await nullDevice();
    const limit = device.limits.maxComputeWorkgroupStorageSize;
    let pipelines = 0;
    try {
      for (const [SM, SN, SK] of [
        [16, 16, 16],
        [8, 8, 8],
        [8, 16, 16],
      ]) {
        for (const D of [8, 12, 16, 32, 64, 128]) {
          const tile = flashSgmatTile({ SM, SN, SK }, D, 49152);
          for (const threads of [128, 256]) {
            for (const dtype of ['f32', 'f16'] as const) {
              const kernel = flashSgmatKernel(tile, D, threads, dtype);
              expect(await compileErrors(device, kernel.source), kernel.name).toEqual([]);
              if (flashSgmatBytes(tile) > limit) continue;
              expect(await pipelineError(device, kernel.source), kernel.name).toBeUndefined();
              pipelines++;
            }
          }
        }
      }
      expect(pipelines).toBeGreaterThan(0);
      // and the pipeline check can fail: a workgroup that is not a multiple of the largest subgroup (128 here)
      expect(await pipelineError(device, flashSgmatKernel(flashSgmatTile({ SM: 8, SN: 8, SK: 8 }, 16, limit), 16, 64, 'f32').source)).toMatch(/subgroup/i);
    } finally {
      device.destroy();
    }
  });
});
