// HF checkpoint folder -> named weights, and seeded random weights for any config.
//
// A folder holds config.json and model.safetensors, or shards listed in model.safetensors.index.json.
// Names follow HF: "model." prefixes the backbone in task checkpoints (ModernBertForMaskedLM,
// ...ForSequenceClassification); a bare ModernBertModel checkpoint has no prefix. Layer 0 has no
// attn_norm. The MLM decoder is tied to the token embeddings, so decoder.weight is usually absent.
import type { ModernBertConfig } from './config.ts';
import { type FloatArray, type Precision } from './ops.ts';
import { type Tensor, toFloat32, toFloat64 } from './safetensors.ts';

// The weight structure, generic over where a tensor lives: FloatArray here, GPUBuffer in the WebGPU engine; and
// over how the weights of the matrix products (W) live, where that differs (the engine's packed weights).
export interface LinearWeights<A = FloatArray, W = A> {
  /** weight[N, K], y = x W^T + bias */
  weight: W;
  bias: A | null;
  outFeatures: number;
  inFeatures: number;
}

export interface NormWeights<A = FloatArray> {
  weight: A;
  bias: A | null;
}

export interface LayerWeights<A = FloatArray, W = A> {
  /** null on layer 0, which has no attention norm (nn.Identity in HF). */
  attnNorm: NormWeights<A> | null;
  /** Wqkv[3C, C]: output feature s*C + h*D + d for s in (q, k, v), head h. */
  wqkv: LinearWeights<A, W>;
  wo: LinearWeights<A, W>;
  mlpNorm: NormWeights<A>;
  /** Wi[2I, C]: rows 0..I-1 are activated, rows I..2I-1 gate. */
  wi: LinearWeights<A, W>;
  mlpWo: LinearWeights<A, W>;
}

export interface ModernBertWeights<A = FloatArray, W = A> {
  /** tokEmbeddings[V, C] (stored as the products' weights are: it is the decoder's weight where tied) */
  tokEmbeddings: W;
  embeddingNorm: NormWeights<A>;
  layers: LayerWeights<A, W>[];
  finalNorm: NormWeights<A>;
  /** ModernBertPredictionHead (dense -> gelu -> norm), shared by the MLM and classification heads. */
  head: { dense: LinearWeights<A, W>; norm: NormWeights<A> } | null;
  /** The MLM decoder: weight[V, C] (the token embeddings when tied) and its bias. */
  decoder: { weight: W; bias: A | null } | null;
  classifier: LinearWeights<A, W> | null;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

type Group = 'backbone' | 'head' | 'decoder' | 'classifier';
interface Expected {
  shape: number[];
  group: Group;
}

/** Every tensor a full checkpoint may hold, with its shape, keyed by name (backbone names unprefixed). */
export function expectedTensors(config: ModernBertConfig): Map<string, Expected> {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V, numLabels } = config;
  const m = new Map<string, Expected>();
  const put = (name: string, shape: number[], group: Group) => m.set(name, { shape, group });
  const norm = (name: string, group: Group) => {
    put(`${name}.weight`, [C], group);
    if (config.normBias) put(`${name}.bias`, [C], group);
  };
  const lin = (name: string, out: number, inp: number, bias: boolean, group: Group) => {
    put(`${name}.weight`, [out, inp], group);
    if (bias) put(`${name}.bias`, [out], group);
  };
  put('embeddings.tok_embeddings.weight', [V, C], 'backbone');
  norm('embeddings.norm', 'backbone');
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const L = `layers.${l}`;
    if (l > 0) norm(`${L}.attn_norm`, 'backbone');
    lin(`${L}.attn.Wqkv`, 3 * C, C, config.attentionBias, 'backbone');
    lin(`${L}.attn.Wo`, C, C, config.attentionBias, 'backbone');
    norm(`${L}.mlp_norm`, 'backbone');
    lin(`${L}.mlp.Wi`, 2 * I, C, config.mlpBias, 'backbone');
    lin(`${L}.mlp.Wo`, C, I, config.mlpBias, 'backbone');
  }
  norm('final_norm', 'backbone');
  lin('head.dense', C, C, config.classifierBias, 'head');
  norm('head.norm', 'head');
  put('decoder.weight', [V, C], 'decoder');
  if (config.decoderBias) put('decoder.bias', [V], 'decoder');
  lin('classifier', numLabels, C, true, 'classifier');
  return m;
}

export interface LoadOptions {
  /** Unexpected tensors are an error (default) or ignored. */
  strict?: boolean;
}

/**
 * Checks named tensors against the config and converts them to the precision. Missing backbone tensors,
 * partly present heads, unexpected names and wrong shapes are reported together, by name.
 */
export function weightsFromTensors(config: ModernBertConfig, tensors: Map<string, Tensor>, p: Precision, source: string, options: LoadOptions = {}): ModernBertWeights {
  const expected = expectedTensors(config);
  const names = [...tensors.keys()];
  const prefix = names.some((n) => n.startsWith('model.')) ? 'model.' : '';
  const key = (name: string) => (/^(head|decoder|classifier)\./.test(name) ? name : prefix + name);
  const known = new Set([...expected.keys()].map(key));

  const missing: string[] = [];
  const misshaped: string[] = [];
  const badDtype: string[] = [];
  const present = (group: Group) => [...expected].some(([name, e]) => e.group === group && tensors.has(key(name)));
  const groupPresent: Record<Group, boolean> = { backbone: true, head: present('head'), decoder: present('decoder'), classifier: present('classifier') };
  for (const [name, e] of expected) {
    const t = tensors.get(key(name));
    if (!t) {
      // A head is all or nothing; decoder.weight is optional when tied (and decoder.bias goes with the MLM head).
      const optional = !groupPresent[e.group] || name === 'decoder.weight';
      if (!optional) missing.push(key(name));
      continue;
    }
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      misshaped.push(`${key(name)} (expected [${e.shape.join(', ')}], got [${t.shape.join(', ')}])`);
    }
    if (t.dtype !== 'F32' && t.dtype !== 'F64' && t.dtype !== 'F16' && t.dtype !== 'BF16') {
      badDtype.push(`${key(name)} (${t.dtype})`);
    }
  }
  if (!config.tieWordEmbeddings && groupPresent.decoder && !tensors.has('decoder.weight')) missing.push('decoder.weight (tie_word_embeddings is false)');
  const unexpected = options.strict === false ? [] : names.filter((n) => !known.has(n));
  const problems = [
    missing.length ? `missing tensors: ${missing.join(', ')}` : '',
    misshaped.length ? `mis-shaped tensors: ${misshaped.join(', ')}` : '',
    badDtype.length ? `weights must be F32, F64, F16 or BF16: ${badDtype.join(', ')}` : '',
    unexpected.length ? `unexpected tensors: ${unexpected.join(', ')}` : '',
  ].filter(Boolean);
  if (problems.length) throw new CheckpointError(`${source}: ${problems.join('; ')}`);

  const get = (name: string): FloatArray => {
    const t = tensors.get(key(name))!;
    return p.name === 'fp32' ? toFloat32(t, `${source}: tensor "${key(name)}"`) : toFloat64(t, `${source}: tensor "${key(name)}"`);
  };
  const maybe = (name: string): FloatArray | null => (tensors.has(key(name)) ? get(name) : null);
  const norm = (name: string): NormWeights => ({ weight: get(`${name}.weight`), bias: maybe(`${name}.bias`) });
  const lin = (name: string): LinearWeights => {
    const e = expected.get(`${name}.weight`)!;
    return { weight: get(`${name}.weight`), bias: maybe(`${name}.bias`), outFeatures: e.shape[0], inFeatures: e.shape[1] };
  };

  const tokEmbeddings = get('embeddings.tok_embeddings.weight');
  const layers: LayerWeights[] = [];
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const L = `layers.${l}`;
    layers.push({
      attnNorm: l === 0 ? null : norm(`${L}.attn_norm`),
      wqkv: lin(`${L}.attn.Wqkv`),
      wo: lin(`${L}.attn.Wo`),
      mlpNorm: norm(`${L}.mlp_norm`),
      wi: lin(`${L}.mlp.Wi`),
      mlpWo: lin(`${L}.mlp.Wo`),
    });
  }
  const head = groupPresent.head ? { dense: lin('head.dense'), norm: norm('head.norm') } : null;
  // The MLM head needs head.* and, when decoder_bias is set, decoder.bias (classification checkpoints have neither decoder tensor).
  const hasDecoder = head !== null && (!config.decoderBias || tensors.has('decoder.bias')) && (config.tieWordEmbeddings || tensors.has('decoder.weight'));
  return {
    tokEmbeddings,
    embeddingNorm: norm('embeddings.norm'),
    layers,
    finalNorm: norm('final_norm'),
    head,
    decoder: hasDecoder ? { weight: config.tieWordEmbeddings ? tokEmbeddings : get('decoder.weight'), bias: maybe('decoder.bias') } : null,
    classifier: groupPresent.classifier ? lin('classifier') : null,
  };
}

export interface Checkpoint {
  config: ModernBertConfig;
  weights: ModernBertWeights;
}

// ---- seeded random weights ----

/** xoshiro128** seeded through splitmix32: a small, fast, reproducible generator of uniform [0, 1). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(), b = splitmix(), c = splitmix(), d = splitmix();
  const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result / 4294967296;
  };
}

/** Fills a Float32Array with a normal(0, std) truncated to +-cutoff*std (rejection), by Box-Muller. */
function truncatedNormal(n: number, std: number, cutoff: number, random: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; ) {
    const u = 1 - random();
    const v = random();
    const radius = Math.sqrt(-2 * Math.log(u));
    for (const z of [radius * Math.cos(2 * Math.PI * v), radius * Math.sin(2 * Math.PI * v)]) {
      if (i < n && Math.abs(z) <= cutoff) out[i++] = z * std;
    }
  }
  return out;
}

/**
 * Random float32 tensors for every weight of a full checkpoint (backbone, head, decoder bias, classifier),
 * named as HF names them and initialized as HF's ModernBertPreTrainedModel._init_weights does:
 * truncated normals (+-initializer_cutoff_factor sigma) with std initializer_range for embeddings and input
 * projections, initializer_range / sqrt(2 * num_hidden_layers) for output projections (attn.Wo, mlp.Wo,
 * head.dense), hidden_size^-0.5 for the classifier; norms weight 1, biases 0.
 */
export function randomTensors(config: ModernBertConfig, seed: number): Map<string, Tensor> {
  const random = seededRandom(seed);
  const std = config.initializerRange;
  const outStd = std / Math.sqrt(2 * config.numHiddenLayers);
  const tensors = new Map<string, Tensor>();
  for (const [name, e] of expectedTensors(config)) {
    if (name === 'decoder.weight' && config.tieWordEmbeddings) continue;
    const n = e.shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (name.endsWith('.bias')) data = new Float32Array(n);
    else if (/norm\.weight$/.test(name)) data = new Float32Array(n).fill(1);
    else {
      const sd = name === 'classifier.weight' ? config.hiddenSize ** -0.5 : /(attn\.Wo|mlp\.Wo|head\.dense)\.weight$/.test(name) ? outStd : std;
      data = truncatedNormal(n, sd, config.initializerCutoffFactor, random);
    }
    tensors.set(e.group === 'backbone' ? `model.${name}` : name, { dtype: 'F32', shape: e.shape, data });
  }
  return tensors;
}
