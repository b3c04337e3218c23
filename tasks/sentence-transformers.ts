// Sentence-transformers folders: the modules after the transformer (modules.json: Pooling, Dense, Normalize, in
// the module type names of sentence-transformers before and since 6.0) and the prompts of
// config_sentence_transformers.json, applied to the encoder's token embeddings exactly as
// SentenceTransformer.encode applies them.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../reference/files.ts';
import { toFloat32 } from '../reference/safetensors.ts';
import { ModelInputError } from './errors.ts';

/** Pooling modes in sentence-transformers' order (several are concatenated in this order). */
export const ST_POOLING_MODES = ['cls', 'max', 'mean', 'mean_sqrt_len_tokens', 'lasttoken'] as const;
export type StPoolingMode = (typeof ST_POOLING_MODES)[number];

const DENSE_ACTIVATIONS: Record<string, (x: number) => number> = {
  'torch.nn.modules.linear.Identity': (x) => x,
  'torch.nn.modules.activation.Tanh': Math.tanh,
  'torch.nn.modules.activation.ReLU': (x) => (x > 0 ? x : 0),
  'torch.nn.modules.activation.Sigmoid': (x) => 1 / (1 + Math.exp(-x)),
};

export interface DenseModule {
  weight: Float32Array;
  bias: Float32Array | null;
  inFeatures: number;
  outFeatures: number;
  activation: (x: number) => number;
}

export interface SentenceTransformerModules {
  pooling: { modes: StPoolingMode[]; includePrompt: boolean };
  dense: DenseModule[];
  normalize: boolean;
  prompts: Record<string, string>;
  defaultPromptName: string | null;
  /** config_sentence_transformers.json's similarity_fn_name (default cosine) */
  similarity: Similarity;
}

/** sentence-transformers' similarity functions (distances negated, so larger is more similar). */
export const SIMILARITIES = {
  cosine: (a: ArrayLike<number>, b: ArrayLike<number>) => dot(a, b) / Math.max(Math.sqrt(dot(a, a) * dot(b, b)), 1e-12),
  dot: (a: ArrayLike<number>, b: ArrayLike<number>) => dot(a, b),
  euclidean: (a: ArrayLike<number>, b: ArrayLike<number>) => -Math.sqrt(Array.from(a, (x, i) => (x - b[i]) ** 2).reduce((s, v) => s + v, 0)),
  manhattan: (a: ArrayLike<number>, b: ArrayLike<number>) => -Array.from(a, (x, i) => Math.abs(x - b[i])).reduce((s, v) => s + v, 0),
};
export type Similarity = keyof typeof SIMILARITIES;

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** What a cross-encoder folder says about its scores: the activation applied to its logits. */
export interface CrossEncoderConfig {
  /** 'sigmoid', 'identity' (raw logits), or null: sentence-transformers' default (sigmoid for one output) */
  activation: 'sigmoid' | 'identity' | null;
}

const CROSS_ENCODER_ACTIVATIONS: Record<string, CrossEncoderConfig['activation']> = { 'torch.nn.modules.activation.Sigmoid': 'sigmoid', 'torch.nn.modules.linear.Identity': 'identity' };

/**
 * The folder's cross-encoder settings (config_sentence_transformers.json with model_type "CrossEncoder", or the
 * older config.json "sentence_transformers" entry), or null when it is not a cross-encoder folder.
 */
export function readCrossEncoder(dir: string): CrossEncoderConfig | null {
  const stFile = join(dir, 'config_sentence_transformers.json');
  const st = existsSync(stFile) ? (readJson(stFile) as { model_type?: unknown; activation_fn?: unknown }) : null;
  const configFile = join(dir, 'config.json');
  const legacy = existsSync(configFile) ? (readJson(configFile) as { sentence_transformers?: { activation_fn?: unknown } }).sentence_transformers : undefined;
  const [file, entry] = st?.model_type === 'CrossEncoder' ? [stFile, st] : legacy ? [configFile, legacy] : [null, null];
  if (!file) return null;
  const fn = entry!.activation_fn;
  if (fn === undefined || fn === null) return { activation: null };
  const activation = CROSS_ENCODER_ACTIVATIONS[String(fn)];
  if (!activation) throw new ModelInputError(`${file}: field "activation_fn" is ${JSON.stringify(fn)}; supported: ${Object.keys(CROSS_ENCODER_ACTIVATIONS).join(', ')}`);
  return { activation };
}

/** The folder's sentence-transformers modules, or null when it has no modules.json (or is a cross-encoder). Bad files are errors naming them. */
export function readSentenceTransformers(dir: string): SentenceTransformerModules | null {
  const modulesFile = join(dir, 'modules.json');
  if (!existsSync(modulesFile) || readCrossEncoder(dir)) return null;
  const modules = readJson(modulesFile);
  if (!Array.isArray(modules)) throw new ModelInputError(`${modulesFile}: expected a JSON array of modules`);
  const st: SentenceTransformerModules = { pooling: { modes: ['mean'], includePrompt: true }, dense: [], normalize: false, prompts: {}, defaultPromptName: null, similarity: 'cosine' };
  let pooled = false;
  modules.forEach((m, i) => {
    const kind = typeof m?.type === 'string' ? (m.type as string).split('.').at(-1) : undefined;
    const path = join(dir, typeof m?.path === 'string' ? m.path : '');
    if (kind === 'Transformer') {
      if (i !== 0) throw new ModelInputError(`${modulesFile}: field "[${i}].type": the Transformer must be the first module`);
    } else if (kind === 'Pooling') {
      st.pooling = readPooling(join(path, 'config.json'));
      pooled = true;
    } else if (kind === 'Dense') {
      st.dense.push(readDense(path));
    } else if (kind === 'Normalize') {
      st.normalize = true;
    } else {
      throw new ModelInputError(`${modulesFile}: field "[${i}].type" is ${JSON.stringify(m?.type)}; supported modules: Transformer, Pooling, Dense, Normalize`);
    }
  });
  if (!pooled) throw new ModelInputError(`${modulesFile}: no Pooling module`);
  const configFile = join(dir, 'config_sentence_transformers.json');
  if (existsSync(configFile)) {
    const c = readJson(configFile) as { prompts?: unknown; default_prompt_name?: unknown; similarity_fn_name?: unknown };
    if (c.similarity_fn_name !== undefined && c.similarity_fn_name !== null) {
      if (!(typeof c.similarity_fn_name === 'string' && c.similarity_fn_name in SIMILARITIES)) throw new ModelInputError(`${configFile}: field "similarity_fn_name" is ${JSON.stringify(c.similarity_fn_name)}; supported: ${Object.keys(SIMILARITIES).join(', ')}`);
      st.similarity = c.similarity_fn_name as Similarity;
    }
    if (c.prompts !== undefined && (typeof c.prompts !== 'object' || c.prompts === null || Object.values(c.prompts).some((p) => typeof p !== 'string'))) throw new ModelInputError(`${configFile}: field "prompts" must map names to strings`);
    st.prompts = (c.prompts ?? {}) as Record<string, string>;
    if (c.default_prompt_name !== undefined && c.default_prompt_name !== null && !(typeof c.default_prompt_name === 'string' && c.default_prompt_name in st.prompts)) {
      throw new ModelInputError(`${configFile}: field "default_prompt_name" (${JSON.stringify(c.default_prompt_name)}) is not one of the prompts`);
    }
    st.defaultPromptName = (c.default_prompt_name as string | null | undefined) ?? null;
  }
  return st;
}

/** 1_Pooling/config.json: sentence-transformers 6's {pooling_mode, include_prompt}, or the older pooling_mode_* flags. */
function readPooling(file: string): SentenceTransformerModules['pooling'] {
  const c = readJson(file) as Record<string, unknown>;
  const includePrompt = c.include_prompt ?? true;
  if (typeof includePrompt !== 'boolean') throw new ModelInputError(`${file}: field "include_prompt" must be true or false`);
  let modes: string[];
  if (c.pooling_mode !== undefined) {
    modes = Array.isArray(c.pooling_mode) ? c.pooling_mode : [c.pooling_mode as string];
  } else {
    const flags: Record<string, string> = { pooling_mode_cls_token: 'cls', pooling_mode_max_tokens: 'max', pooling_mode_mean_tokens: 'mean', pooling_mode_mean_sqrt_len_tokens: 'mean_sqrt_len_tokens', pooling_mode_weightedmean_tokens: 'weightedmean', pooling_mode_lasttoken: 'lasttoken' };
    modes = Object.entries(flags).filter(([flag]) => c[flag] === true).map(([, mode]) => mode);
  }
  if (modes.length === 0) throw new ModelInputError(`${file}: no pooling mode is set`);
  for (const m of modes) {
    if (!(ST_POOLING_MODES as readonly string[]).includes(m)) throw new ModelInputError(`${file}: pooling mode ${JSON.stringify(m)} is not supported (${ST_POOLING_MODES.join(', ')})`);
  }
  return { modes: modes as StPoolingMode[], includePrompt };
}

/** 2_Dense: config.json (in/out features, bias, activation) and model.safetensors (linear.weight, linear.bias). */
function readDense(dir: string): DenseModule {
  const configFile = join(dir, 'config.json');
  const c = readJson(configFile) as { in_features?: unknown; out_features?: unknown; bias?: unknown; activation_function?: unknown };
  const activation = DENSE_ACTIVATIONS[String(c.activation_function ?? 'torch.nn.modules.linear.Identity')];
  if (!activation) throw new ModelInputError(`${configFile}: field "activation_function" is ${JSON.stringify(c.activation_function)}; supported: ${Object.keys(DENSE_ACTIVATIONS).join(', ')}`);
  const weightsFile = join(dir, 'model.safetensors');
  if (!existsSync(weightsFile)) throw new ModelInputError(`${weightsFile}: file not found (a Dense module's weights must be safetensors)`);
  const tensors = readSafetensors(weightsFile).tensors;
  const weight = tensors.get('linear.weight');
  const [outFeatures, inFeatures] = weight?.shape ?? [];
  if (!weight || weight.shape.length !== 2 || inFeatures !== c.in_features || outFeatures !== c.out_features) {
    throw new ModelInputError(`${weightsFile}: tensor "linear.weight" must be [${c.out_features}, ${c.in_features}] (config.json), got ${weight ? `[${weight.shape.join(', ')}]` : 'none'}`);
  }
  const bias = tensors.get('linear.bias');
  if (c.bias !== false && (!bias || bias.shape.join() !== String(outFeatures))) throw new ModelInputError(`${weightsFile}: tensor "linear.bias" must be [${outFeatures}]`);
  return { weight: toFloat32(weight), bias: c.bias === false ? null : toFloat32(bias!), inFeatures, outFeatures, activation };
}

/**
 * One text's sentence embedding from its token embeddings h[n, C]: pooling (the first `promptLength` tokens
 * left out unless include_prompt), the Dense modules, Normalize.
 */
export function sentenceEmbedding(st: SentenceTransformerModules, h: Float32Array, n: number, C: number, promptLength: number): Float32Array {
  const from = st.pooling.includePrompt ? 0 : Math.min(promptLength, n - 1);
  const count = n - from;
  const parts = st.pooling.modes.map((mode) => {
    const v = new Float64Array(C);
    if (mode === 'cls' || mode === 'lasttoken') {
      const t = mode === 'cls' ? from : n - 1;
      for (let c = 0; c < C; c++) v[c] = h[t * C + c];
    } else if (mode === 'max') {
      v.fill(-Infinity);
      for (let t = from; t < n; t++) for (let c = 0; c < C; c++) v[c] = Math.max(v[c], h[t * C + c]);
    } else {
      for (let t = from; t < n; t++) for (let c = 0; c < C; c++) v[c] += h[t * C + c];
      const divisor = mode === 'mean' ? count : Math.sqrt(count);
      for (let c = 0; c < C; c++) v[c] /= divisor;
    }
    return v;
  });
  let x: Float64Array = Float64Array.from(parts.flatMap((p) => Array.from(p)));
  for (const d of st.dense) {
    if (x.length !== d.inFeatures) throw new ModelInputError(`a Dense module takes ${d.inFeatures} features, the pooling gives ${x.length}`);
    const y = new Float64Array(d.outFeatures);
    for (let o = 0; o < d.outFeatures; o++) {
      let s = d.bias ? d.bias[o] : 0;
      for (let i = 0; i < d.inFeatures; i++) s += d.weight[o * d.inFeatures + i] * x[i];
      y[o] = d.activation(s);
    }
    x = y;
  }
  return Float32Array.from(st.normalize ? unit(x) : x);
}

/** x / |x| (a zero vector stays zero, as torch's normalize with its epsilon). */
export function unit(x: Float64Array): Float64Array {
  let squares = 0;
  for (const v of x) squares += v * v;
  const norm = Math.max(Math.sqrt(squares), 1e-12);
  return x.map((v) => v / norm);
}

function readJson(file: string): unknown {
  if (!existsSync(file)) throw new ModelInputError(`${file}: file not found`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelInputError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}
