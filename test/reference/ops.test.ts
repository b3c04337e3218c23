import { describe, expect, it } from 'vitest';
import { activate, applyRope, erf, fp32, fp64, glu, geluErf, layerNorm, linear, ropeTables, softmaxInPlace } from '../../reference/ops.ts';

describe('erf', () => {
  // erf to double precision, as printed by Python's math.erf (C libm).
  const known: [number, number][] = [
    [0, 0],
    [1e-10, 1.1283791670955126e-10],
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [1.5, 0.9661051464753108],
    [2, 0.9953222650189527],
    [3, 0.9999779095030014],
    [4, 0.9999999845827421],
    [5.5, 0.9999999999999927],
  ];
  it('matches libm to 2 ulp', () => {
    for (const [x, y] of known) {
      expect(Math.abs(erf(x) - y)).toBeLessThanOrEqual(2 * Number.EPSILON * y); // within 2 ulp
      expect(erf(-x)).toBe(-erf(x));
    }
    expect(erf(6)).toBe(1);
    expect(erf(-40)).toBe(-1);
    expect(erf(NaN)).toBeNaN();
  });

  it('gives the exact GELU, not the tanh approximation', () => {
    expect(geluErf(1)).toBeCloseTo(0.8413447460685429, 15);
    expect(geluErf(-1)).toBeCloseTo(-0.15865525393145707, 15);
    const tanhGelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    expect(Math.abs(geluErf(1.5) - tanhGelu(1.5))).toBeGreaterThan(1e-4);
  });

  it("computes every activation HF's ACT2FN names for these configs (torch values)", () => {
    // torch 2.13's torch.nn.functional in float64: gelu(approximate='tanh'), silu, relu at 1.5 and -2
    expect(activate('gelu_tanh', 1.5)).toBeCloseTo(1.3995715769802328, 14);
    expect(activate('gelu_tanh', -2)).toBeCloseTo(-0.04540230591222494, 14);
    expect(activate('silu', 1.5)).toBeCloseTo(1.2263617142904655, 14);
    expect(activate('silu', -2)).toBeCloseTo(-0.2384058440442351, 14);
    expect([activate('relu', 1.5), activate('relu', -2)]).toEqual([1.5, 0]);
    expect(activate('gelu', 1)).toBe(geluErf(1));
  });
});

describe('linear', () => {
  it('computes x W^T + b for every row count around the 4-row block', () => {
    const K = 5, N = 3;
    for (const T of [1, 3, 4, 5, 9]) {
      const x = Float64Array.from({ length: T * K }, (_, i) => Math.sin(i + 1));
      const W = Float64Array.from({ length: N * K }, (_, i) => Math.cos(i * 0.7));
      const b = Float64Array.from([0.5, -1, 2]);
      const y = linear(fp64, x, W, b, T, N, K);
      for (let t = 0; t < T; t++) {
        for (let n = 0; n < N; n++) {
          let s = b[n];
          for (let k = 0; k < K; k++) s += x[t * K + k] * W[n * K + k];
          expect(y[t * N + n]).toBeCloseTo(s, 12);
        }
      }
    }
  });

  it('rounds every step in fp32: the result is an fp32 number with fp32-sized error', () => {
    const K = 4096;
    const x = Float32Array.from({ length: K }, (_, i) => Math.fround(Math.sin(i)));
    const W = Float32Array.from({ length: K }, (_, i) => Math.fround(Math.cos(i * 1.3)));
    const y32 = linear(fp32, x, W, null, 1, 1, K)[0];
    const y64 = linear(fp64, Float64Array.from(x), Float64Array.from(W), null, 1, 1, K)[0];
    expect(Math.fround(y32)).toBe(y32);
    // A long fp32 sum drifts from the exact one by more than double rounding would, but stays small.
    expect(Math.abs(y32 - y64)).toBeGreaterThan(1e-12);
    expect(Math.abs(y32 - y64)).toBeLessThan(1e-3);
  });
});

describe('layerNorm, softmax, GeGLU', () => {
  it('normalizes with the population variance, weight and bias', () => {
    const y = layerNorm(fp64, Float64Array.from([1, 2, 3, 4]), Float64Array.from([1, 1, 2, 2]), Float64Array.from([0, 0, 0, 1]), 1, 4, 0);
    const s = Math.sqrt(1.25);
    expect([...y].map((v) => +v.toFixed(12))).toEqual([-1.5 / s, -0.5 / s, 1 / s, 3 / s + 1].map((v) => +v.toFixed(12)));
  });

  it('softmax sums to one and is shift invariant', () => {
    const a = Float64Array.from([0, 1, 2, 1000, 1001]);
    softmaxInPlace(fp64, a, 3, 5);
    expect(a[3] + a[4]).toBeCloseTo(1, 15);
    expect(a[4] / a[3]).toBeCloseTo(Math.E, 12);
    expect([a[0], a[1], a[2]]).toEqual([0, 1, 2]);
  });

  it('activates the first half and gates with the second', () => {
    const u = Float64Array.from([1, -2, 3, 10, 20, 30]); // T=1, I=3: activated [1,-2,3], gate [10,20,30]
    expect([...glu(fp64, u, 1, 3, 'gelu')]).toEqual([geluErf(1) * 10, geluErf(-2) * 20, geluErf(3) * 30]);
    expect([...glu(fp64, u, 1, 3, 'silu')]).toEqual([activate('silu', 1) * 10, activate('silu', -2) * 20, activate('silu', 3) * 30]);
  });
});

describe('RoPE', () => {
  it('leaves position 0 unchanged and rotates pairs (j, j + D/2) by p * theta^(-2j/D)', () => {
    const D = 4, theta = 100;
    const tables = ropeTables(fp64, theta, D, 8);
    const x = Float64Array.from([1, 2, 3, 4]);
    applyRope(fp64, x, 0, 0, tables);
    expect([...x]).toEqual([1, 2, 3, 4]);
    const pos = 5;
    applyRope(fp64, x, 0, pos, tables);
    for (const j of [0, 1]) {
      const angle = pos * theta ** ((-2 * j) / D);
      const [a, b] = [[1, 3], [2, 4]][j];
      expect(x[j]).toBeCloseTo(a * Math.cos(angle) - b * Math.sin(angle), 14);
      expect(x[j + 2]).toBeCloseTo(b * Math.cos(angle) + a * Math.sin(angle), 14);
    }
  });

  it('builds fp32 tables the way HF does: an fp32 angle, then cos and sin', () => {
    const t = ropeTables(fp32, 160000, 64, 200);
    const invFreq = Math.fround(1 / Math.fround(160000 ** Math.fround(2 / 64)));
    const angle = Math.fround(199 * invFreq);
    expect(t.cos[199 * 32 + 1]).toBe(Math.fround(Math.cos(angle)));
    expect(t.sin[199 * 32 + 1]).toBe(Math.fround(Math.sin(angle)));
  });
});
