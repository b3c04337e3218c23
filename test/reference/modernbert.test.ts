import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../reference/config.ts';
import { type ModernBertModel, forward, forwardAsync, randomModel } from '../../reference/modernbert.ts';
import { fp32, fp64 } from '../../reference/ops.ts';
import { toInt32 } from '../../reference/safetensors.ts';
import { repad } from '../../reference/unpad.ts';
import { runParity } from '../../evals/parity.ts';
import { GOLDEN, GOLDEN_CASES, goldenOutputs } from '../helpers.ts';
import { loadCheckpoint, readSafetensors } from '../../reference/files.ts';

describe('golden parity (HF transformers semantics)', () => {
  for (const name of GOLDEN_CASES) {
    it(`${name}: fp32 within 1e-4 (2e-4 on MLM logits) on every output`, async () => {
      const result = await runParity(join(GOLDEN, name), 'reference', 'fp32');
      expect(Object.keys(result.max_abs_err).sort()).toEqual(goldenOutputs(name));
      expect(result.pass, JSON.stringify(result)).toBe(true);
    });

    it(`${name}: fp64 within 1e-9 of the float64 golden tensors`, async () => {
      const result = await runParity(join(GOLDEN, name), 'reference', 'fp64');
      expect(Object.keys(result.max_abs_err)).toContain('last_hidden_state_f64');
      expect(Object.keys(result.max_abs_err)).toContain('mean_logits_f64');
      if (name !== 'rope') expect(Object.keys(result.max_abs_err)).toContain('mlm_logits_f64');
      expect(result.pass, JSON.stringify(result)).toBe(true);
    });
  }
});

function golden(name: string, precision = fp32): { model: ModernBertModel; ids: Int32Array; mask: Int32Array; B: number; L: number } {
  const { config, weights } = loadCheckpoint(join(GOLDEN, name), precision);
  const io = readSafetensors(join(GOLDEN, name, 'io.safetensors')).tensors;
  const [B, L] = io.get('input_ids')!.shape;
  return { model: { config, weights, precision }, ids: toInt32(io.get('input_ids')!), mask: toInt32(io.get('attention_mask')!), B, L };
}

describe('the forward pass', () => {
  it('gives the same result for a padded batch and the same sequences unpadded', () => {
    const { model, ids, mask, B, L } = golden('window');
    const padded = forward(model, { inputIds: ids, attentionMask: mask, batchSize: B, seqLen: L });
    const sequences = [...Array(B)].map((_, b) => ids.subarray(b * L, b * L + mask.subarray(b * L, (b + 1) * L).reduce((s, m) => s + m, 0)));
    const unpadded = forward(model, sequences);
    expect(unpadded.lastHiddenState).toEqual(padded.lastHiddenState);
    // Repadded output has zeros at the padding, like HF's unpadded (flash-attention) path.
    const C = model.config.hiddenSize;
    const out = repad(fp32, padded.lastHiddenState, padded.batch, C);
    expect(out.length).toBe(B * L * C);
    expect(out.subarray((1 * L + 9) * C, (1 * L + 10) * C).every((v) => v === 0)).toBe(true);
  });

  it('computes each sequence independently of the others in its batch', () => {
    const { model } = golden('tiny');
    const a = [1, 10, 20, 30, 2];
    const alone = forward(model, [a]).lastHiddenState;
    const together = forward(model, [[1, 5, 2], a, [1, 2]]).lastHiddenState;
    const C = model.config.hiddenSize;
    expect(together.subarray(3 * C, 8 * C)).toEqual(alone);
  });

  it('returns hidden states for the embeddings and every layer, before the final norm', () => {
    const { model } = golden('tiny', fp64);
    const out = forward(model, [[1, 4, 5, 2]], { hiddenStates: true });
    expect(out.hiddenStates).toHaveLength(model.config.numHiddenLayers + 1);
    expect(out.hiddenStates![3]).not.toEqual(out.lastHiddenState);
  });

  it('returns pooled embeddings and logits for both poolings', () => {
    const { model } = golden('meanpool');
    const out = forward(model, [[100, 7, 101], [100, 101]], { pooling: ['cls', 'mean'], mlmLogits: true });
    const C = model.config.hiddenSize;
    expect(out.pooled!.cls!.subarray(0, C)).toEqual(out.lastHiddenState.subarray(0, C));
    const mean = (c: number) => Math.fround(Math.fround(Math.fround(out.lastHiddenState[3 * C + c]) + out.lastHiddenState[4 * C + c]) / 2);
    expect(out.pooled!.mean![C + 5]).toBe(mean(5));
    expect(out.classifierLogits!.mean).toHaveLength(2 * 3);
    expect(out.mlmLogits).toHaveLength(5 * model.config.vocabSize);
  });

  it('runs any config from seeded random weights', () => {
    const config = parseConfig({ vocab_size: 300, hidden_size: 24, num_attention_heads: 3, intermediate_size: 40, num_hidden_layers: 4, local_attention: 4 });
    const a = forward(randomModel(config, fp32, 3), [[5, 6, 7, 8, 9, 10]]).lastHiddenState;
    expect(a).toEqual(forward(randomModel(config, fp32, 3), [[5, 6, 7, 8, 9, 10]]).lastHiddenState);
    expect(a.every(Number.isFinite)).toBe(true);
  });
});

describe('bad batches get clear errors', () => {
  const { model } = golden('tiny');

  it('a token id beyond the vocabulary', () => {
    expect(() => forward(model, [[1, 2], [1, 128, 2]])).toThrow(/token id 128 at sequence 1, position 1 is out of range: vocab_size is 128/);
  });

  it('an empty batch and a zero-length sequence', () => {
    expect(() => forward(model, [])).toThrow(/empty batch/);
    expect(() => forward(model, [[1], []])).toThrow(/sequence 1 has no tokens/);
  });

  it('a mask that is not 0/1 or not right-padded', () => {
    expect(() => forward(model, { inputIds: [1, 2, 3], attentionMask: [1, 1, 3], batchSize: 1, seqLen: 3 })).toThrow(/must be 0 or 1/);
    expect(() => forward(model, { inputIds: [1, 2, 3], attentionMask: [0, 1, 1], batchSize: 1, seqLen: 3 })).toThrow(/not right-padded/);
  });

  it('a sequence longer than max_position_embeddings, unless allowed', () => {
    const long = Array.from({ length: 513 }, (_, i) => 4 + (i % 100));
    expect(() => forward(model, [long])).toThrow(/sequence 0 has 513 tokens, more than max_position_embeddings \(512\)/);
    expect(forward(model, [long], { allowLongSequences: true }).lastHiddenState).toHaveLength(513 * 32);
  });
});

describe('forwardAsync', () => {
  it('gives the event loop turns during a long pass and returns exactly what forward returns', async () => {
    const model = randomModel(parseConfig({ vocab_size: 300, hidden_size: 32, num_attention_heads: 2, intermediate_size: 48, num_hidden_layers: 3, local_attention: 16, max_position_embeddings: 4096 }), fp64, 3);
    const ids = [Array.from({ length: 1500 }, (_, i) => 4 + ((i * 7) % 90))];
    const options = { hiddenStates: true, mlmLogits: true, pooling: ['mean' as const] };
    let turns = 0;
    let running = true;
    const count = () => {
      turns++;
      if (running) setTimeout(count, 0);
    };
    setTimeout(count, 0);
    const started = performance.now();
    const got = await forwardAsync(model, ids, options);
    const elapsed = performance.now() - started;
    running = false;
    // A timer waits for the event loop: with no turn in between it would fire once, after the pass.
    expect(turns, `${turns} timer callbacks in ${elapsed.toFixed(0)} ms`).toBeGreaterThanOrEqual(Math.min(5, Math.floor(elapsed / 100)));
    expect(elapsed).toBeGreaterThan(200); // long enough for the count to mean something
    const want = forward(model, ids, options);
    expect(got.lastHiddenState).toEqual(want.lastHiddenState);
    expect(got.hiddenStates).toEqual(want.hiddenStates);
    expect(got.mlmLogits).toEqual(want.mlmLogits);
    expect(got.classifierLogits).toEqual(want.classifierLogits);
  });

  it('rejects a bad batch as forward throws', async () => {
    const model = randomModel(parseConfig({ vocab_size: 300, hidden_size: 24, num_attention_heads: 3, intermediate_size: 40, num_hidden_layers: 2 }), fp32, 0);
    await expect(forwardAsync(model, [[1, 999_999]])).rejects.toThrow(/token id 999999 at sequence 0, position 1 is out of range/);
  });
});
