// Attention as the definition: dense scores for one sequence, a window [left, right] (flash-attention's
// convention: query i sees keys i-left .. i+right, inclusive; -1 = unlimited), and varlen attention as a
// plain loop over the sequences of a packed batch. No mask values are needed: keys outside the window or
// in another sequence are simply never visited.
import { type FloatArray, type Precision, softmaxInPlace } from './ops.ts';
import { type Steps, complete, rowsPerStep } from './steps.ts';

export type Window = readonly [left: number, right: number];
export const UNLIMITED: Window = [-1, -1];

/** The keys [first, last] (inclusive) that query i of an n-token sequence sees under a window. */
export function visibleKeys(i: number, n: number, window: Window): [number, number] {
  const [left, right] = window;
  return [left < 0 ? 0 : Math.max(0, i - left), right < 0 ? n - 1 : Math.min(n - 1, i + right)];
}

/**
 * Attention of one sequence, all heads: tokens [start, start + n) of qkv[T, 3, H, D] (q, k already
 * rotated) accumulate into out[T, H*D] rows [start, start + n), which must start at zero; heads are
 * concatenated in order. Only queries [from, to) of the sequence when given (the rest of its rows untouched).
 * scores = q.k * D^-0.5, softmax over the visible keys, out = sum p_j v_j.
 */
export function sequenceAttention(p: Precision, qkv: FloatArray, out: FloatArray, start: number, n: number, H: number, D: number, window: Window, from = 0, to = n): void {
  const C = H * D;
  const scale = p.round(1 / Math.sqrt(D));
  const scores = p.alloc(n);
  for (let h = 0; h < H; h++) {
    for (let i = from; i < to; i++) {
      const q = (start + i) * 3 * C + h * D;
      const [first, last] = visibleKeys(i, n, window);
      for (let j = first; j <= last; j++) {
        const k = (start + j) * 3 * C + C + h * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot = p.round(dot + p.round(qkv[q + d] * qkv[k + d]));
        scores[j] = p.round(dot * scale);
      }
      softmaxInPlace(p, scores, first, last + 1);
      // out row starts at zero (fresh array); each out[d] sums over j in order.
      const o = (start + i) * C + h * D;
      for (let j = first; j <= last; j++) {
        const v = (start + j) * 3 * C + 2 * C + h * D;
        for (let d = 0; d < D; d++) out[o + d] = p.round(out[o + d] + p.round(scores[j] * qkv[v + d]));
      }
    }
  }
}

/** Varlen attention: qkv[T, 3, H, D] packed by cuSeqlens[B+1] -> out[T, H*D]. */
export function varlenAttention(p: Precision, qkv: FloatArray, cuSeqlens: Int32Array, H: number, D: number, window: Window): FloatArray {
  return complete(varlenAttentionSteps(p, qkv, cuSeqlens, H, D, window));
}

/** varlenAttention, a block of query rows per step. */
export function* varlenAttentionSteps(p: Precision, qkv: FloatArray, cuSeqlens: Int32Array, H: number, D: number, window: Window): Steps<FloatArray> {
  const B = cuSeqlens.length - 1;
  const out = p.alloc(cuSeqlens[B] * H * D);
  for (let b = 0; b < B; b++) {
    const n = cuSeqlens[b + 1] - cuSeqlens[b];
    const keys = window[0] < 0 || window[1] < 0 ? n : Math.min(n, window[0] + window[1] + 1);
    const rows = rowsPerStep(2 * keys * H * D);
    for (let from = 0; from < n; from += rows) {
      sequenceAttention(p, qkv, out, cuSeqlens[b], n, H, D, window, from, Math.min(n, from + rows));
      yield;
    }
  }
  return out;
}
