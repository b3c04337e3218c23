// f16 storage: the host's binary16 conversion, and the elementwise kernels (LayerNorm, embedding, RoPE) reading
// and writing f16 buffers against the references computed on the same f16 inputs. An f16 output adds its own
// rounding, half an f16 ulp (2^-11 relative), to the error each kernel may have.
import { describe, expect, it } from 'vitest';
import { applyRope, fp32, fp64, layerNorm, ropeTables } from '../../reference/ops.ts';
import { pack } from '../../reference/unpad.ts';
import * as embedding from '../../optimized/webgpu/kernels/embedding.ts';
import * as layernorm from '../../optimized/webgpu/kernels/layernorm.ts';
import * as rope from '../../optimized/webgpu/kernels/rope.ts';
import { type DType, decode, encode, roundHalf } from '../../optimized/webgpu/kernels/storage.ts';
import { halfToNumber, toFloat16Bits } from '../../reference/safetensors.ts';
import { expectKernelClose, gpu, read, storageRounding, values } from './harness.ts';

/** Inputs representable in `dtype`, as a Float64Array and a Float32Array of the same values. */
function inputs(n: number, seed: number, scale: number, dtype: DType): { f64: Float64Array; f32: Float32Array } {
  const f64 = values(n, seed, scale).map(dtype === 'f16' ? roundHalf : Math.fround);
  return { f64, f32: Float32Array.from(f64) };
}

const halfBits = (v: number) => toFloat16Bits([v])[0];

describe('binary16 conversion (toFloat16Bits: an f32 fast path, an exact path for other numbers)', () => {
  it('rounds to nearest even, with subnormals, overflow and NaN', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff], // largest finite
      [65520, 0x7c00], // halfway to the next power: rounds to infinity
      [1e6, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // a tie with zero: even
      [1.5 * 2 ** -25, 0x0001],
      [2 ** -14, 0x0400], // smallest normal
      [1 + 2 ** -11, 0x3c00], // tie: stays even
      [1 + 3 * 2 ** -11, 0x3c02], // tie: rounds up to even
      [1 + 2 ** -10, 0x3c01],
      [0.1, 0x2e66],
    ];
    for (const [v, bits] of cases) expect(halfBits(v), `halfBits(${v})`).toBe(bits);
    expect(halfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(Number.isNaN(halfToNumber(halfBits(NaN)))).toBe(true);
    for (const [v, bits] of cases) if (Math.abs(v) <= 65504) expect(halfToNumber(bits), `halfToNumber(0x${bits.toString(16)})`).toBe(roundHalf(v));
  });

  it('round-trips every finite f16 value, and both paths agree on the midpoints between neighbours', () => {
    for (let bits = 0; bits < 0x7bff; bits++) {
      for (const sign of [0, 0x8000]) {
        const v = halfToNumber(sign | bits);
        expect(halfBits(v)).toBe(sign | bits);
        // The midpoint to the next value is a tie (f32-exact: the fast path); a double just past it is not
        // (the exact path): both must round as binary16 does.
        const mid = (v + halfToNumber(sign | (bits + 1))) / 2;
        expect(halfBits(mid)).toBe(sign | (bits % 2 ? bits + 1 : bits));
        expect(halfBits(mid + Math.sign(mid || 1) * 2 ** -40 * Math.max(Math.abs(mid), 2 ** -14))).toBe(sign | (bits + 1));
      }
    }
  });

  it('encodes whole u32 words and decodes them back', () => {
    const v = [1, -2, 0.5];
    const stored = encode(v, 'f16');
    expect(stored).toBeInstanceOf(Uint16Array);
    expect(stored.length).toBe(4);
    const words = new Float32Array(stored.buffer);
    expect(Array.from(decode(words, 'f16', 3))).toEqual(v);
    expect(encode(v, 'f32')).toEqual(Float32Array.from(v));
  });

  it('saturates at +-65504 on the host, as the kernels do (WGSL leaves packing past it indeterminate)', () => {
    const big = [70000, -1e9, 65504, 1];
    expect(Array.from(decode(new Float32Array(encode(big, 'f16').buffer), 'f16', 4))).toEqual([65504, -65504, 65504, 1]);
    expect(big.map(roundHalf)).toEqual([65504, -65504, 65504, 1]);
    expect(roundHalf(NaN)).toBeNaN();
  });
});

describe('kernels on f16 storage', () => {
  const pairs: [DType, DType][] = [
    ['f32', 'f16'],
    ['f16', 'f32'],
    ['f16', 'f16'],
  ];

  for (const [xd, yd] of pairs) {
    it(`layernorm ${xd} -> ${yd}: rows 1, 7, 65 x C 12, 100, 768, with and without bias`, async () => {
      const l = await gpu();
      for (const rows of [1, 7, 65]) {
        for (const C of [12, 100, 768]) {
          for (const withBias of [false, true]) {
            const x = inputs(rows * C, rows + C, 3, xd);
            const w = inputs(C, C, 1, 'f32');
            const b = inputs(C, C + 1, 1, 'f32');
            const y = l.pool.storage(rows * C * 4, 'y');
            layernorm.run(l, { x: l.upload(encode(x.f32, xd), 'x'), weight: l.upload(w.f32, 'w'), bias: withBias ? l.upload(b.f32, 'b') : null, y, rows, C, eps: 1e-5, xDtype: xd, yDtype: yd });
            const got = decode(await read(l, y, yd === 'f16' ? (rows * C) / 2 : rows * C), yd, rows * C);
            const ref64 = layerNorm(fp64, x.f64, w.f64, withBias ? b.f64 : null, rows, C, 1e-5);
            expectKernelClose(`layernorm ${xd}->${yd} ${rows}x${C}${withBias ? '+bias' : ''}`, got, layerNorm(fp32, x.f32, w.f32, withBias ? b.f32 : null, rows, C, 1e-5), ref64, 1e-6 + storageRounding(yd, ref64));
          }
        }
      }
    });
  }

  it('embedding gathers f16 rows exactly, into f32 or f16', async () => {
    const l = await gpu();
    const V = 50, C = 12;
    const table = inputs(V * C, 1, 1, 'f16').f32;
    const ids = [0, 49, 7, 7, 3];
    for (const outDtype of ['f32', 'f16'] as const) {
      const out = l.pool.storage(ids.length * C * 4, 'out');
      embedding.run(l, { tokens: l.upload(Uint32Array.from(ids), 'tokens'), table: l.upload(encode(table, 'f16'), 'table'), out, T: ids.length, C, tableDtype: 'f16', outDtype });
      const got = decode(await read(l, out, outDtype === 'f16' ? (ids.length * C) / 2 : ids.length * C), outDtype, ids.length * C);
      ids.forEach((id, t) => expect(got.subarray(t * C, (t + 1) * C)).toEqual(table.subarray(id * C, (id + 1) * C)));
    }
  });

  it('rope rotates f16 q and k in place, D 16 and 64, and leaves v exactly as stored', async () => {
    const l = await gpu();
    for (const D of [16, 64]) {
      const H = 2;
      const lengths = [5, 1, 65];
      const batch = pack(lengths.map((n) => new Array(n).fill(0)));
      const T = batch.totalTokens;
      const qkv = inputs(T * 3 * H * D, T + D, 2, 'f16');
      const rotate = (p: typeof fp32, data: Float32Array | Float64Array) => {
        const out = data.slice();
        const tables = ropeTables(p, 160000, D, batch.maxSeqlen);
        for (let t = 0; t < T; t++) for (const s of [0, 1]) for (let h = 0; h < H; h++) applyRope(p, out, t * 3 * H * D + s * H * D + h * D, batch.positions[t], tables);
        return out;
      };
      const tables = ropeTables(fp32, 160000, D, batch.maxSeqlen);
      const buffer = l.upload(encode(qkv.f32, 'f16'), 'qkv');
      rope.run(l, { qkv: buffer, positions: l.upload(Uint32Array.from(batch.positions), 'pos'), cos: l.upload(tables.cos, 'cos'), sin: l.upload(tables.sin, 'sin'), T, H, D, dtype: 'f16' });
      const got = decode(await read(l, buffer, (T * 3 * H * D) / 2), 'f16', T * 3 * H * D);
      const ref64 = rotate(fp64, qkv.f64);
      expectKernelClose(`rope f16 D${D}`, got, rotate(fp32, qkv.f32), ref64, 1e-6 + storageRounding('f16', ref64));
      for (let t = 0; t < T; t++) {
        const v = t * 3 * H * D + 2 * H * D;
        expect(got.subarray(v, v + H * D)).toEqual(qkv.f32.subarray(v, v + H * D));
      }
    }
  });
});
