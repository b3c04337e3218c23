// The whole WebGPU engine against the golden cases, and its memory accounting.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runParity } from '../../evals/parity.ts';
import { FP32_TOLERANCE } from '../../evals/parity-check.ts';
import { fp32 } from '../../reference/ops.ts';
import { acquireDevice, sharedDevice } from '../../optimized/webgpu/device.ts';
import { createWebGpuModel, destroyModel, forward, memoryStats } from '../../optimized/webgpu/modernbert.ts';
import { GOLDEN, GOLDEN_CASES, goldenOutputs } from '../helpers.ts';
import './harness.ts';
import { loadCheckpoint } from '../../reference/files.ts';
import * as gemm from '../../optimized/webgpu/kernels/gemm.ts';

describe('webgpu golden parity', () => {
  for (const name of GOLDEN_CASES) {
    it(`${name}: every output within the fp32 tolerances`, async () => {
      const result = await runParity(join(GOLDEN, name), 'webgpu', 'fp32');
      expect(Object.keys(result.max_abs_err).sort()).toEqual(goldenOutputs(name));
      expect(result.pass, JSON.stringify(result)).toBe(true);
    });
  }

  it('rejects fp64, which the engine does not compute', async () => {
    await expect(runParity(join(GOLDEN, 'tiny'), 'webgpu', 'fp64')).rejects.toThrow(/fp32 only/);
  });
});

describe('webgpu golden parity, f16 storage', () => {
  for (const name of GOLDEN_CASES) {
    it(`${name}: every output within the f16 tolerances (F16_FACTOR x the f16-weights reference error + the fp32 tolerance)`, async () => {
      const result = await runParity(join(GOLDEN, name), 'webgpu', 'fp32', 'f16');
      expect(result.dtype).toBe('f16');
      expect(result.pass, JSON.stringify(result)).toBe(true);
      for (const [output, tolerance] of Object.entries(result.tolerance)) {
        // The tolerance is made for the case: above the fp32 one, by the measured cost of f16 weights.
        expect(tolerance, output).toBeGreaterThan(FP32_TOLERANCE[output]);
        // f16 storage is lossy: more error than fp32's tolerance allows, so the f16 path (not the f32 one) ran.
        expect(result.max_abs_err[output], output).toBeGreaterThan(FP32_TOLERANCE[output]);
      }
    });
  }

  it('is refused on backends that store f32 only, and with fp64', async () => {
    await expect(runParity(join(GOLDEN, 'tiny'), 'reference', 'fp32', 'f16')).rejects.toThrow(/--dtype f16: the reference backend stores f32 only/);
    await expect(runParity(join(GOLDEN, 'tiny'), 'gpujs:cpu', 'fp32', 'f16')).rejects.toThrow(/--dtype f16: the gpujs backend stores f32 only/);
    await expect(runParity(join(GOLDEN, 'tiny'), 'webgpu', 'fp64', 'f16')).rejects.toThrow(/--dtype f16 computes in fp32/);
  });
});

// Every GEMM and every attention of the model on subgroup matrices: their matrix operations emulated in plain
// WGSL where the device has none (SwiftShader here: the JSON line says so), natively where it has them.
describe('webgpu golden parity, f16 storage, --gemm sgmat --attention flash_sgmat', () => {
  for (const name of GOLDEN_CASES) {
    it(`${name}: every output within the f16 tolerances, every GEMM and attention on subgroup matrices`, async () => {
      const ctx = await sharedDevice();
      const result = await runParity(join(GOLDEN, name), 'webgpu', 'fp32', 'f16', { gemm: 'sgmat', attention: 'flash_sgmat' });
      expect(result).toMatchObject({ gemm: 'sgmat', attention: 'flash_sgmat', emulated: ctx.subgroupMatrix === null, dtype: 'f16' });
      expect(result.pass, JSON.stringify(result)).toBe(true);
    });
  }

  it('runs the subgroup-matrix kernels for every GEMM and attention of the pass (the default ones without the choice); refuses them with f32 storage', async () => {
    const ctx = await sharedDevice();
    const checkpoint = loadCheckpoint(join(GOLDEN, 'window'), fp32);
    const kernelsOfPass = async (model: ReturnType<typeof createWebGpuModel>) => {
      model.launcher.setProfiling('wall');
      await forward(model, [[1, 5, 9, 2]], { mlmLogits: true });
      destroyModel(model);
      const names = model.launcher.profile().map((d) => d.kernel);
      return { gemms: names.filter((k) => k.startsWith('gemm_')), attentions: names.filter((k) => k.startsWith('flash_')) };
    };
    const emulated = ctx.subgroupMatrix ? '' : '_emulated';
    const forced = await kernelsOfPass(createWebGpuModel(ctx, checkpoint, 'f16', null, { gemm: 'sgmat', attention: 'flash_sgmat' }));
    // per layer Wqkv, Wo, Wi and the MLP's Wo; the head's dense and the decoder
    expect(forced.gemms).toHaveLength(4 * checkpoint.config.numHiddenLayers + 2);
    for (const k of forced.gemms) expect(k).toMatch(new RegExp(`^gemm_sgmat${emulated}_x`));
    expect(forced.attentions).toHaveLength(checkpoint.config.numHiddenLayers);
    for (const k of forced.attentions) expect(k).toMatch(new RegExp(`^flash_attention_sgmat${emulated}_d16_f16_`));
    const defaults = await kernelsOfPass(createWebGpuModel(ctx, checkpoint, 'f16'));
    for (const k of defaults.gemms) expect(k).toMatch(/^gemm_v4_/);
    for (const k of defaults.attentions) expect(k).toMatch(/^flash_attention_v2_/);
    expect(() => createWebGpuModel(ctx, checkpoint, 'f32', null, { gemm: 'sgmat' })).toThrow('gemm sgmat multiplies halves (f16 x f16 -> f32): it needs dtype f16');
    expect(() => createWebGpuModel(ctx, checkpoint, 'f32', null, { attention: 'flash_sgmat' })).toThrow('attention flash_sgmat multiplies halves (f16 x f16 -> f32): it needs dtype f16');
    await expect(runParity(join(GOLDEN, 'tiny'), 'webgpu', 'fp32', 'f32', { gemm: 'sgmat' })).rejects.toThrow('--gemm sgmat multiplies halves (f16 x f16 -> f32): it needs --dtype f16');
    await expect(runParity(join(GOLDEN, 'tiny'), 'reference', 'fp32', undefined, { gemm: 'v4' })).rejects.toThrow('--gemm chooses a kernel of the webgpu backend: it does not apply to reference');
    await expect(runParity(join(GOLDEN, 'tiny'), 'webgpu', 'fp32', undefined, { gemm: 'v9' as 'v4' })).rejects.toThrow('--gemm must be one of v2, v3, v4, sgmat, got "v9"');
    await expect(runParity(join(GOLDEN, 'tiny'), 'webgpu', 'fp32', undefined, { attention: 'flash_v9' as 'flash_v2' })).rejects.toThrow('--attention must be one of flash_v2, flash_sgmat, got "flash_v9"');
  });
});

describe('webgpu engine', () => {
  const checkpoint = loadCheckpoint(join(GOLDEN, 'window'), fp32);

  it('gives the same result with materialized attention, padded input and unpadded input', async () => {
    const model = createWebGpuModel(await sharedDevice(), checkpoint);
    const sequences = [[250, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 251], [250, 99, 251]];
    const flash = await forward(model, sequences);
    const materialized = await forward(model, sequences, { attention: 'materialized' });
    const L = 12;
    const ids = sequences.flatMap((s) => [...s, ...new Array(L - s.length).fill(252)]);
    const mask = sequences.flatMap((s) => [...new Array(s.length).fill(1), ...new Array(L - s.length).fill(0)]);
    const padded = await forward(model, { inputIds: ids, attentionMask: mask, batchSize: 2, seqLen: L });
    destroyModel(model);
    expect(padded.lastHiddenState).toEqual(flash.lastHiddenState);
    const maxDiff = Math.max(...flash.lastHiddenState.map((v, i) => Math.abs(v - materialized.lastHiddenState[i])));
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it('padded execution (the pads computed) agrees with unpadded execution on every real token and output', async () => {
    const model = createWebGpuModel(await sharedDevice(), checkpoint);
    // Window +-4 on local layers: the pads of the 3-token sequence past position 6 see no real key there.
    const sequences = [Array.from({ length: 30 }, (_, i) => 20 + i), [250, 99, 251], [250, 7, 8, 9, 10, 11, 12, 251]];
    const options = { mlmLogits: true, pooling: ['cls', 'mean'] as ('cls' | 'mean')[], hiddenStates: true };
    const unpadded = await forward(model, sequences, options);
    const padded = await forward(model, sequences, { ...options, padded: true });
    const stats = memoryStats(model);
    destroyModel(model);
    const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      expect(a.length).toBe(b.length);
      let max = 0;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
      return max;
    };
    const diffs = {
      last_hidden_state: diff(padded.lastHiddenState, unpadded.lastHiddenState),
      hidden_states: Math.max(...padded.hiddenStates!.map((h, i) => diff(h, unpadded.hiddenStates![i]))),
      mlm_logits: diff(padded.mlmLogits!, unpadded.mlmLogits!),
      cls_logits: diff(padded.classifierLogits!.cls!, unpadded.classifierLogits!.cls!),
      mean_logits: diff(padded.classifierLogits!.mean!, unpadded.classifierLogits!.mean!),
    };
    process.stdout.write(`padded vs unpadded max abs diff: ${JSON.stringify(diffs)}\n`);
    for (const d of Object.values(diffs)) expect(d).toBeLessThanOrEqual(1e-5);
    expect(padded.batch.totalTokens).toBe(41);
    expect(stats.peakBytes).toBeGreaterThan(0);
  });

  it('keeps weights resident and returns live bytes to the weights after every pass', async () => {
    const model = createWebGpuModel(await sharedDevice(), checkpoint);
    const weights = memoryStats(model).weightBytes;
    expect(weights).toBeGreaterThan(0);
    expect(memoryStats(model).liveBytes).toBe(weights);
    for (let pass = 0; pass < 6; pass++) {
      await forward(model, [[250, 1, 2, 3, 251], new Array(40).fill(7)], { mlmLogits: pass % 2 === 0, pooling: ['mean'], hiddenStates: pass === 3 });
      const stats = memoryStats(model);
      expect(stats.liveBytes).toBe(weights);
      expect(stats.weightBytes).toBe(weights);
      expect(stats.peakBytes).toBeGreaterThan(weights);
    }
    destroyModel(model);
    expect(memoryStats(model).liveBytes).toBe(0);
  });

  it('runs the GEMM tiles tuned to split K (every GEMM of the model), with the default tiles\' result; a steady pass allocates nothing', async () => {
    const ctx = await acquireDevice();
    const { hiddenSize: C, intermediateSize: I, vocabSize: V, numLabels } = checkpoint.config;
    // A tuning entry for every N, K and epilogue the model may run, each split in up to 4 slices of K.
    const tile: gemm.GemmTile = { ...gemm.SMALL_TILE, splitK: 4 };
    const epilogues = ['none', 'residual', 'activation', 'glu'] as const;
    const choices = [3 * C, C, I, V, numLabels].flatMap((N) => [C, I].flatMap((K) => epilogues.map((epilogue) => ({ M: 64, N, K, epilogue, dtypes: 'f32.f32.f32', tile, ms: 0, defaultMs: 0 }))));
    const sequences = [[250, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 251], [250, 99, 251]];
    const options = { mlmLogits: true, pooling: ['cls' as const], hiddenStates: true };
    const defaults = createWebGpuModel(await sharedDevice(), checkpoint);
    const expected = await forward(defaults, sequences, options);
    destroyModel(defaults);
    const model = createWebGpuModel(ctx, checkpoint, 'f32', { adapter: 'test', date: '', gemm: choices, attention: [] });
    const kernels: string[] = [];
    const dispatch = model.launcher.dispatch.bind(model.launcher);
    model.launcher.dispatch = (kernel, ...rest) => (kernels.push(kernel.name), dispatch(kernel, ...rest));
    const first = await forward(model, sequences, options);
    const second = await forward(model, sequences, options);
    expect(model.launcher.passStats().buffersCreated).toBe(0); // the workspaces come from the pool, like activations
    destroyModel(model);
    ctx.device.destroy();
    // Every tiled GEMM ran split: its slices' pass, then the reduction.
    const gemms = kernels.filter((k) => k.startsWith('gemm_v2'));
    expect(gemms.length).toBeGreaterThan(0);
    expect(kernels.filter((k) => k.startsWith('gemm_reduce'))).toHaveLength(gemms.length);
    expect(kernels.filter((k) => k.startsWith('gemm_') && !k.startsWith('gemm_v2') && !k.startsWith('gemm_reduce'))).toEqual([]);
    // The same sums, grouped by slice: the default tiles' result to 1e-5 of each output's largest value.
    const close = (got: ArrayLike<number>, want: ArrayLike<number>, what: string) => {
      let [diff, max] = [0, 1];
      for (let i = 0; i < want.length; i++) [diff, max] = [Math.max(diff, Math.abs(got[i] - want[i])), Math.max(max, Math.abs(want[i]))];
      expect(got.length, what).toBe(want.length);
      expect(diff, what).toBeLessThanOrEqual(1e-5 * max);
    };
    close(first.lastHiddenState, expected.lastHiddenState, 'last_hidden_state');
    first.hiddenStates!.forEach((h, i) => close(h, expected.hiddenStates![i], `hidden_states[${i}]`));
    close(first.mlmLogits!, expected.mlmLogits!, 'mlm_logits');
    close(first.classifierLogits!.cls!, expected.classifierLogits!.cls!, 'cls_logits');
    expect(second.lastHiddenState).toEqual(first.lastHiddenState);
  });

  it('turns a WebGPU error into an exception, and a lost device into an error on the next call', async () => {
    const ctx = await acquireDevice();
    const model = createWebGpuModel(ctx, checkpoint);
    await forward(model, [[250, 251]]);
    // A shader that does not compile is reported, not ignored.
    model.launcher.dispatch({ name: 'broken', source: 'this is not WGSL' }, {}, [], [], [1]);
    await expect(model.launcher.finish([])).rejects.toThrow(/WebGPU error: .*broken/);
    ctx.device.destroy();
    await ctx.device.lost;
    await expect(forward(model, [[250, 251]])).rejects.toThrow(/device was lost/);
  });
});
