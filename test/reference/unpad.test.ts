import { describe, expect, it } from 'vitest';
import { fp64 } from '../../reference/ops.ts';
import { pack, packPadded, repad, unpadRows } from '../../reference/unpad.ts';

describe('pack and unpack', () => {
  it('packs sequences with cuSeqlens, per-sequence positions and maxSeqlen', () => {
    const b = pack([[5, 6, 7], [8], [9, 10]]);
    expect([...b.tokens]).toEqual([5, 6, 7, 8, 9, 10]);
    expect([...b.cuSeqlens]).toEqual([0, 3, 4, 6]);
    expect([...b.positions]).toEqual([0, 1, 2, 0, 0, 1]);
    expect([b.maxSeqlen, b.batchSize, b.totalTokens]).toEqual([3, 3, 6]);
  });

  it('round-trips a padded batch: pack, repad, unpad', () => {
    const B = 3, L = 5, C = 2;
    const ids = [1, 2, 3, 0, 0, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0];
    const mask = [1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0];
    const batch = packPadded({ inputIds: ids, attentionMask: mask, batchSize: B, seqLen: L });
    expect([...batch.tokens]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...batch.cuSeqlens]).toEqual([0, 3, 8, 9]);
    const padded = Float64Array.from({ length: B * L * C }, (_, i) => i + 1);
    const packed = unpadRows(fp64, padded, batch, C);
    expect(packed.length).toBe(9 * C);
    const back = repad(fp64, packed, batch, C);
    for (let i = 0; i < B * L; i++) {
      const real = mask[i] === 1;
      expect([back[i * C], back[i * C + 1]]).toEqual(real ? [padded[i * C], padded[i * C + 1]] : [0, 0]);
    }
  });

  it('treats a missing attention_mask as all ones', () => {
    const b = packPadded({ inputIds: [1, 2, 3, 4], batchSize: 2, seqLen: 2 });
    expect([...b.cuSeqlens]).toEqual([0, 2, 4]);
  });
});

describe('bad batches', () => {
  it('rejects an empty batch', () => {
    expect(() => pack([])).toThrow(/empty batch/);
    expect(() => packPadded({ inputIds: [], batchSize: 0, seqLen: 4 })).toThrow(/empty batch: shape \[0, 4\]/);
  });

  it('rejects a zero-length sequence', () => {
    expect(() => pack([[1, 2], []])).toThrow(/sequence 1 has no tokens/);
    expect(() => packPadded({ inputIds: [1, 2, 3, 4], attentionMask: [1, 1, 0, 0], batchSize: 2, seqLen: 2 })).toThrow(/attention_mask row 1 has no real token/);
  });

  it('rejects a mask that is not 0/1', () => {
    expect(() => packPadded({ inputIds: [1, 2], attentionMask: [1, 2], batchSize: 1, seqLen: 2 })).toThrow(/attention_mask\[0, 1\] is 2: the mask must be 0 or 1/);
  });

  it('rejects a mask that is not right-padded', () => {
    expect(() => packPadded({ inputIds: [1, 2, 3], attentionMask: [0, 1, 1], batchSize: 1, seqLen: 3 })).toThrow(/attention_mask row 0 is not right-padded: a real token at position 1 follows padding at 0/);
    expect(() => packPadded({ inputIds: [1, 2, 3], attentionMask: [1, 0, 1], batchSize: 1, seqLen: 3 })).toThrow(/row 0 is not right-padded/);
  });

  it('rejects sizes that do not match the shape, and ids that are not integers', () => {
    expect(() => packPadded({ inputIds: [1, 2, 3], batchSize: 2, seqLen: 2 })).toThrow(/input_ids holds 3 values, expected 2 x 2/);
    expect(() => pack([[1, -1]])).toThrow(/token id -1 at sequence 0, position 1 is not a non-negative integer/);
    expect(() => pack([[1.5]])).toThrow(/token id 1.5/);
  });
});
