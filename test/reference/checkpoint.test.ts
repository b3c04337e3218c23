import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, presetConfig } from '../../reference/config.ts';
import { expectedTensors, randomTensors, weightsFromTensors } from '../../reference/checkpoint.ts';
import { forward } from '../../reference/modernbert.ts';
import { fp32, fp64 } from '../../reference/ops.ts';
import { type Tensor, toBFloat16Bits, toFloat16Bits, toFloat32 } from '../../reference/safetensors.ts';
import { GOLDEN, copyOfCase, tempDir } from '../helpers.ts';
import { loadCheckpoint, loadConfig, readCheckpointTensors, readSafetensors, saveCheckpoint, writeSafetensors } from '../../reference/files.ts';

/** Rewrites a case's model.safetensors through an edit of its tensor map. */
function editWeights(dir: string, edit: (t: Map<string, Tensor>) => void): void {
  const file = join(dir, 'model.safetensors');
  const tensors = readSafetensors(file).tensors;
  edit(tensors);
  writeSafetensors(file, tensors);
}

describe('loading HF checkpoints', () => {
  it('loads a golden case with the tied decoder, the shared head and the classifier', () => {
    const { config, weights } = loadCheckpoint(join(GOLDEN, 'tiny'), fp32);
    expect(weights.layers).toHaveLength(config.numHiddenLayers);
    expect(weights.layers[0].attnNorm).toBeNull();
    expect(weights.layers[1].attnNorm).not.toBeNull();
    expect(weights.decoder!.weight).toBe(weights.tokEmbeddings);
    expect(weights.decoder!.bias).toHaveLength(config.vocabSize);
    expect(weights.classifier!.outFeatures).toBe(2);
  });

  it('loads the optional biases of the bias case, and no decoder bias when decoder_bias is off', () => {
    const { weights } = loadCheckpoint(join(GOLDEN, 'bias'), fp64);
    expect(weights.layers[1].wqkv.bias).not.toBeNull();
    expect(weights.layers[1].mlpWo.bias).not.toBeNull();
    expect(weights.finalNorm.bias).not.toBeNull();
    expect(weights.head!.dense.bias).not.toBeNull();
    expect(weights.decoder!.bias).toBeNull();
  });

  it('names a missing tensor', () => {
    const dir = copyOfCase('tiny');
    editWeights(dir, (t) => t.delete('model.layers.1.attn.Wo.weight'));
    expect(() => loadCheckpoint(dir, fp32)).toThrow(/missing tensors: model\.layers\.1\.attn\.Wo\.weight/);
  });

  it('names an unexpected tensor, such as an attention norm on layer 0', () => {
    const dir = copyOfCase('tiny');
    editWeights(dir, (t) => t.set('model.layers.0.attn_norm.weight', { dtype: 'F32', shape: [32], data: new Float32Array(32) }));
    expect(() => loadCheckpoint(dir, fp32)).toThrow(/unexpected tensors: model\.layers\.0\.attn_norm\.weight/);
    expect(() => loadCheckpoint(dir, fp32, { strict: false })).not.toThrow();
  });

  it('names a mis-shaped tensor with both shapes', () => {
    const dir = copyOfCase('tiny');
    editWeights(dir, (t) => {
      const w = t.get('model.layers.2.mlp.Wi.weight')!;
      t.set('model.layers.2.mlp.Wi.weight', { ...w, shape: [w.shape[1], w.shape[0]] });
    });
    expect(() => loadCheckpoint(dir, fp32)).toThrow(/mis-shaped tensors: model\.layers\.2\.mlp\.Wi\.weight \(expected \[96, 32\], got \[32, 96\]\)/);
  });

  it('rejects integer weights, naming the tensor', () => {
    const dir = copyOfCase('tiny');
    editWeights(dir, (t) => t.set('model.final_norm.weight', { dtype: 'I32', shape: [32], data: new Int32Array(32) }));
    expect(() => loadCheckpoint(dir, fp32)).toThrow(/model\.final_norm\.weight \(I32\)/);
  });

  it('wants a head whole: a partial head is missing tensors', () => {
    const dir = copyOfCase('tiny');
    editWeights(dir, (t) => t.delete('head.norm.weight'));
    expect(() => loadCheckpoint(dir, fp32)).toThrow(/missing tensors: head\.norm\.weight/);
  });

  it('loads a bare ModernBertModel checkpoint (no "model." prefix, no heads) and says so when a head is asked for', () => {
    const dir = copyOfCase('tiny');
    editWeights(dir, (t) => {
      for (const [name, tensor] of [...t]) {
        t.delete(name);
        if (name.startsWith('model.')) t.set(name.slice('model.'.length), tensor);
      }
    });
    const golden = loadCheckpoint(join(GOLDEN, 'tiny'), fp32);
    const bare = loadCheckpoint(dir, fp32);
    expect(bare.weights.head).toBeNull();
    expect(bare.weights.decoder).toBeNull();
    const input = [[1, 5, 9, 2]];
    expect(forward({ ...bare, precision: fp32 }, input).lastHiddenState).toEqual(forward({ ...golden, precision: fp32 }, input).lastHiddenState);
    expect(() => forward({ ...bare, precision: fp32 }, input, { mlmLogits: true })).toThrow(/no MLM head/);
    expect(() => forward({ ...bare, precision: fp32 }, input, { pooling: ['cls'] })).toThrow(/no classification head/);
  });

  it('loads a classification checkpoint that has no decoder bias; MLM is then unavailable', () => {
    const dir = copyOfCase('tiny');
    editWeights(dir, (t) => t.delete('decoder.bias'));
    const { config, weights } = loadCheckpoint(dir, fp32);
    expect(weights.decoder).toBeNull();
    expect(() => forward({ config, weights, precision: fp32 }, [[1, 2]], { mlmLogits: true })).toThrow(/no MLM head/);
    expect(forward({ config, weights, precision: fp32 }, [[1, 2]], { pooling: ['cls'] }).classifierLogits!.cls).toHaveLength(2);
  });

  it('uses decoder.weight when the decoder is not tied, and wants it then', () => {
    const dir = copyOfCase('tiny');
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), tie_word_embeddings: false }));
    expect(() => loadCheckpoint(dir, fp32)).toThrow(/missing tensors: decoder\.weight/);
    const decoder = Float32Array.from({ length: 128 * 32 }, (_, i) => Math.fround(Math.sin(i)));
    editWeights(dir, (t) => t.set('decoder.weight', { dtype: 'F32', shape: [128, 32], data: decoder }));
    const { weights } = loadCheckpoint(dir, fp32);
    expect(weights.decoder!.weight).toEqual(decoder);
    expect(weights.decoder!.weight).not.toBe(weights.tokEmbeddings);
  });

  it('loads a sharded checkpoint through model.safetensors.index.json', () => {
    const dir = copyOfCase('window');
    const tensors = readSafetensors(join(dir, 'model.safetensors')).tensors;
    rmSync(join(dir, 'model.safetensors'));
    const names = [...tensors.keys()];
    const shards = [names.slice(0, 20), names.slice(20)];
    const weightMap: Record<string, string> = {};
    shards.forEach((list, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, file), new Map(list.map((n) => [n, tensors.get(n)!])));
      for (const n of list) weightMap[n] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const sharded = loadCheckpoint(dir, fp32).weights;
    const single = loadCheckpoint(join(GOLDEN, 'window'), fp32).weights;
    expect(sharded).toEqual(single);

    // An index that disagrees with its shards is an error naming both.
    weightMap[names[0]] = 'model-00002-of-00002.safetensors';
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    expect(() => readCheckpointTensors(dir)).toThrow(/is listed in model\.safetensors\.index\.json but not in this shard/);
  });

  it('says what is missing when a folder has no weights', () => {
    const dir = tempDir();
    expect(() => readCheckpointTensors(dir)).toThrow(/no model\.safetensors and no model\.safetensors\.index\.json/);
  });

  it('converts fp16 and bf16 weights on load', () => {
    for (const [dtype, encode] of [['F16', toFloat16Bits], ['BF16', toBFloat16Bits]] as const) {
      const dir = copyOfCase('tiny');
      editWeights(dir, (t) => {
        for (const [name, tensor] of t) t.set(name, { dtype, shape: tensor.shape, data: encode(toFloat32(tensor)) });
      });
      const loaded = readCheckpointTensors(dir);
      const { config, weights } = loadCheckpoint(dir, fp32);
      expect(weights.tokEmbeddings).toEqual(toFloat32(loaded.get('model.embeddings.tok_embeddings.weight')!));
      const golden = loadCheckpoint(join(GOLDEN, 'tiny'), fp32).weights;
      // Rounding to 16 bits moves weights by at most half a unit in the last place.
      const relStep = dtype === 'F16' ? 2 ** -11 : 2 ** -8;
      weights.tokEmbeddings.forEach((v, i) => expect(Math.abs(v - golden.tokEmbeddings[i])).toBeLessThanOrEqual(Math.abs(golden.tokEmbeddings[i]) * relStep + 1e-7));
      expect(forward({ config, weights, precision: fp32 }, [[1, 7, 9, 2]]).lastHiddenState.every(Number.isFinite)).toBe(true);
    }
  });
});

describe('random weights', () => {
  it('counts the parameters of ModernBERT-base and -large (paper: 149M and 395M)', () => {
    const count = (name: string, groups: string[]) =>
      [...expectedTensors(presetConfig(name))].filter(([n, e]) => groups.includes(e.group) && n !== 'decoder.weight').reduce((s, [, e]) => s + e.shape.reduce((a, b) => a * b, 1), 0);
    expect(count('base', ['backbone'])).toBe(149_014_272);
    expect(count('base', ['backbone', 'head', 'decoder'])).toBe(149_655_232);
    expect(count('large', ['backbone'])).toBe(394_781_696);
    expect(count('large', ['backbone', 'head', 'decoder'])).toBe(395_881_664);
  });

  it('is reproducible from the seed and initialized as HF does', () => {
    const config = parseConfig({ vocab_size: 64, hidden_size: 32, num_attention_heads: 2, intermediate_size: 48, num_hidden_layers: 8 });
    const a = randomTensors(config, 7);
    expect(randomTensors(config, 7)).toEqual(a);
    expect(randomTensors(config, 8).get('model.layers.0.attn.Wqkv.weight')).not.toEqual(a.get('model.layers.0.attn.Wqkv.weight'));
    const std = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    const wqkv = a.get('model.layers.0.attn.Wqkv.weight')!.data as Float32Array;
    const wo = a.get('model.layers.0.attn.Wo.weight')!.data as Float32Array;
    // A normal truncated at 2 sigma has a standard deviation of 0.88 sigma.
    expect(std(wqkv)).toBeGreaterThan(0.02 * 0.84);
    expect(std(wqkv)).toBeLessThan(0.02 * 0.92);
    expect(Math.max(...wqkv.map(Math.abs))).toBeLessThanOrEqual(0.04 + 1e-9);
    expect(std(wo) / std(wqkv)).toBeCloseTo(1 / 4, 1); // out projections: std / sqrt(2 * 8 layers)
    expect([...(a.get('model.final_norm.weight')!.data as Float32Array)].every((v) => v === 1)).toBe(true);
    expect(a.has('decoder.weight')).toBe(false);
  });

  it('saves a checkpoint folder that loads back', () => {
    const config = loadConfig(join(GOLDEN, 'meanpool', 'config.json'));
    const dir = join(tempDir(), 'random');
    const tensors = randomTensors(config, 1);
    saveCheckpoint(dir, config, tensors);
    const back = loadCheckpoint(dir, fp32);
    expect(back.config).toEqual(config);
    expect(back.weights).toEqual(weightsFromTensors(config, tensors, fp32, 'random'));
  });
});
