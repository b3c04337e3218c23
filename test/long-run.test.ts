// Long runs (issue 14, item 2): 1000 forward passes of varying shapes on webgpu (SwiftShader, the tiny golden
// model) and 200 on gpu.js; 50 models made, run and destroyed. After each pass the live bytes are the
// weights' again, each output equals the first pass of its shape bit for bit, and the process's resident
// memory stays within GROWTH_BOUND of what it was once warm.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../reference/files.ts';
import { fp32 } from '../reference/ops.ts';
import { sharedDevice } from '../optimized/webgpu/device.ts';
import { createWebGpuModel, destroyModel, forward, memoryStats } from '../optimized/webgpu/modernbert.ts';
import * as gpujs from '../optimized/gpujs/modernbert.ts';
import { GOLDEN } from './helpers.ts';

/** Resident memory may grow this much after warm-up (V8's heap and Dawn's allocators settle in steps). */
const GROWTH_BOUND = 64 * 2 ** 20;

const checkpoint = loadCheckpoint(join(GOLDEN, 'tiny'), fp32);
const V = checkpoint.config.vocabSize;
// Five shapes: one token, several sequences, a 32-token one (a full key tile), and four equal ones.
const SHAPES = [[1], [3, 9], [17, 1, 4], [32], [2, 2, 2, 2]].map((lengths) => lengths.map((n, k) => Array.from({ length: n }, (_, i) => (i * 7 + k * 3 + 1) % V)));

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

type Run = (shape: number[][], mlm: boolean) => Promise<{ lastHiddenState: ArrayLike<number>; mlmLogits?: ArrayLike<number> }>;

/** `passes` passes cycling through the shapes (MLM logits on every other lap); returns what it saw. */
async function longRun(run: Run, passes: number, afterEach: () => void): Promise<{ mismatches: string[]; growth: number }> {
  const first = new Map<string, { lastHiddenState: ArrayLike<number>; mlmLogits?: ArrayLike<number> }>();
  const mismatches: string[] = [];
  let warm = 0;
  for (let pass = 0; pass < passes; pass++) {
    const s = pass % SHAPES.length;
    const mlm = Math.floor(pass / SHAPES.length) % 2 === 0;
    const out = await run(SHAPES[s], mlm);
    afterEach();
    const key = `${s}:${mlm}`;
    const want = first.get(key);
    if (!want) first.set(key, out);
    else if (!same(out.lastHiddenState, want.lastHiddenState) || (mlm && !same(out.mlmLogits!, want.mlmLogits!))) mismatches.push(`pass ${pass} (shape ${s})`);
    if (pass === Math.floor(passes / 10)) warm = process.memoryUsage().rss;
  }
  return { mismatches, growth: process.memoryUsage().rss - warm };
}

describe('long runs', () => {
  it('webgpu: 1000 passes of varying shapes return the live bytes to the weights, give the same outputs, and hold memory flat', async () => {
    const model = createWebGpuModel(await sharedDevice(), checkpoint);
    try {
      const weights = memoryStats(model).weightBytes;
      const after: { live: number; reserved: number; bindGroups: number }[] = [];
      const { mismatches, growth } = await longRun((shape, mlm) => forward(model, shape, { mlmLogits: mlm }), 1000, () =>
        after.push({ live: memoryStats(model).liveBytes, reserved: memoryStats(model).reservedBytes, bindGroups: model.launcher.passStats().bindGroupsCached }),
      );
      // What the pool keeps and the launcher caches may differ by shape, but never exceeds what the first two laps (every
      // shape, with and without MLM logits) needed: a leak of one buffer or bind group a pass would, whatever its size.
      const [laps, rest] = [after.slice(0, 2 * SHAPES.length), after.slice(2 * SHAPES.length)];
      const most = (list: typeof after, key: 'reserved' | 'bindGroups') => Math.max(...list.map((a) => a[key]));
      console.log(`webgpu: 1000 passes, resident memory grew ${(growth / 2 ** 20).toFixed(1)} MiB after warm-up; pool holds at most ${most(rest, 'reserved')} bytes besides the weights (${most(laps, 'reserved')} in the first laps), the launcher at most ${most(rest, 'bindGroups')} bind groups (${most(laps, 'bindGroups')})`);
      expect(mismatches).toEqual([]);
      expect(after.every((a) => a.live === weights)).toBe(true);
      expect(most(rest, 'reserved')).toBeLessThanOrEqual(most(laps, 'reserved'));
      expect(most(rest, 'bindGroups')).toBeLessThanOrEqual(most(laps, 'bindGroups'));
      expect(most(laps, 'bindGroups')).toBeGreaterThan(0);
      expect(growth).toBeLessThan(GROWTH_BOUND);
    } finally {
      destroyModel(model);
    }
  }, 600_000);

  it('gpu.js: 200 passes give the same outputs and hold memory flat', async () => {
    const model = await gpujs.createGpuJsModel(checkpoint, 'webasm');
    try {
      const { mismatches, growth } = await longRun((shape, mlm) => gpujs.forward(model, shape, { mlmLogits: mlm }), 200, () => {});
      console.log(`gpu.js (${model.mode}): 200 passes, resident memory grew ${(growth / 2 ** 20).toFixed(1)} MiB after warm-up`);
      expect(mismatches).toEqual([]);
      expect(growth).toBeLessThan(GROWTH_BOUND);
    } finally {
      await gpujs.destroyModel(model);
    }
  }, 300_000);

  it('webgpu: 50 models made, run and destroyed give the same output and hold memory flat', async () => {
    const ctx = await sharedDevice();
    let first: Float32Array | null = null;
    let warm = 0;
    for (let i = 0; i < 50; i++) {
      const model = createWebGpuModel(ctx, checkpoint);
      const out = (await forward(model, SHAPES[2])).lastHiddenState as Float32Array;
      destroyModel(model);
      expect(memoryStats(model).liveBytes).toBe(0);
      first ??= out;
      expect(same(out, first), `model ${i}`).toBe(true);
      if (i === 5) warm = process.memoryUsage().rss;
    }
    const growth = process.memoryUsage().rss - warm;
    console.log(`webgpu: 50 models, resident memory grew ${(growth / 2 ** 20).toFixed(1)} MiB after warm-up`);
    expect(growth).toBeLessThan(GROWTH_BOUND);
  }, 300_000);
});
