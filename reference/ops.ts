// The model's operations, one function each, as plain loops over typed arrays.
//
// Dimension letters (used in every shape comment of the project):
//   B sequences, L padded length, T total real tokens (unpadded), C hidden, H heads, D head dim,
//   I intermediate, V vocab.
// Matrices are row-major; a weight W[N, K] is stored as PyTorch's nn.Linear stores it, y = x W^T.
//
// Every function is generic over the float type through a Precision. In fp32 every arithmetic result,
// accumulations included, is rounded to float32 with Math.fround, so the fp32 mode has the error of a
// real fp32 implementation (JavaScript computes in double). In fp64 rounding is the identity: the oracle.

import type { Activation } from './config.ts';

export type FloatArray = Float32Array | Float64Array;

export interface Precision {
  /** f16 only builds RoPE tables the way some ports do (evals/diff.ts); models run in fp32 or fp64. */
  readonly name: 'fp32' | 'fp64' | 'f16';
  /** Rounds one arithmetic result to the working float type. */
  round(x: number): number;
  alloc(length: number): FloatArray;
}

// Two classes, not two object literals: V8 then sees `p.round` as one of two known methods and inlines
// both, so fp32 and fp64 run at full speed in one process (a function-valued field would go megamorphic).
class Float32Precision implements Precision {
  readonly name = 'fp32';
  round(x: number): number {
    return Math.fround(x);
  }
  alloc(n: number): Float32Array {
    return new Float32Array(n);
  }
}

class Float64Precision implements Precision {
  readonly name = 'fp64';
  round(x: number): number {
    return x;
  }
  alloc(n: number): Float64Array {
    return new Float64Array(n);
  }
}

export const fp32: Precision = new Float32Precision();
export const fp64: Precision = new Float64Precision();

export function precisionByName(name: string): Precision {
  if (name === 'fp32') return fp32;
  if (name === 'fp64') return fp64;
  throw new Error(`unknown precision "${name}" (expected fp32 or fp64)`);
}

/** y[T, N] = x[T, K] W[N, K]^T (+ bias[N]). Each output sums over k in order. */
export function linear(p: Precision, x: FloatArray, W: FloatArray, bias: FloatArray | null, T: number, N: number, K: number): FloatArray {
  const y = p.alloc(T * N);
  // Four rows of x share each pass over a row of W: the same sums in the same order, a quarter of the W reads.
  let t = 0;
  for (; t + 4 <= T; t += 4) {
    const x0 = t * K, x1 = x0 + K, x2 = x1 + K, x3 = x2 + K;
    for (let n = 0; n < N; n++) {
      const w = n * K;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let k = 0; k < K; k++) {
        const wk = W[w + k];
        a0 = p.round(a0 + p.round(x[x0 + k] * wk));
        a1 = p.round(a1 + p.round(x[x1 + k] * wk));
        a2 = p.round(a2 + p.round(x[x2 + k] * wk));
        a3 = p.round(a3 + p.round(x[x3 + k] * wk));
      }
      const b = bias ? bias[n] : 0;
      y[t * N + n] = p.round(a0 + b);
      y[(t + 1) * N + n] = p.round(a1 + b);
      y[(t + 2) * N + n] = p.round(a2 + b);
      y[(t + 3) * N + n] = p.round(a3 + b);
    }
  }
  for (; t < T; t++) {
    const x0 = t * K;
    for (let n = 0; n < N; n++) {
      const w = n * K;
      let a = 0;
      for (let k = 0; k < K; k++) a = p.round(a + p.round(x[x0 + k] * W[w + k]));
      y[t * N + n] = p.round(a + (bias ? bias[n] : 0));
    }
  }
  return y;
}

/** out = a + b, elementwise. */
export function add(p: Precision, a: FloatArray, b: FloatArray): FloatArray {
  const out = p.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = p.round(a[i] + b[i]);
  return out;
}

/** y[T, C] = (x - mean) / sqrt(var + eps) * weight (+ bias), over the last dim, population variance. */
export function layerNorm(p: Precision, x: FloatArray, weight: FloatArray, bias: FloatArray | null, T: number, C: number, eps: number): FloatArray {
  const y = p.alloc(T * C);
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let sum = 0;
    for (let c = 0; c < C; c++) sum = p.round(sum + x[o + c]);
    const mean = p.round(sum / C);
    let sq = 0;
    for (let c = 0; c < C; c++) {
      const d = p.round(x[o + c] - mean);
      sq = p.round(sq + p.round(d * d));
    }
    const rstd = p.round(1 / p.round(Math.sqrt(p.round(p.round(sq / C) + eps))));
    for (let c = 0; c < C; c++) {
      const v = p.round(p.round(p.round(x[o + c] - mean) * rstd) * weight[c]);
      y[o + c] = bias ? p.round(v + bias[c]) : v;
    }
  }
  return y;
}

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/**
 * The error function to double precision. Uses erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (2n+1)!!,
 * whose terms are all positive, so the sum loses no precision to cancellation. erf(6) rounds to 1 in double.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  const a2 = a * a;
  let term = a;
  let sum = a;
  for (let n = 1; term > sum * 1e-17; n++) {
    term *= (2 * a2) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * TWO_OVER_SQRT_PI * Math.exp(-a2) * sum;
}

/** GELU, exact erf form (torch.nn.functional.gelu, approximate='none'): x/2 * (1 + erf(x / sqrt 2)). */
export function geluErf(x: number): number {
  return 0.5 * x * (1 + erf(x * Math.SQRT1_2));
}

const SQRT_2_OVER_PI = 0.7978845608028654;

/** One activation in double precision: gelu (exact), gelu_tanh (the tanh approximation), silu (x sigmoid(x)), relu. */
export function activate(kind: Activation, x: number): number {
  switch (kind) {
    case 'gelu':
      return geluErf(x);
    case 'gelu_tanh':
      return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case 'silu':
      return x / (1 + Math.exp(-x));
    case 'relu':
      return x > 0 ? x : 0;
  }
}

/** out[i] = act(x[i]), elementwise. */
export function activation(p: Precision, x: FloatArray, kind: Activation): FloatArray {
  const out = p.alloc(x.length);
  for (let i = 0; i < x.length; i++) out[i] = p.round(activate(kind, x[i]));
  return out;
}

/** GLU: u[T, 2I] -> out[T, I] = act(u[:, :I]) * u[:, I:] (the first half is activated, the second gates; GeGLU with gelu). */
export function glu(p: Precision, u: FloatArray, T: number, I: number, kind: Activation): FloatArray {
  const out = p.alloc(T * I);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < I; i++) out[t * I + i] = p.round(p.round(activate(kind, u[t * 2 * I + i])) * u[t * 2 * I + I + i]);
  }
  return out;
}

/** In-place softmax of x[from, to) (max-subtracted); returns nothing, x holds the probabilities. */
export function softmaxInPlace(p: Precision, x: FloatArray, from: number, to: number): void {
  let max = -Infinity;
  for (let i = from; i < to; i++) if (x[i] > max) max = x[i];
  let sum = 0;
  for (let i = from; i < to; i++) {
    x[i] = p.round(Math.exp(p.round(x[i] - max)));
    sum = p.round(sum + x[i]);
  }
  for (let i = from; i < to; i++) x[i] = p.round(x[i] / sum);
}

export interface RopeTables {
  /** cos[P, D/2], sin[P, D/2]: angle(p, i) = p * theta^(-2i/D). */
  cos: FloatArray;
  sin: FloatArray;
  positions: number;
  halfDim: number;
}

/**
 * RoPE tables for positions 0..P-1. In fp32 each step is rounded as HF computes it in float32
 * (exponent 2i/D, theta^e, 1/theta^e, p * inv_freq, cos, sin); in fp64 they are exact doubles.
 */
export function ropeTables(p: Precision, theta: number, D: number, P: number): RopeTables {
  const half = D / 2;
  const cos = p.alloc(P * half);
  const sin = p.alloc(P * half);
  for (let i = 0; i < half; i++) {
    const invFreq = p.round(1 / p.round(Math.pow(theta, p.round((2 * i) / D))));
    for (let pos = 0; pos < P; pos++) {
      const angle = p.round(pos * invFreq);
      cos[pos * half + i] = p.round(Math.cos(angle));
      sin[pos * half + i] = p.round(Math.sin(angle));
    }
  }
  return { cos, sin, positions: P, halfDim: half };
}

/**
 * Rotates one head vector x[offset .. offset+D) in place by position pos, GPT-NeoX style ("rotate_half",
 * not interleaved): x[j] <- x[j] cos - x[j+D/2] sin, x[j+D/2] <- x[j+D/2] cos + x[j] sin, j < D/2.
 */
export function applyRope(p: Precision, x: FloatArray, offset: number, pos: number, tables: RopeTables): void {
  const half = tables.halfDim;
  const t = pos * half;
  for (let j = 0; j < half; j++) {
    const c = tables.cos[t + j];
    const s = tables.sin[t + j];
    const x1 = x[offset + j];
    const x2 = x[offset + half + j];
    x[offset + j] = p.round(p.round(x1 * c) - p.round(x2 * s));
    x[offset + half + j] = p.round(p.round(x2 * c) + p.round(x1 * s));
  }
}
