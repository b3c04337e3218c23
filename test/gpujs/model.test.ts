// The gpu.js model's size plan: gpu.js indexes in f32, so every tensor of a pass must hold fewer than 2^24
// values; a batch past that is an error before any kernel runs, and the benchmark splits it into sub-batches.
import { describe, expect, it } from 'vitest';
import { presetConfig } from '../../reference/config.ts';
import { randomModel } from '../../reference/modernbert.ts';
import { fp32 } from '../../reference/ops.ts';
import { createGpuJsModel, destroyModel, forward, largestTensor, subBatches } from '../../optimized/gpujs/modernbert.ts';

describe('gpu.js size plan', () => {
  const base = presetConfig('base');

  it('names the largest tensor of a pass', () => {
    // one 512-token sequence: the scores [512 x 12 heads, 512] = 3,145,728 > the Wi output [512, 2304] = 1,179,648
    expect(largestTensor(base, [512])).toEqual({ values: 3_145_728, name: 'the attention scores [512 x 12 heads, 512]' });
    expect(largestTensor(presetConfig('large'), [16, 16])).toEqual({ values: 32 * 5248, name: 'the Wi output [32, 5248]' });
  });

  it('groups sequences into passes below 2^24 values, in order', () => {
    // 5 x 512 tokens: scores 15.7M values; 6 would be 18.9M
    expect(subBatches(base, new Array(12).fill(512))).toEqual([[512, 512, 512, 512, 512], [512, 512, 512, 512, 512], [512, 512]]);
    expect(subBatches(base, [100, 200, 300])).toEqual([[100, 200, 300]]);
  });

  it('a sequence too long for one pass is an error naming the tensor', () => {
    expect(() => subBatches(base, [512, 8192])).toThrow(/the attention scores \[8192 x 12 heads, 8192\] holds 805306368 values.*exact below 2\^24/);
  });

  it('forward rejects a batch past the limit before running a kernel', async () => {
    const small = presetConfig('small');
    const model = await createGpuJsModel(randomModel(small, fp32, 0), 'cpu');
    try {
      await expect(forward(model, [new Int32Array(2048)], { allowLongSequences: true })).rejects.toThrow(/the gpujs backend cannot run this batch in one pass: the attention scores \[2048 x 4 heads, 2048\] holds 16777216 values/);
    } finally {
      destroyModel(model);
    }
  });
});
