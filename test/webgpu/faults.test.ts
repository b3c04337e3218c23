// Faults (issue 14, item 4): a device lost in the middle of a pass is an error on that call and the next, and a
// model made afterwards works; a buffer over the device's limit is an error naming the tensor and the limit
// (the library's batches keep activations under WebGPU's default 128 MiB for ModernBERT base and large: one
// long text's MLM logits are what can exceed it), and the model runs the next pass as before.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeviceError, acquireDevice, sharedDevice } from '../../optimized/webgpu/device.ts';
import { createWebGpuModel, destroyModel, forward, memoryStats } from '../../optimized/webgpu/modernbert.ts';
import { loadCheckpoint } from '../../reference/files.ts';
import { fp32 } from '../../reference/ops.ts';
import { writeExampleCheckpoint } from '../../tasks/example.ts';
import { loadModel } from '../../tasks/index.ts';
import { tempDir } from '../helpers.ts';
import './harness.ts';

const TEXTS = ['A man is playing a guitar.', 'The stock market fell sharply today.'];

describe('faults', () => {
  it('a buffer over the binding limit is a DeviceError naming it and the limit; the next pass runs as before', async () => {
    const dir = tempDir();
    writeExampleCheckpoint(dir);
    const checkpoint = loadCheckpoint(dir, fp32);
    const ctx = await acquireDevice({ maxBufferBytes: 128 * 2 ** 20 });
    const model = createWebGpuModel(ctx, checkpoint);
    try {
      const small = [[1, 5, 6, 7, 2]];
      const before = await forward(model, small, { mlmLogits: true });
      // 700 tokens (two sequences of 350) x 50,368 words x 4 bytes of MLM logits: 141 MB
      const long = [0, 1].map((k) => Array.from({ length: 350 }, (_, i) => 100 + k + i));
      await expect(forward(model, long, { mlmLogits: true })).rejects.toThrow(new DeviceError(`buffer "mlm.logits" needs ${700 * checkpoint.config.vocabSize * 4} bytes, more than this device's maxStorageBufferBindingSize (${128 * 2 ** 20} bytes): run fewer tokens in a pass`));
      expect(memoryStats(model).liveBytes).toBe(memoryStats(model).weightBytes);
      expect(await forward(model, small, { mlmLogits: true })).toEqual(before);
      expect((await forward(model, long)).lastHiddenState.length).toBe(700 * checkpoint.config.hiddenSize); // without the MLM head it fits
    } finally {
      destroyModel(model);
      ctx.device.destroy();
    }
  });

  it('a device lost during a pass fails that call and the next; a model loaded afterwards gets a new device and the same results', async () => {
    const dir = tempDir();
    writeExampleCheckpoint(dir);
    const model = await loadModel(dir, { backend: 'webgpu' });
    const before = await model.embed(TEXTS);
    const pending = model.embed(TEXTS);
    (await sharedDevice()).device.destroy();
    await expect(pending).rejects.toThrow(/^the WebGPU device was lost \(destroyed: .*\); acquire a new one$/);
    await expect(model.embed(TEXTS)).rejects.toThrow(DeviceError);
    model.dispose();
    const again = await loadModel(dir, { backend: 'webgpu' });
    try {
      expect(await again.embed(TEXTS)).toEqual(before);
    } finally {
      again.dispose();
    }
  });
});
