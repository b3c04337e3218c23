// Flash attention v2 (flash_attention_v2.wgsl) against the fp64 and fp32 references (DESIGN §4), its baseline
// v1 on the same shapes, padded execution with garbage pads, the head-dim fallback to v1, and the window tile
// skipping counted by the shader itself.
import { describe, expect, it, vi } from 'vitest';
import { UNLIMITED, type Window, visibleKeys, varlenAttention } from '../../reference/attention.ts';
import { fp32, fp64 } from '../../reference/ops.ts';
import * as attention from '../../optimized/webgpu/kernels/attention.ts';
import type { Launcher } from '../../optimized/webgpu/kernels/launch.ts';
import { decode, encode, roundHalf } from '../../optimized/webgpu/kernels/storage.ts';
import { expectKernelClose, gpu, read, storageRounding, values, withGarbagePads } from './harness.ts';

/** fp32-representable inputs, as both a Float64Array (for the references) and a Float32Array (for the GPU). */
function inputs(n: number, seed: number, scale = 1): { f64: Float64Array; f32: Float32Array } {
  const f64 = values(n, seed, scale).map(Math.fround);
  return { f64, f32: Float32Array.from(f64) };
}

function cumulative(lengths: readonly number[]): Int32Array {
  const cu = new Int32Array(lengths.length + 1);
  lengths.forEach((n, b) => (cu[b + 1] = cu[b] + n));
  return cu;
}

// B = 1 with several query tiles (300 = 4 full tiles of 64 and a partial one) and B = 7 mixing 1-token and long
// sequences around the tile sizes (BR = 64, BC = 32).
const BATCHES = [[300], [1, 129, 2, 63, 64, 127, 65]];
// Unlimited, +-2, ModernBERT's local layer, wider than every sequence, one-sided both ways.
const WINDOWS: Window[] = [UNLIMITED, [2, 2], [64, 64], [400, 400], [-1, 3], [3, -1]];

async function runAttention(l: Launcher, variant: attention.AttentionArgs['variant'], qkv: GPUBuffer, cu: GPUBuffer, lengths: readonly number[], H: number, D: number, window: Window, sequsedK?: GPUBuffer): Promise<Float32Array> {
  const T = lengths.reduce((s, n) => s + n, 0);
  const out = l.pool.storage(T * H * D * 4, 'out');
  attention.run(l, { qkv, cuSeqlens: cu, sequsedK, out, lengths, maxSeqlen: Math.max(...lengths), H, D, window, variant });
  const got = await read(l, out, T * H * D);
  l.pool.release(out);
  return got;
}

describe('flash attention v2', () => {
  for (const D of [16, 64, 128]) {
    // D = 128 keeps one head: SwiftShader and the references are slow, and heads are independent workgroups.
    const H = D === 128 ? 1 : 2;
    it(`D ${D}, H ${H}: B = 1 and 7, lengths 1 to 300, windows unlimited, +-2, +-64, wider than the sequence, one-sided`, async () => {
      const l = await gpu();
      for (const lengths of BATCHES) {
        const cuSeqlens = cumulative(lengths);
        const T = cuSeqlens[lengths.length];
        const qkv = inputs(T * 3 * H * D, 7 * D + lengths.length, 1.5);
        const qkvBuffer = l.upload(qkv.f32, 'qkv');
        const cu = l.upload(Uint32Array.from(cuSeqlens), 'cu');
        for (const window of WINDOWS) {
          const got = await runAttention(l, 'flash_v2', qkvBuffer, cu, lengths, H, D, window);
          const ref32 = varlenAttention(fp32, qkv.f32, cuSeqlens, H, D, window);
          const ref64 = varlenAttention(fp64, qkv.f64, cuSeqlens, H, D, window);
          expectKernelClose(`v2 D${D} lengths ${lengths} window ${window}`, got, ref32, ref64, 1e-6);
        }
      }
    });
  }

  it('f16 storage (qkv and out), D 16 and 64: B = 1 and 7, every window, against references on the same f16 inputs', async () => {
    const l = await gpu();
    const H = 2;
    for (const D of [16, 64]) {
      for (const lengths of BATCHES) {
        const cuSeqlens = cumulative(lengths);
        const T = cuSeqlens[lengths.length];
        const f64 = values(T * 3 * H * D, 5 * D + lengths.length, 1.5).map(roundHalf);
        const qkv = l.upload(encode(f64, 'f16'), 'qkv');
        const cu = l.upload(Uint32Array.from(cuSeqlens), 'cu');
        for (const window of WINDOWS) {
          const out = l.pool.storage(T * H * D * 2, 'out');
          attention.run(l, { qkv, cuSeqlens: cu, out, lengths, maxSeqlen: Math.max(...lengths), H, D, window, dtype: 'f16' });
          const got = decode(await read(l, out, (T * H * D) / 2), 'f16', T * H * D);
          l.pool.release(out);
          const ref64 = varlenAttention(fp64, f64, cuSeqlens, H, D, window);
          expectKernelClose(`v2 f16 D${D} lengths ${lengths} window ${window}`, got, varlenAttention(fp32, Float32Array.from(f64), cuSeqlens, H, D, window), ref64, 1e-6 + storageRounding('f16', ref64));
        }
      }
    }
  });

  it('refuses f16 storage where only f32 kernels would run (v1, materialized, a head dim v2 does not take)', async () => {
    const l = await gpu();
    const buffer = l.pool.storage(1024, 'b');
    const args = { qkv: buffer, cuSeqlens: buffer, out: buffer, lengths: [4], maxSeqlen: 4, H: 1, D: 8, window: UNLIMITED, dtype: 'f16' as const };
    expect(() => attention.run(l, { ...args, variant: 'flash_v1' })).toThrow(/f16 storage needs flash_v2 or flash_sgmat \(flash_v1/);
    expect(() => attention.run(l, { ...args, variant: 'materialized' })).toThrow(/f16 storage needs flash_v2 or flash_sgmat \(materialized/);
    expect(() => attention.run(l, { ...args, D: 6 })).toThrow(/head dim 6 runs flash_v1/);
  });

  it('is the default, and the model\'s "flash" means it: the same output as flash_v2', async () => {
    const l = await gpu();
    const [H, D] = [2, 16];
    const lengths = BATCHES[1];
    const cuSeqlens = cumulative(lengths);
    const qkv = l.upload(inputs(cuSeqlens[lengths.length] * 3 * H * D, 5, 1.5).f32, 'qkv');
    const cu = l.upload(Uint32Array.from(cuSeqlens), 'cu');
    const v2 = await runAttention(l, 'flash_v2', qkv, cu, lengths, H, D, [64, 64]);
    expect(await runAttention(l, undefined, qkv, cu, lengths, H, D, [64, 64])).toEqual(v2);
    expect(await runAttention(l, 'flash', qkv, cu, lengths, H, D, [64, 64])).toEqual(v2);
  });

  it('flash_v1, the baseline, on the same sweep (D 16, B = 7)', async () => {
    const l = await gpu();
    const [H, D] = [2, 16];
    const lengths = BATCHES[1];
    const cuSeqlens = cumulative(lengths);
    const qkv = inputs(cuSeqlens[lengths.length] * 3 * H * D, 9, 1.5);
    const qkvBuffer = l.upload(qkv.f32, 'qkv');
    const cu = l.upload(Uint32Array.from(cuSeqlens), 'cu');
    for (const window of WINDOWS) {
      const got = await runAttention(l, 'flash_v1', qkvBuffer, cu, lengths, H, D, window);
      expectKernelClose(`v1 D${D} lengths ${lengths} window ${window}`, got, varlenAttention(fp32, qkv.f32, cuSeqlens, H, D, window), varlenAttention(fp64, qkv.f64, cuSeqlens, H, D, window), 1e-6);
    }
  });

  it('dispatches v2 per head dim with its work, and falls back to v1 where D % 4 != 0 (D = 6)', async () => {
    const l = await gpu();
    const dispatch = vi.spyOn(l, 'dispatch');
    const H = 2;
    const lengths = [1, 70, 3];
    const cuSeqlens = cumulative(lengths);
    const cu = l.upload(Uint32Array.from(cuSeqlens), 'cu');
    for (const D of [6, 16]) {
      const qkv = inputs(cuSeqlens[lengths.length] * 3 * H * D, 13 + D, 1.5);
      const window: Window = [4, 4];
      const got = await runAttention(l, undefined, l.upload(qkv.f32, 'qkv'), cu, lengths, H, D, window);
      expectKernelClose(`default variant D${D} window ${window}`, got, varlenAttention(fp32, qkv.f32, cuSeqlens, H, D, window), varlenAttention(fp64, qkv.f64, cuSeqlens, H, D, window), 1e-6);
      const [kernel, , , , workgroups, work] = dispatch.mock.calls.at(-1)!;
      const shape = { lengths, H, D, window };
      expect(work).toEqual({ flops: attention.flops(shape), bytes: attention.bytes(shape) });
      if (D === 6) {
        expect(attention.flashV2Supports(D)).toBe(false);
        expect(kernel.name).toBe('flash_attention');
      } else {
        expect(kernel.name).toBe(`flash_attention_v2_d${D}`);
        expect(kernel.source).toContain(`const D: u32 = ${D}u;`);
        expect(workgroups).toEqual([Math.ceil(70 / attention.FLASH_V2_BR), H, lengths.length]);
      }
    }
    dispatch.mockRestore();
  });

  it('tile sizes fit the workgroup memory: BC = 32 up to D = 64 in 16 KiB, halved at D = 128 unless 32 KiB', () => {
    expect(attention.flashV2Tiles(64, 16384)).toEqual({ BR: 64, BC: 32 });
    expect(attention.flashV2Tiles(128, 32768)).toEqual({ BR: 64, BC: 32 });
    expect(attention.flashV2Tiles(128, 16384)).toEqual({ BR: 64, BC: 16 });
    expect(attention.flashV2Supports(128)).toBe(true);
    expect(attention.flashV2Supports(132)).toBe(false);
    expect(attention.flashV2Supports(6)).toBe(false);
  });

  it('padded execution (sequsedK): garbage pads are never keys, fully-masked pads are exactly 0, real rows match the unpadded run', async () => {
    const l = await gpu();
    const [H, D] = [2, 16];
    const lengths = [1, 129, 1, 64, 5, 2, 33];
    const L = 129;
    const cuSeqlens = cumulative(lengths);
    const packed = inputs(cuSeqlens[lengths.length] * 3 * H * D, 11, 1.5);
    const qkv = l.upload(withGarbagePads(packed.f32, lengths, L, H, D, 12), 'qkv');
    const cu = l.upload(Uint32Array.from({ length: lengths.length + 1 }, (_, b) => b * L), 'cu');
    const sequsedK = l.upload(Uint32Array.from(lengths), 'sequsedK');
    const unpaddedQkv = l.upload(packed.f32, 'qkv unpadded');
    const unpaddedCu = l.upload(Uint32Array.from(cuSeqlens), 'cu unpadded');
    for (const variant of ['flash_v2', 'flash_v1'] as const) {
      for (const window of [UNLIMITED, [2, 2], [64, 64], [-1, 3]] as Window[]) {
        const what = `${variant} padded window ${window}`;
        const got = await runAttention(l, variant, qkv, cu, lengths.map(() => L), H, D, window, sequsedK);
        expect(got.every(Number.isFinite), `${what}: every output finite`).toBe(true);
        const real = new Float32Array(cuSeqlens[lengths.length] * H * D);
        lengths.forEach((n, b) => real.set(got.subarray(b * L * H * D, (b * L + n) * H * D), cuSeqlens[b] * H * D));
        expectKernelClose(what, real, varlenAttention(fp32, packed.f32, cuSeqlens, H, D, window), varlenAttention(fp64, packed.f64, cuSeqlens, H, D, window), 1e-6);
        // The same tiles and the same order of keys as the unpadded run: the same bits.
        expect(real, `${what}: padded = unpadded on the real rows`).toEqual(await runAttention(l, variant, unpaddedQkv, unpaddedCu, lengths, H, D, window));
        // A pad query whose window holds no real key is defined as zero.
        let emptyRows = 0;
        lengths.forEach((n, b) => {
          for (let i = n; i < L; i++) {
            const [first, last] = visibleKeys(i, n, window);
            if (first > last) {
              emptyRows++;
              expect([...got.subarray((b * L + i) * H * D, (b * L + i + 1) * H * D)], `${what}: sequence ${b} pad ${i}`).toEqual(new Array(H * D).fill(0));
            }
          }
        });
        if (window[0] >= 0) expect(emptyRows, `${what}: some pads see no key`).toBeGreaterThan(0);
      }
    }
  });

  it('visits only the key tiles the windows reach: the shader counts what keyTilesVisited() says, within the bound', async () => {
    const l = await gpu();
    const [H, D] = [2, 16];
    const lengths = [1, 300, 129, 64, 65];
    const cuSeqlens = cumulative(lengths);
    const T = cuSeqlens[lengths.length];
    const qkv = l.upload(inputs(T * 3 * H * D, 17, 1.5).f32, 'qkv');
    const cu = l.upload(Uint32Array.from(cuSeqlens), 'cu');
    // Padded execution too: the same rows, with fewer keys per sequence.
    const keys = [1, 250, 100, 64, 1];
    const sequsedK = l.upload(Uint32Array.from(keys), 'sequsedK');
    for (const padded of [false, true]) {
      for (const window of [[64, 64], [2, 2], [0, 0], UNLIMITED, [-1, 3], [3, -1], [400, 400]] as Window[]) {
        const what = `${padded ? 'padded ' : ''}window ${window}`;
        const out = l.upload(new Float32Array(T * H * D).fill(-7), 'out');
        const { BR, BC } = attention.runCountingKeyTiles(l, { qkv, cuSeqlens: cu, sequsedK: padded ? sequsedK : undefined, out, lengths, maxSeqlen: Math.max(...lengths), H, D, window });
        const got = await read(l, out, T * H * D);
        l.pool.release(out);
        const expected = attention.keyTilesVisited(lengths, window, BR, BC, padded ? keys : undefined);
        const [left, right] = window;
        const bound = left >= 0 && right >= 0 ? Math.ceil((BR + left + right) / BC) + 1 : Infinity;
        lengths.forEach((n, b) => {
          expect(expected[b].length).toBe(Math.ceil(n / BR));
          expected[b].forEach((tiles, x) => {
            for (let h = 0; h < H; h++) expect(got[(cuSeqlens[b] + x * BR) * H * D + h * D], `${what}: sequence ${b}, query tile ${x}, head ${h}`).toBe(tiles);
            expect(tiles, `${what}: sequence ${b}, query tile ${x}`).toBeLessThanOrEqual(Math.min(bound, Math.ceil(n / BC)));
          });
        });
        // The point of skipping: a local layer in the 300-token sequence visits 6 of its 10 key tiles.
        if (!padded && left === 64 && right === 64) expect(Math.max(...expected[1])).toBe(Math.ceil((BR + 128) / BC));
      }
    }
    // The bound for ModernBERT's local layers at the kernel's tile sizes.
    for (const n of [1, 63, 64, 65, 300, 1025, 8192]) {
      for (const tiles of attention.keyTilesVisited([n], [64, 64], attention.FLASH_V2_BR, attention.FLASH_V2_BC)[0]) expect(tiles).toBeLessThanOrEqual(Math.ceil((64 + 128) / 32) + 1);
    }
  });
});
