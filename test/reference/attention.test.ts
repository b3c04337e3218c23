import { describe, expect, it } from 'vitest';
import { UNLIMITED, type Window, sequenceAttention, varlenAttention, visibleKeys } from '../../reference/attention.ts';
import { fp64 } from '../../reference/ops.ts';

/** qkv[n, 3, 1, D] for one head with q = 0 (uniform scores) and v = one-hot of the key index (D = n). */
function uniformOneHot(n: number): Float64Array {
  const D = n;
  const qkv = new Float64Array(n * 3 * D);
  for (let j = 0; j < n; j++) qkv[j * 3 * D + 2 * D + j] = 1;
  return qkv;
}

describe('sliding window', () => {
  it('window 2 on 5 tokens: each query sees the keys within distance 2, inclusive', () => {
    const keys = [0, 1, 2, 3, 4].map((i) => visibleKeys(i, 5, [2, 2]));
    expect(keys).toEqual([[0, 2], [0, 3], [0, 4], [1, 4], [2, 4]]);
  });

  it('attention under window 2 averages exactly those keys', () => {
    const n = 5;
    const out = varlenAttention(fp64, uniformOneHot(n), Int32Array.from([0, n]), 1, n, [2, 2]);
    // With uniform scores the output is the mean of the visible one-hot values: 1/count on each seen key.
    const seen = [...Array(n)].map((_, i) => [...out.subarray(i * n, (i + 1) * n)].map((v) => (v > 0 ? 1 : 0)));
    expect(seen).toEqual([
      [1, 1, 1, 0, 0],
      [1, 1, 1, 1, 0],
      [1, 1, 1, 1, 1],
      [0, 1, 1, 1, 1],
      [0, 0, 1, 1, 1],
    ]);
    expect(out[0]).toBeCloseTo(1 / 3, 15);
    expect(out[2 * n + 4]).toBeCloseTo(1 / 5, 15);
  });

  it('asymmetric and one-sided windows, and -1 for unlimited', () => {
    expect(visibleKeys(3, 10, [1, 0])).toEqual([2, 3]);
    expect(visibleKeys(3, 10, [-1, 2])).toEqual([0, 5]);
    expect(visibleKeys(3, 10, UNLIMITED)).toEqual([0, 9]);
  });

  it('a window larger than the sequence is the same as no window', () => {
    const n = 4;
    const qkv = Float64Array.from({ length: n * 3 * 8 }, (_, i) => Math.sin(i * 0.37));
    const wide = varlenAttention(fp64, qkv, Int32Array.from([0, n]), 2, 4, [64, 64]);
    expect(wide).toEqual(varlenAttention(fp64, qkv, Int32Array.from([0, n]), 2, 4, UNLIMITED));
  });
});

describe('varlen attention', () => {
  it('equals dense attention on each sequence alone: no key crosses a sequence boundary', () => {
    const H = 2, D = 4, C = H * D;
    const lengths = [1, 6, 3];
    const cu = Int32Array.from([0, 1, 7, 10]);
    const T = cu[3];
    const qkv = Float64Array.from({ length: T * 3 * C }, (_, i) => Math.sin(i * 1.7) * 2);
    for (const window of [UNLIMITED, [1, 1] as Window]) {
      const packed = varlenAttention(fp64, qkv, cu, H, D, window);
      lengths.forEach((n, b) => {
        const alone = new Float64Array(n * C);
        sequenceAttention(fp64, qkv.slice(cu[b] * 3 * C, cu[b + 1] * 3 * C), alone, 0, n, H, D, window);
        expect(packed.subarray(cu[b] * C, cu[b + 1] * C)).toEqual(alone);
      });
    }
  });

  it('a one-token sequence returns its own value', () => {
    const D = 3;
    const qkv = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...varlenAttention(fp64, qkv, Int32Array.from([0, 1]), 1, D, [2, 2])]).toEqual([7, 8, 9]);
  });
});
