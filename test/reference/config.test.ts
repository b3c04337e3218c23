import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configToJson, parseConfig, presetConfig, slidingWindow } from '../../reference/config.ts';
import { GOLDEN, GOLDEN_CASES, tempDir } from '../helpers.ts';
import { loadConfig } from '../../reference/files.ts';

describe('config', () => {
  it('gives the base preset the hub values of answerdotai/ModernBERT-base', () => {
    const c = presetConfig('base');
    expect([c.vocabSize, c.hiddenSize, c.intermediateSize, c.numHiddenLayers, c.numAttentionHeads, c.headDim]).toEqual([50368, 768, 1152, 22, 12, 64]);
    expect(c.layerTypes.map((t, i) => (t === 'full_attention' ? i : -1)).filter((i) => i >= 0)).toEqual([0, 3, 6, 9, 12, 15, 18, 21]);
    expect([c.globalRopeTheta, c.localRopeTheta, c.localAttention, slidingWindow(c)]).toEqual([160000, 10000, 128, 64]);
    expect([c.normEps, c.normBias, c.attentionBias, c.mlpBias, c.decoderBias, c.classifierPooling]).toEqual([1e-5, false, false, false, true, 'mean']);
    expect([c.padTokenId, c.clsTokenId, c.sepTokenId, c.maxPositionEmbeddings]).toEqual([50283, 50281, 50282, 8192]);
  });

  it('gives the large preset its shape: 28 layers, 1024 hidden, 2624 intermediate, 16 heads', () => {
    const c = presetConfig('large');
    expect([c.hiddenSize, c.intermediateSize, c.numHiddenLayers, c.numAttentionHeads, c.headDim]).toEqual([1024, 2624, 28, 16, 64]);
    expect(c.layerTypes.filter((t) => t === 'full_attention')).toHaveLength(10);
  });

  it('reads the 4.x and the 5.x spelling alike', () => {
    const v4 = parseConfig({ hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 5, global_attn_every_n_layers: 2, global_rope_theta: 5000, local_rope_theta: 50 });
    const v5 = parseConfig({
      hidden_size: 64,
      num_attention_heads: 4,
      num_hidden_layers: 5,
      layer_types: ['full_attention', 'sliding_attention', 'full_attention', 'sliding_attention', 'full_attention'],
      rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 5000 }, sliding_attention: { rope_type: 'default', rope_theta: 50 } },
    });
    expect(v5).toEqual(v4);
    expect(v4.layerTypes).toEqual(['full_attention', 'sliding_attention', 'full_attention', 'sliding_attention', 'full_attention']);
  });

  it('lets the 5.x fields win over the 4.x ones, as HF does', () => {
    const c = parseConfig({ num_hidden_layers: 2, global_attn_every_n_layers: 1, layer_types: ['full_attention', 'sliding_attention'], global_rope_theta: 1, rope_parameters: { rope_theta: 7 } });
    expect(c.layerTypes).toEqual(['full_attention', 'sliding_attention']);
    expect([c.globalRopeTheta, c.localRopeTheta]).toEqual([7, 7]);
  });

  it("reads the activations by what they compute (HF's ACT2FN names), both fields, and writes them back", () => {
    const kinds = { gelu: 'gelu', gelu_pytorch_tanh: 'gelu_tanh', gelu_new: 'gelu_tanh', gelu_fast: 'gelu_tanh', silu: 'silu', swish: 'silu', relu: 'relu' };
    for (const [name, kind] of Object.entries(kinds)) {
      const c = parseConfig({ hidden_activation: name, classifier_activation: name });
      expect([c.hiddenActivation, c.classifierActivation]).toEqual([kind, kind]);
      expect(parseConfig(configToJson(c))).toEqual(c);
    }
    expect(parseConfig({}).hiddenActivation).toBe('gelu');
  });

  it('reads every golden config with its layer kinds and thetas', () => {
    for (const name of GOLDEN_CASES) {
      const c = loadConfig(join(GOLDEN, name, 'config.json'));
      const caseJson = JSON.parse(readFileSync(join(GOLDEN, name, 'case.json'), 'utf8'));
      expect(c.layerTypes.map((t) => (t === 'full_attention' ? 'global' : 'local'))).toEqual(caseJson.layer_kinds);
      expect(c.layerTypes.map((t) => (t === 'full_attention' ? c.globalRopeTheta : c.localRopeTheta))).toEqual(caseJson.rope_theta_per_layer);
      expect(slidingWindow(c)).toBe(caseJson.window_half_width);
      expect(c.headDim).toBe(caseJson.head_dim);
    }
  });

  it('writes a config.json that reads back the same', () => {
    for (const c of [presetConfig('base'), loadConfig(join(GOLDEN, 'bias', 'config.json'))]) {
      expect(parseConfig(configToJson(c))).toEqual(c);
      const { layer_types, rope_parameters, ...v4only } = configToJson(c);
      expect(layer_types && rope_parameters).toBeTruthy();
      expect(parseConfig(v4only)).toEqual(c);
    }
  });

  describe('validation errors name the file and the field', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['hidden size not divisible by heads', { hidden_size: 100, num_attention_heads: 12 }, /field "hidden_size" \(100\) must be divisible by num_attention_heads \(12\)/],
      ['odd head dim', { hidden_size: 36, num_attention_heads: 12 }, /field "hidden_size" \/ num_attention_heads = 3 must be even/],
      ['a negative size', { num_hidden_layers: -2 }, /field "num_hidden_layers" must be a positive integer, got -2/],
      ['a string size', { vocab_size: '50368' }, /field "vocab_size" must be a positive integer, got "50368"/],
      ['layer_types of the wrong length', { num_hidden_layers: 3, layer_types: ['full_attention'] }, /field "layer_types" must list 3 layer types/],
      ['an unknown layer type', { num_hidden_layers: 2, layer_types: ['full_attention', 'chunked_attention'] }, /field "layer_types\[1\]" must be "full_attention" or "sliding_attention"/],
      ['a RoPE scaling type', { rope_parameters: { full_attention: { rope_type: 'yarn', rope_theta: 1 }, sliding_attention: { rope_theta: 1 } } }, /field "rope_parameters.full_attention.rope_type" must be "default"/],
      ['a missing theta', { rope_parameters: { full_attention: { rope_theta: 1 } } }, /field "rope_parameters.sliding_attention" must be an object/],
      ['an activation outside the supported set', { hidden_activation: 'mish' }, /field "hidden_activation" must be one of "gelu", "gelu_pytorch_tanh", "gelu_new", "gelu_fast", "silu", "swish", "relu", got "mish"/],
      ['an unknown pooling', { classifier_pooling: 'max' }, /field "classifier_pooling" must be one of "cls", "mean"/],
      ['num_labels against id2label', { num_labels: 3, id2label: { 0: 'a', 1: 'b' } }, /field "num_labels" \(3\) disagrees with id2label, which has 2 labels/],
      ['another model type', { model_type: 'bert' }, /field "model_type" must be "modernbert"/],
    ];
    for (const [what, json, message] of cases) {
      it(`rejects ${what}`, () => {
        const file = join(tempDir(), 'config.json');
        writeFileSync(file, JSON.stringify(json));
        expect(() => loadConfig(file)).toThrow(new RegExp(`config\\.json: ${message.source}`));
      });
    }

    it('rejects a file that is not JSON, and an unknown preset', () => {
      const file = join(tempDir(), 'config.json');
      writeFileSync(file, '{"hidden_size": 7');
      expect(() => loadConfig(file)).toThrow(/config\.json: not valid JSON/);
      expect(() => presetConfig('huge')).toThrow(/unknown model config "huge" \(presets: base, large, small\)/);
    });
  });
});
