// Launchers for varlen attention: flash_attention.wgsl (tiled, online softmax) and attention_materialized.wgsl
// (the baseline that stores every score row).
import flashSource from './flash_attention.wgsl';
import materializedSource from './attention_materialized.wgsl';
import { type Launcher, MAX_GRID } from './launch.ts';

export type Window = readonly [left: number, right: number];

export interface AttentionShape {
  /** rows of each sequence (its real length; in padded execution, the padded length) */
  lengths: readonly number[];
  H: number;
  D: number;
  window: Window;
}

export interface AttentionArgs extends AttentionShape {
  qkv: GPUBuffer;
  cuSeqlens: GPUBuffer;
  /** padded execution (flash-attention's seqused_k): keys per sequence [B]; rows past them are pads */
  sequsedK?: GPUBuffer;
  out: GPUBuffer;
  maxSeqlen: number;
  variant?: 'flash' | 'materialized';
}

export const MAX_HEAD_DIM = 128;

export function run(l: Launcher, a: AttentionArgs): void {
  const B = a.lengths.length;
  const T = a.lengths.reduce((s, n) => s + n, 0);
  const scale = 1 / Math.sqrt(a.D);
  const sequsedK = a.sequsedK ?? l.absent.sequsedK;
  const useSeqused = a.sequsedK ? 1 : 0;
  if (a.variant === 'materialized') {
    const scores = l.pool.storage(a.H * T * a.maxSeqlen * 4, 'attention.scores');
    l.dispatch(
      { name: 'attention_materialized', source: materializedSource },
      {},
      [a.qkv, a.cuSeqlens, sequsedK, scores, a.out],
      [['u32', T], ['u32', B], ['u32', a.H], ['u32', a.D], ['u32', a.maxSeqlen], ['i32', a.window[0]], ['i32', a.window[1]], ['f32', scale], ['u32', useSeqused]],
      [Math.ceil(T / 64), a.H],
    );
    l.pool.release(scores);
    return;
  }
  if (a.D > MAX_HEAD_DIM) throw new Error(`flash attention: head dim ${a.D} exceeds ${MAX_HEAD_DIM}`);
  if (B > MAX_GRID) throw new Error(`flash attention: ${B} sequences exceed the grid (${MAX_GRID})`);
  l.dispatch(
    { name: 'flash_attention', source: flashSource },
    { D: a.D },
    [a.qkv, a.cuSeqlens, sequsedK, a.out],
    [['u32', B], ['u32', a.H], ['i32', a.window[0]], ['i32', a.window[1]], ['f32', scale], ['u32', useSeqused]],
    [Math.ceil(a.maxSeqlen / 32), a.H, B],
  );
}

/** Keys each query of an n-token sequence sees, summed over the sequence. */
function visiblePairs(n: number, [left, right]: Window): number {
  let pairs = 0;
  for (let i = 0; i < n; i++) pairs += Math.min(n - 1, right < 0 ? n - 1 : i + right) - Math.max(0, left < 0 ? 0 : i - left) + 1;
  return pairs;
}

/** Useful work: q·k and p·v for every visible (query, key) pair, every head. */
export function flops(s: AttentionShape): number {
  return s.lengths.reduce((sum, n) => sum + 4 * visiblePairs(n, s.window) * s.H * s.D, 0);
}

/** Compulsory traffic: q, k, v read once, out written once. */
export function bytes(s: AttentionShape): number {
  const T = s.lengths.reduce((a, b) => a + b, 0);
  return 4 * 4 * T * s.H * s.D;
}
