// ModernBertConfig from a Hugging Face config.json, in both spellings:
//   transformers 4.x: global_attn_every_n_layers, global_rope_theta, local_rope_theta
//   transformers 5.x: layer_types, rope_parameters (5.x fields win where both are present, as in HF)
// Defaults are HF's ModernBertConfig defaults. Every error names the file and the field.

export type LayerType = 'full_attention' | 'sliding_attention';

/**
 * What an activation computes. HF's ACT2FN names map onto these: gelu (exact, erf); gelu_pytorch_tanh,
 * gelu_new and gelu_fast (the tanh approximation); silu and swish; relu.
 */
export type Activation = 'gelu' | 'gelu_tanh' | 'silu' | 'relu';
const ACTIVATION_NAMES: Record<string, Activation> = { gelu: 'gelu', gelu_pytorch_tanh: 'gelu_tanh', gelu_new: 'gelu_tanh', gelu_fast: 'gelu_tanh', silu: 'silu', swish: 'silu', relu: 'relu' };
/** The HF name written for each activation. */
const ACTIVATION_HF_NAME: Record<Activation, string> = { gelu: 'gelu', gelu_tanh: 'gelu_pytorch_tanh', silu: 'silu', relu: 'relu' };
export type Pooling = 'cls' | 'mean';
export type ProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';
const PROBLEM_TYPES: readonly ProblemType[] = ['regression', 'single_label_classification', 'multi_label_classification'];
export const POOLINGS: readonly Pooling[] = ['cls', 'mean'];

export interface ModernBertConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** hiddenSize / numAttentionHeads (HF has no separate field). */
  headDim: number;
  layerTypes: LayerType[];
  globalRopeTheta: number;
  localRopeTheta: number;
  /** Total local window; each side sees localAttention // 2 tokens (see slidingWindow). */
  localAttention: number;
  maxPositionEmbeddings: number;
  normEps: number;
  normBias: boolean;
  attentionBias: boolean;
  mlpBias: boolean;
  classifierBias: boolean;
  decoderBias: boolean;
  classifierPooling: Pooling;
  /** the MLP's GLU activation (hidden_activation): gelu makes it GeGLU, silu SwiGLU */
  hiddenActivation: Activation;
  /** the prediction head's activation (classifier_activation) */
  classifierActivation: Activation;
  /** how classification scores come from the logits (HF's problem_type; null: from the label count) */
  problemType: ProblemType | null;
  /** config.json's architectures: the HF class the checkpoint was saved from ([] when it does not say) */
  architectures: string[];
  /** a ModernBertForMultipleChoice checkpoint: its classifier has one output, a score per choice (id2label is ["score"]) */
  multipleChoice: boolean;
  tieWordEmbeddings: boolean;
  padTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
  clsTokenId: number;
  sepTokenId: number;
  numLabels: number;
  id2label: string[];
  initializerRange: number;
  initializerCutoffFactor: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Half-width of the local window: key j is visible from query i iff |i - j| <= slidingWindow. */
export function slidingWindow(config: ModernBertConfig): number {
  return Math.floor(config.localAttention / 2);
}

export function isGlobalLayer(config: ModernBertConfig, layer: number): boolean {
  return config.layerTypes[layer] === 'full_attention';
}

// The hub config of answerdotai/ModernBERT-base (transformers 4.48 spelling), HF's class defaults otherwise.
const BASE_JSON = {
  architectures: ['ModernBertForMaskedLM'],
  model_type: 'modernbert',
  vocab_size: 50368,
  hidden_size: 768,
  intermediate_size: 1152,
  num_hidden_layers: 22,
  num_attention_heads: 12,
  global_attn_every_n_layers: 3,
  global_rope_theta: 160000.0,
  local_rope_theta: 10000.0,
  local_attention: 128,
  max_position_embeddings: 8192,
  norm_eps: 1e-5,
  norm_bias: false,
  attention_bias: false,
  mlp_bias: false,
  classifier_bias: false,
  decoder_bias: true,
  hidden_activation: 'gelu',
  classifier_activation: 'gelu',
  classifier_pooling: 'mean',
  tie_word_embeddings: true,
  pad_token_id: 50283,
  bos_token_id: 50281,
  eos_token_id: 50282,
  cls_token_id: 50281,
  sep_token_id: 50282,
  initializer_range: 0.02,
  initializer_cutoff_factor: 2.0,
};

/**
 * Built-in configurations. `base` and `large` are the released ModernBERT shapes (paper Table 4; large:
 * hidden 1024, intermediate 2624, 16 heads, 28 layers). `small` is this project's own shape for CPU
 * benchmarks: base's vocabulary and window with a narrower, shallower stack.
 */
export const PRESETS = {
  base: BASE_JSON,
  large: { ...BASE_JSON, hidden_size: 1024, intermediate_size: 2624, num_attention_heads: 16, num_hidden_layers: 28 },
  small: { ...BASE_JSON, architectures: ['ModernBertModel'], hidden_size: 256, intermediate_size: 384, num_attention_heads: 4, num_hidden_layers: 6 },
} as const;
export type PresetName = keyof typeof PRESETS;

export function presetConfig(name: string): ModernBertConfig {
  if (!Object.hasOwn(PRESETS, name)) throw new ConfigError(`unknown model config "${name}" (presets: ${Object.keys(PRESETS).join(', ')})`);
  return parseConfig(PRESETS[name as PresetName], `preset ${name}`);
}

/** Parses and validates a config.json object. `source` names the file in error messages. */
export function parseConfig(json: unknown, source = 'config.json'): ModernBertConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(`${source}: expected a JSON object`);
  const j = json as Record<string, unknown>;
  const fail = (field: string, why: string): never => {
    throw new ConfigError(`${source}: field "${field}" ${why}`);
  };
  const get = <T>(field: string, fallback: T, check: (v: unknown) => boolean, what: string): T => {
    const v = j[field];
    if (v === undefined || v === null) return fallback;
    if (!check(v)) fail(field, `must be ${what}, got ${JSON.stringify(v)}`);
    return v as T;
  };
  const positiveInt = (field: string, fallback: number) => get(field, fallback, (v) => Number.isSafeInteger(v) && (v as number) > 0, 'a positive integer');
  const tokenId = (field: string, fallback: number) => get(field, fallback, (v) => Number.isSafeInteger(v) && (v as number) >= 0, 'a non-negative integer');
  const positive = (field: string, fallback: number) => get(field, fallback, (v) => typeof v === 'number' && Number.isFinite(v) && v > 0, 'a positive number');
  const bool = (field: string, fallback: boolean) => get(field, fallback, (v) => typeof v === 'boolean', 'true or false');
  const oneOf = <T extends string>(field: string, fallback: T, allowed: readonly T[]) =>
    get<T>(field, fallback, (v) => allowed.includes(v as T), `one of ${allowed.map((a) => `"${a}"`).join(', ')}`);

  const modelType = j.model_type;
  if (modelType !== undefined && modelType !== 'modernbert') fail('model_type', `must be "modernbert", got ${JSON.stringify(modelType)}`);

  const hiddenSize = positiveInt('hidden_size', 768);
  const numAttentionHeads = positiveInt('num_attention_heads', 12);
  if (hiddenSize % numAttentionHeads !== 0) fail('hidden_size', `(${hiddenSize}) must be divisible by num_attention_heads (${numAttentionHeads})`);
  const headDim = hiddenSize / numAttentionHeads;
  if (headDim % 2 !== 0) fail('hidden_size', `/ num_attention_heads = ${headDim} must be even for rotary embeddings`);
  const numHiddenLayers = positiveInt('num_hidden_layers', 22);

  let layerTypes: LayerType[];
  if (j.layer_types !== undefined && j.layer_types !== null) {
    const lt = j.layer_types;
    if (!Array.isArray(lt) || lt.length !== numHiddenLayers) fail('layer_types', `must list ${numHiddenLayers} layer types (num_hidden_layers)`);
    (lt as unknown[]).forEach((t, i) => {
      if (t !== 'full_attention' && t !== 'sliding_attention') fail(`layer_types[${i}]`, `must be "full_attention" or "sliding_attention", got ${JSON.stringify(t)}`);
    });
    layerTypes = lt as LayerType[];
  } else {
    const every = positiveInt('global_attn_every_n_layers', 3);
    layerTypes = Array.from({ length: numHiddenLayers }, (_, i) => (i % every === 0 ? 'full_attention' : 'sliding_attention'));
  }

  let globalRopeTheta = positive('global_rope_theta', 160000);
  let localRopeTheta = positive('local_rope_theta', 10000);
  if (j.rope_parameters !== undefined && j.rope_parameters !== null) {
    const rp = j.rope_parameters as Record<string, unknown>;
    if (typeof rp !== 'object' || Array.isArray(rp)) fail('rope_parameters', 'must be an object');
    const theta = (params: unknown, path: string): number => {
      if (params === null || typeof params !== 'object') fail(path, 'must be an object with "rope_theta"');
      const p = params as Record<string, unknown>;
      if (p.rope_type !== undefined && p.rope_type !== 'default') fail(`${path}.rope_type`, `must be "default" (no other RoPE scaling is supported), got ${JSON.stringify(p.rope_type)}`);
      if (typeof p.rope_theta !== 'number' || !(p.rope_theta > 0)) fail(`${path}.rope_theta`, `must be a positive number, got ${JSON.stringify(p.rope_theta)}`);
      return p.rope_theta as number;
    };
    if ('rope_theta' in rp) {
      globalRopeTheta = localRopeTheta = theta(rp, 'rope_parameters');
    } else {
      globalRopeTheta = theta(rp.full_attention, 'rope_parameters.full_attention');
      localRopeTheta = theta(rp.sliding_attention, 'rope_parameters.sliding_attention');
    }
  }

  const activation = (field: string) => ACTIVATION_NAMES[oneOf(field, 'gelu', Object.keys(ACTIVATION_NAMES))];

  if (j.architectures !== undefined && j.architectures !== null && !(Array.isArray(j.architectures) && j.architectures.every((a) => typeof a === 'string'))) fail('architectures', 'must be a list of class names');
  const architectures = [...((j.architectures ?? []) as string[])];
  let id2label: string[];
  const rawLabels = j.id2label;
  const multipleChoice = architectures.includes('ModernBertForMultipleChoice');
  if (multipleChoice) {
    id2label = ['score']; // HF's num_labels does not apply: the classifier scores each choice
  } else if (rawLabels !== undefined && rawLabels !== null) {
    if (typeof rawLabels !== 'object' || Array.isArray(rawLabels)) fail('id2label', 'must be an object {"0": label, ...}');
    const entries = Object.entries(rawLabels as Record<string, unknown>);
    id2label = new Array<string>(entries.length);
    for (const [k, v] of entries) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= entries.length || String(i) !== k) fail('id2label', `keys must be 0..${entries.length - 1}, got "${k}"`);
      if (typeof v !== 'string') fail(`id2label.${k}`, 'must be a string');
      id2label[i] = v as string;
    }
    const numLabels = j.num_labels;
    if (numLabels !== undefined && numLabels !== entries.length) fail('num_labels', `(${JSON.stringify(numLabels)}) disagrees with id2label, which has ${entries.length} labels`);
  } else {
    const n = positiveInt('num_labels', 2);
    id2label = Array.from({ length: n }, (_, i) => `LABEL_${i}`);
  }

  const config: ModernBertConfig = {
    vocabSize: positiveInt('vocab_size', 50368),
    hiddenSize,
    intermediateSize: positiveInt('intermediate_size', 1152),
    numHiddenLayers,
    numAttentionHeads,
    headDim,
    layerTypes,
    globalRopeTheta,
    localRopeTheta,
    localAttention: positiveInt('local_attention', 128),
    maxPositionEmbeddings: positiveInt('max_position_embeddings', 8192),
    normEps: positive('norm_eps', 1e-5),
    normBias: bool('norm_bias', false),
    attentionBias: bool('attention_bias', false),
    mlpBias: bool('mlp_bias', false),
    classifierBias: bool('classifier_bias', false),
    decoderBias: bool('decoder_bias', true),
    classifierPooling: oneOf<Pooling>('classifier_pooling', 'cls', POOLINGS),
    hiddenActivation: activation('hidden_activation'),
    classifierActivation: activation('classifier_activation'),
    architectures,
    multipleChoice,
    problemType: j.problem_type === undefined || j.problem_type === null ? null : oneOf<ProblemType>('problem_type', 'regression', PROBLEM_TYPES),
    tieWordEmbeddings: bool('tie_word_embeddings', true),
    padTokenId: tokenId('pad_token_id', 50283),
    bosTokenId: tokenId('bos_token_id', 50281),
    eosTokenId: tokenId('eos_token_id', 50282),
    clsTokenId: tokenId('cls_token_id', 50281),
    sepTokenId: tokenId('sep_token_id', 50282),
    numLabels: id2label.length,
    id2label,
    initializerRange: positive('initializer_range', 0.02),
    initializerCutoffFactor: positive('initializer_cutoff_factor', 2.0),
  };
  return config;
}

/** HF config.json for a config, with both the 4.x and the 5.x spellings (they agree). */
export function configToJson(config: ModernBertConfig): Record<string, unknown> {
  const json: Record<string, unknown> = {
    // The class the checkpoint was saved from, when its config said (a config that did not stays silent).
    ...(config.architectures.length ? { architectures: [...config.architectures] } : {}),
    model_type: 'modernbert',
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numHiddenLayers,
    num_attention_heads: config.numAttentionHeads,
    layer_types: config.layerTypes,
    rope_parameters: {
      full_attention: { rope_type: 'default', rope_theta: config.globalRopeTheta },
      sliding_attention: { rope_type: 'default', rope_theta: config.localRopeTheta },
    },
    global_rope_theta: config.globalRopeTheta,
    local_rope_theta: config.localRopeTheta,
    local_attention: config.localAttention,
    max_position_embeddings: config.maxPositionEmbeddings,
    norm_eps: config.normEps,
    norm_bias: config.normBias,
    attention_bias: config.attentionBias,
    mlp_bias: config.mlpBias,
    classifier_bias: config.classifierBias,
    decoder_bias: config.decoderBias,
    hidden_activation: ACTIVATION_HF_NAME[config.hiddenActivation],
    classifier_activation: ACTIVATION_HF_NAME[config.classifierActivation],
    classifier_pooling: config.classifierPooling,
    problem_type: config.problemType,
    tie_word_embeddings: config.tieWordEmbeddings,
    pad_token_id: config.padTokenId,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    cls_token_id: config.clsTokenId,
    sep_token_id: config.sepTokenId,
    id2label: Object.fromEntries(config.id2label.map((label, i) => [String(i), label])),
    label2id: Object.fromEntries(config.id2label.map((label, i) => [label, i])),
    initializer_range: config.initializerRange,
    initializer_cutoff_factor: config.initializerCutoffFactor,
    torch_dtype: 'float32',
  };
  // The 4.x spelling exists only for a regular pattern "layer i is global iff i % n == 0".
  const everyN = config.layerTypes
    .map((_, i) => i + 1)
    .find((n) => config.layerTypes.every((t, i) => (i % n === 0) === (t === 'full_attention')));
  if (everyN !== undefined) json.global_attn_every_n_layers = everyN;
  return json;
}
