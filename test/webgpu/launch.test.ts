// Host overhead of a forward pass: a steady pass (same shape as the last) creates no buffer and no bind
// group, gives the same result, and keeps the memory accounting of the plan; the uniform ring, the pool's
// kept buffers and the profiler's timers.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fp32 } from '../../reference/ops.ts';
import { loadCheckpoint } from '../../reference/files.ts';
import { acquireDevice, sharedDevice } from '../../optimized/webgpu/device.ts';
import { Launcher } from '../../optimized/webgpu/kernels/launch.ts';
import * as layernorm from '../../optimized/webgpu/kernels/layernorm.ts';
import { BufferPool } from '../../optimized/webgpu/memory.ts';
import { createWebGpuModel, destroyModel, forward, memoryStats, planningModel } from '../../optimized/webgpu/modernbert.ts';
import { GOLDEN } from '../helpers.ts';
import './harness.ts';

const checkpoint = loadCheckpoint(join(GOLDEN, 'window'), fp32);
const sequences = [[250, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 251], [250, 99, 251]];

/** Counts the device's createBuffer and createBindGroup calls, whoever makes them. */
function countCreations(device: GPUDevice): { buffers: number; bindGroups: number } {
  const counts = { buffers: 0, bindGroups: 0 };
  const createBuffer = device.createBuffer.bind(device);
  const createBindGroup = device.createBindGroup.bind(device);
  device.createBuffer = (d) => (counts.buffers++, createBuffer(d));
  device.createBindGroup = (d) => (counts.bindGroups++, createBindGroup(d));
  return counts;
}

describe('steady forward passes', () => {
  it('a second pass of the same shape creates no buffer and no bind group, and gives the same result', async () => {
    const ctx = await acquireDevice();
    const counts = countCreations(ctx.device);
    const model = createWebGpuModel(ctx, checkpoint);
    const options = { mlmLogits: true, pooling: ['mean' as const] };
    const created: { buffers: number; bindGroups: number }[] = [];
    const outputs = [];
    const peaks = [];
    for (let pass = 0; pass < 3; pass++) {
      if (pass > 0) counts.buffers = counts.bindGroups = 0; // pass 0 includes the weights' uploads, as passStats() does
      outputs.push(await forward(model, sequences, options));
      created.push({ ...counts });
      peaks.push(memoryStats(model).peakBytes);
      const stats = model.launcher.passStats();
      expect(stats.bindGroupsCreated).toBe(counts.bindGroups);
      expect(stats.buffersCreated).toBe(counts.buffers);
    }
    const stats = model.launcher.passStats();
    process.stdout.write(`created per pass (buffers, bind groups): ${created.map((c) => `${c.buffers}, ${c.bindGroups}`).join(' | ')}; ${stats.dispatches} dispatches, ${stats.encodeMs.toFixed(2)} ms CPU encode\n`);
    expect(created[0].buffers).toBeGreaterThan(0);
    expect(created[0].bindGroups).toBe(stats.dispatches);
    expect(created.slice(1)).toEqual([
      { buffers: 0, bindGroups: 0 },
      { buffers: 0, bindGroups: 0 },
    ]);
    for (const later of outputs.slice(1)) {
      expect(later.lastHiddenState).toEqual(outputs[0].lastHiddenState);
      expect(later.mlmLogits).toEqual(outputs[0].mlmLogits);
      expect(later.classifierLogits).toEqual(outputs[0].classifierLogits);
    }
    // Kept buffers are reserved, not live: the peak is the plan's, pass after pass.
    expect(new Set(peaks).size).toBe(1);
    const memory = memoryStats(model);
    expect(memory.liveBytes).toBe(memory.weightBytes);
    expect(memory.reservedBytes).toBeGreaterThan(0);
    destroyModel(model);
    expect(memoryStats(model)).toMatchObject({ liveBytes: 0, reservedBytes: 0 });
    ctx.device.destroy();
  });

  it('plans the same peak as a device pass, and counts the same dispatches', async () => {
    const model = createWebGpuModel(await sharedDevice(), checkpoint);
    const planned = planningModel(checkpoint.config);
    await forward(model, sequences);
    await forward(planned, sequences);
    const device = { ...memoryStats(model), ...model.launcher.passStats() };
    const plan = { ...memoryStats(planned), ...planned.launcher.passStats() };
    destroyModel(model);
    expect(plan.dispatches).toBe(device.dispatches);
    expect(plan.peakBytes - plan.weightBytes).toBe(device.peakBytes - device.weightBytes);
    expect(plan.encodeMs).toBe(0); // nothing is encoded when planning
  });

  it('after a change of shape keeps only the new shape’s buffers, and a pass back to the old shape is right', async () => {
    const model = createWebGpuModel(await sharedDevice(), checkpoint);
    const short = [[250, 7, 251]];
    const first = await forward(model, sequences);
    const reservedLong = memoryStats(model).reservedBytes;
    await forward(model, short);
    const reservedShort = memoryStats(model).reservedBytes;
    const again = await forward(model, sequences);
    expect(reservedShort).toBeLessThan(reservedLong); // the long shape's activations went
    expect(again.lastHiddenState).toEqual(first.lastHiddenState);
    model.pool.trim();
    const uniformsOnly = memoryStats(model).reservedBytes;
    expect(uniformsOnly).toBeLessThan(reservedShort);
    expect(memoryStats(model).liveBytes).toBe(memoryStats(model).weightBytes);
    destroyModel(model);
  });
});

describe('buffer pool', () => {
  it('replays the last pass’s buffers in request order, and drops what a pass did not use', () => {
    const pool = new BufferPool(null);
    const pass = () => {
      const a = pool.storage(64, 'a');
      const b = pool.storage(64, 'b');
      pool.release(a);
      const c = pool.storage(64, 'c'); // takes a's buffer
      pool.release(b);
      pool.release(c);
      pool.endPass();
      return [a, b, c];
    };
    const first = pass();
    expect(first[2]).toBe(first[0]);
    expect(pool.stats()).toMatchObject({ liveBytes: 0, peakBytes: 128, reservedBytes: 128 });
    const second = pass();
    expect(second).toEqual(first);
    const other = pool.storage(32, 'other shape');
    expect(pool.stats().reservedBytes).toBe(0); // a miss drops the kept buffers this pass has not taken
    pool.release(other);
    pool.endPass();
    expect(pool.stats()).toMatchObject({ liveBytes: 0, reservedBytes: 32 });
    pool.trim();
    expect(pool.stats().reservedBytes).toBe(0);
  });
});

describe('launcher', () => {
  it('gives each of 300 dispatches of one pass its own uniform slot (two ring buffers), written once', async () => {
    const ctx = await sharedDevice();
    const l = new Launcher(ctx, new BufferPool(ctx.device));
    // x = [0, 2]: mean 1, variance 1, so y = [-1, 1] / sqrt(1 + eps); eps = i tells the dispatches apart.
    const x = l.upload(Float32Array.of(0, 2), 'x');
    const weight = l.upload(Float32Array.of(1, 1), 'weight');
    const n = 300;
    const ys = Array.from({ length: n }, (_, i) => {
      const y = l.pool.storage(8, `y${i}`);
      layernorm.run(l, { x, weight, bias: null, y, rows: 1, C: 2, eps: i });
      return y;
    });
    // Count the queue's writes from here on: the ring's two buffers, each written once, at submit.
    const queue = ctx.device.queue;
    const writeBuffer = queue.writeBuffer.bind(queue);
    const writes: { buffer: GPUBuffer; bytes: number }[] = [];
    queue.writeBuffer = (buffer: GPUBuffer, offset: number, data: BufferSource | SharedArrayBuffer, dataOffset?: number, size?: number) => {
      writes.push({ buffer, bytes: size ?? data.byteLength });
      return writeBuffer(buffer, offset, data, dataOffset, size);
    };
    let out: Float32Array[];
    try {
      out = await l.finish(ys.map((buffer) => ({ buffer, floats: 2 })));
    } finally {
      queue.writeBuffer = writeBuffer;
    }
    out.forEach((y, i) => expect(y[1]).toBeCloseTo(1 / Math.sqrt(1 + i), 5));
    expect(l.passStats().dispatches).toBe(n);
    expect(writes).toHaveLength(2);
    expect(new Set(writes.map((w) => w.buffer)).size).toBe(2);
    const stride = Math.max(256, ctx.device.limits.minUniformBufferOffsetAlignment); // as the launcher spaces its slots
    expect(writes.map((w) => w.bytes)).toEqual([256 * stride, (n - 256) * stride]); // every slot written, in two writes
    l.pool.destroyAll();
  });

  it('profiles a pass with timestamps, or with wall time per dispatch, one record per dispatch', async () => {
    const ctx = await sharedDevice();
    const model = createWebGpuModel(ctx, checkpoint);
    const plain = await forward(model, sequences);
    const dispatches = model.launcher.passStats().dispatches;
    expect(model.launcher.profile()).toEqual([]);
    for (const timer of ['timestamp', 'wall'] as const) {
      if (timer === 'timestamp' && !ctx.features.timestampQuery) continue;
      model.launcher.setProfiling(timer);
      const profiled = await forward(model, sequences);
      const records = model.launcher.profile();
      expect(profiled.lastHiddenState).toEqual(plain.lastHiddenState);
      expect(records).toHaveLength(dispatches);
      for (const r of records) {
        expect(r.timer).toBe(timer);
        expect(r.ns).toBeGreaterThanOrEqual(0);
        expect(r.workgroups).toHaveLength(3);
      }
      expect(records.filter((r) => r.kernel.startsWith('layernorm')).every((r) => r.work !== null && r.work.flops > 0)).toBe(true);
      expect(records.reduce((a, r) => a + r.ns, 0)).toBeGreaterThan(0);
    }
    model.launcher.setProfiling(null);
    await forward(model, sequences);
    expect(model.launcher.profile()).toEqual([]);
    expect(() => planningModel(checkpoint.config).launcher.setProfiling('wall')).toThrow(/no device/);
    destroyModel(model);
  });
});
