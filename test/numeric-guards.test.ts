// Numeric guards (issue 14, item 5): the first NaN or infinity of a pass is named (output, sequence, token,
// feature) by loadModel's checkFinite and by parity; padded batches whose longest item is a multiple of 32,
// 1-token sequences and f16 storage give finite outputs, the same as unpadded execution and the reference's.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runParity } from '../evals/parity.ts';
import { NumericError, assertFinite, firstNonFinite } from '../reference/finite.ts';
import { loadCheckpoint, readSafetensors, writeSafetensors } from '../reference/files.ts';
import { type ForwardOutput, forward as referenceForward } from '../reference/modernbert.ts';
import { fp32 } from '../reference/ops.ts';
import { pack } from '../reference/unpad.ts';
import { sharedDevice } from '../optimized/webgpu/device.ts';
import { createWebGpuModel, destroyModel, forward } from '../optimized/webgpu/modernbert.ts';
import { loadModel } from '../tasks/index.ts';
import { GOLDEN, copyOfCase } from './helpers.ts';

describe('numeric guards', () => {
  it('names the first non-finite value by output, sequence, token and feature', () => {
    const batch = pack([[1, 2, 3], [4, 5]]);
    const out: ForwardOutput = { batch, lastHiddenState: new Float32Array(5 * 4), pooled: { mean: new Float32Array(2 * 4) } };
    expect(firstNonFinite(out)).toBeNull();
    out.pooled!.mean![6] = -Infinity;
    expect(firstNonFinite(out)).toBe('pooled.mean[sequence 1, feature 2] = -Infinity');
    out.lastHiddenState[4 * 4 + 1] = NaN; // token 1 of sequence 1
    expect(firstNonFinite(out)).toBe('lastHiddenState[sequence 1, token 1, feature 1] = NaN');
    expect(() => assertFinite(out, 'test')).toThrow(new NumericError('test: lastHiddenState[sequence 1, token 1, feature 1] = NaN'));
  });

  it('checkFinite turns a NaN weight into a NumericError naming where it shows first; without it, the NaN comes back', async () => {
    const checkpoint = loadCheckpoint(join(GOLDEN, 'tiny'), fp32);
    const finalNorm = checkpoint.weights.finalNorm;
    const broken = { ...checkpoint.weights, finalNorm: { ...finalNorm, weight: Float32Array.from(finalNorm.weight, (v, i) => (i === 3 ? NaN : v)) } };
    for (const backend of ['reference', 'webgpu'] as const) {
      const guarded = await loadModel({ config: checkpoint.config, weights: broken }, { backend, checkFinite: true });
      await expect(guarded.forward([[1, 5, 6, 2]])).rejects.toThrow(new NumericError(`the ${backend} backend's output: lastHiddenState[sequence 0, token 0, feature 3] = NaN`));
      guarded.dispose();
      const plain = await loadModel({ config: checkpoint.config, weights: broken }, { backend });
      expect((await plain.forward([[1, 5, 6, 2]])).lastHiddenState[3]).toBeNaN();
      plain.dispose();
    }
  });

  it('parity fails a case whose output holds a NaN, and names it', async () => {
    const dir = copyOfCase('tiny');
    const file = join(dir, 'model.safetensors');
    const { tensors } = readSafetensors(file);
    const norm = tensors.get('model.final_norm.weight')!;
    (norm.data as Float32Array)[2] = NaN;
    writeSafetensors(file, tensors);
    const result = await runParity(dir, 'reference', 'fp32');
    expect(result.pass).toBe(false);
    expect(result.non_finite).toBe('lastHiddenState[sequence 0, token 0, feature 2] = NaN');
  });

  it('padded batches whose longest item is a multiple of 32, and 1-token sequences, give finite outputs: unpadded and padded equal to each other and to the reference (f32 and f16)', async () => {
    const checkpoint = loadCheckpoint(join(GOLDEN, 'window'), fp32);
    const sequences = [Array.from({ length: 64 }, (_, i) => 20 + i), [250], [250, 7, 251], [9]];
    const options = { mlmLogits: true, pooling: ['cls', 'mean'] as ('cls' | 'mean')[] };
    const reference = await referenceForward({ ...checkpoint, precision: fp32 }, sequences, options);
    expect(firstNonFinite(reference)).toBeNull();
    const outputs = (o: ForwardOutput) => ({ lastHiddenState: o.lastHiddenState, 'pooled.cls': o.pooled?.cls, 'pooled.mean': o.pooled?.mean, mlmLogits: o.mlmLogits });
    const maxDiff = (a: ArrayLike<number> | undefined, b: ArrayLike<number> | undefined) => {
      expect(a?.length).toBe(b?.length);
      let max = 0;
      for (let i = 0; i < a!.length; i++) max = Math.max(max, Math.abs(a![i] - b![i]));
      return max;
    };
    // Against the fp32 reference: in f32 the golden tolerances (1e-4, MLM logits 2e-4); with f16 storage about 4x
    // the errors measured on SwiftShader (9.6e-3, 3.8e-3, 1.9e-3, 2.5e-2). Padded against unpadded: 1e-5 and 1e-2.
    const tolerance = { f32: { lastHiddenState: 1e-4, 'pooled.cls': 1e-4, 'pooled.mean': 1e-4, mlmLogits: 2e-4 }, f16: { lastHiddenState: 4e-2, 'pooled.cls': 2e-2, 'pooled.mean': 1e-2, mlmLogits: 1e-1 } };
    const paddedTolerance = { f32: 1e-5, f16: 1e-2 };
    for (const dtype of ['f32', 'f16'] as const) {
      const model = createWebGpuModel(await sharedDevice(), checkpoint, dtype);
      try {
        const unpadded = await forward(model, sequences, options);
        const padded = await forward(model, sequences, { ...options, padded: true });
        expect(firstNonFinite(unpadded)).toBeNull();
        expect(firstNonFinite(padded)).toBeNull();
        const want = outputs(reference);
        for (const [name, got] of Object.entries(outputs(unpadded))) {
          const key = name as keyof typeof want;
          const [unpaddedError, paddedError, apart] = [maxDiff(got, want[key]), maxDiff(outputs(padded)[key], want[key]), maxDiff(outputs(padded)[key], got)];
          console.log(`${dtype} ${name}: max error unpadded ${unpaddedError.toExponential(2)}, padded ${paddedError.toExponential(2)}; padded - unpadded ${apart.toExponential(2)}`);
          expect(unpaddedError, `${dtype} ${name} unpadded`).toBeLessThanOrEqual(tolerance[dtype][key]);
          expect(paddedError, `${dtype} ${name} padded`).toBeLessThanOrEqual(tolerance[dtype][key]);
          expect(apart, `${dtype} ${name} padded - unpadded`).toBeLessThanOrEqual(paddedTolerance[dtype]);
        }
      } finally {
        destroyModel(model);
      }
    }
  });
});
