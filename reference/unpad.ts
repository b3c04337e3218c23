// Packing a batch: the model runs on T real tokens, never on padding.
//   tokens[T]        the ids of every sequence, one after another
//   cuSeqlens[B+1]   sequence b occupies tokens[cuSeqlens[b] .. cuSeqlens[b+1])  (flash-attention's name)
//   positions[T]     each token's position inside its own sequence (RoPE restarts at 0 per sequence)
//   maxSeqlen        the longest sequence
// A padded batch (ids[B, L] + attention_mask[B, L], right-padded) is an adapter at the edge: pack it,
// run, and repad the outputs if the caller wants [B, L, ...] back.
import type { FloatArray, Precision } from './ops.ts';

export interface PackedBatch {
  tokens: Int32Array;
  cuSeqlens: Int32Array;
  positions: Int32Array;
  maxSeqlen: number;
  batchSize: number;
  totalTokens: number;
  /** Set when the batch came from a padded one: its padded length L. */
  paddedLength?: number;
}

export interface PaddedBatch {
  /** ids[B, L] */
  inputIds: ArrayLike<number>;
  /** mask[B, L]: 1 = real token, 0 = padding; right-padded. Omitted: every token is real. */
  attentionMask?: ArrayLike<number>;
  batchSize: number;
  seqLen: number;
}

export class BatchError extends Error {
  override name = 'BatchError';
}

/** Packs a list of unpadded sequences. */
export function pack(sequences: readonly ArrayLike<number>[]): PackedBatch {
  if (sequences.length === 0) throw new BatchError('empty batch: no sequences');
  const B = sequences.length;
  const cuSeqlens = new Int32Array(B + 1);
  for (let b = 0; b < B; b++) {
    const n = sequences[b].length;
    if (n === 0) throw new BatchError(`sequence ${b} has no tokens (zero-length sequences are not allowed)`);
    cuSeqlens[b + 1] = cuSeqlens[b] + n;
  }
  const T = cuSeqlens[B];
  const tokens = new Int32Array(T);
  const positions = new Int32Array(T);
  let maxSeqlen = 0;
  for (let b = 0; b < B; b++) {
    const seq = sequences[b];
    maxSeqlen = Math.max(maxSeqlen, seq.length);
    for (let i = 0; i < seq.length; i++) {
      const id = seq[i];
      if (!Number.isInteger(id) || id < 0) throw new BatchError(`token id ${id} at sequence ${b}, position ${i} is not a non-negative integer`);
      tokens[cuSeqlens[b] + i] = id;
      positions[cuSeqlens[b] + i] = i;
    }
  }
  return { tokens, cuSeqlens, positions, maxSeqlen, batchSize: B, totalTokens: T };
}

/** The real lengths of a right-padded batch; the mask must hold only 0 and 1, ones first in each row. */
export function sequenceLengths(batch: PaddedBatch): number[] {
  const { batchSize: B, seqLen: L, inputIds, attentionMask } = batch;
  if (B === 0 || L === 0) throw new BatchError(`empty batch: shape [${B}, ${L}]`);
  if (inputIds.length !== B * L) throw new BatchError(`input_ids holds ${inputIds.length} values, expected ${B} x ${L}`);
  if (!attentionMask) return new Array<number>(B).fill(L);
  if (attentionMask.length !== B * L) throw new BatchError(`attention_mask holds ${attentionMask.length} values, expected ${B} x ${L}`);
  const lengths: number[] = [];
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let i = 0; i < L; i++) {
      const m = attentionMask[b * L + i];
      if (m !== 0 && m !== 1) throw new BatchError(`attention_mask[${b}, ${i}] is ${m}: the mask must be 0 or 1`);
      if (m === 1) {
        if (n !== i) throw new BatchError(`attention_mask row ${b} is not right-padded: a real token at position ${i} follows padding at ${n}`);
        n++;
      }
    }
    if (n === 0) throw new BatchError(`attention_mask row ${b} has no real token (zero-length sequence)`);
    lengths.push(n);
  }
  return lengths;
}

/** Packs a right-padded batch, dropping the padding. */
export function packPadded(batch: PaddedBatch): PackedBatch {
  const lengths = sequenceLengths(batch);
  const L = batch.seqLen;
  const sequences = lengths.map((n, b) => Array.from({ length: n }, (_, i) => batch.inputIds[b * L + i]));
  return { ...pack(sequences), paddedLength: L };
}

/**
 * The layout of padded execution (the ablation that computes the pads): every sequence takes L rows, the
 * rows past its end hold `padId` at positions n..L-1. Returned as a packed batch of B sequences of L tokens.
 */
export function paddedLayout(batch: PackedBatch, L: number, padId: number): PackedBatch {
  if (L < batch.maxSeqlen) throw new BatchError(`cannot pad to length ${L}: the longest sequence has ${batch.maxSeqlen} tokens`);
  const B = batch.batchSize;
  const tokens = new Int32Array(B * L).fill(padId);
  const positions = new Int32Array(B * L);
  const cuSeqlens = Int32Array.from({ length: B + 1 }, (_, b) => b * L);
  for (let b = 0; b < B; b++) {
    tokens.set(batch.tokens.subarray(batch.cuSeqlens[b], batch.cuSeqlens[b + 1]), b * L);
    for (let i = 0; i < L; i++) positions[b * L + i] = i;
  }
  return { tokens, cuSeqlens, positions, maxSeqlen: L, batchSize: B, totalTokens: B * L, paddedLength: L };
}

/** Row index in a padded [B, L, ...] layout of each packed token. */
export function paddedRowOfToken(batch: PackedBatch, L: number): Int32Array {
  const rows = new Int32Array(batch.totalTokens);
  for (let b = 0; b < batch.batchSize; b++) {
    for (let t = batch.cuSeqlens[b]; t < batch.cuSeqlens[b + 1]; t++) rows[t] = b * L + (t - batch.cuSeqlens[b]);
  }
  return rows;
}

/** x[T, C] -> out[B, L, C], zeros at padding. L defaults to the batch's padded length, else maxSeqlen. */
export function repad(p: Precision, x: FloatArray, batch: PackedBatch, C: number, L = batch.paddedLength ?? batch.maxSeqlen): FloatArray {
  if (L < batch.maxSeqlen) throw new BatchError(`cannot repad to length ${L}: the longest sequence has ${batch.maxSeqlen} tokens`);
  const out = p.alloc(batch.batchSize * L * C);
  const rows = paddedRowOfToken(batch, L);
  for (let t = 0; t < batch.totalTokens; t++) out.set(x.subarray(t * C, (t + 1) * C), rows[t] * C);
  return out;
}

/** out[B, L, C] -> x[T, C]: the real rows of a padded tensor, in packed order. */
export function unpadRows(p: Precision, padded: ArrayLike<number>, batch: PackedBatch, C: number, L = batch.paddedLength ?? batch.maxSeqlen): FloatArray {
  const out = p.alloc(batch.totalTokens * C);
  const rows = paddedRowOfToken(batch, L);
  for (let t = 0; t < batch.totalTokens; t++) {
    for (let c = 0; c < C; c++) out[t * C + c] = padded[rows[t] * C + c];
  }
  return out;
}
