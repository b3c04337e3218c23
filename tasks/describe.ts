// `modernbert info --model DIR`: what a checkpoint folder is, read from its files without loading the weights:
// the architecture and shape (config.json), the heads its tensors carry, the weights' dtypes and size
// (safetensors headers only), the tokenizer, and the sentence-transformers modules when the folder has them.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { elementCount } from '../reference/safetensors.ts';
import { loadConfig, loadTokenizer, readSafetensorsHeader } from '../reference/files.ts';
import { readSentenceTransformers } from './sentence-transformers.ts';

export interface ModelFolderInfo {
  folder: string;
  architectures: string[];
  shape: string;
  activations: { hidden: string; classifier: string };
  /** 'mlm' (head.* and the decoder), 'classifier' (head.* and classifier.*), or none: a bare encoder */
  heads: string[];
  labels: string[];
  pooling: string;
  problemType: string | null;
  weights: { files: string[]; tensors: number; parameters: number; bytes: number; dtypes: Record<string, number> };
  tokenizer: { maxLength: number } | null;
  /** modules.json's module types, the pooling of 1_Pooling/config.json, prompt names; null when not such a folder */
  sentenceTransformers: { modules: string[]; pooling: string[]; prompts: string[]; defaultPrompt: string | null; similarity: string } | null;
}

export function describeModelFolder(dir: string): ModelFolderInfo {
  const config = loadConfig(join(dir, 'config.json'));
  const raw = readJson(join(dir, 'config.json')) as { architectures?: unknown };
  const files = weightFiles(dir);
  const dtypes: Record<string, number> = {};
  const names = new Set<string>();
  let parameters = 0;
  let bytes = 0;
  for (const file of files) {
    for (const e of readSafetensorsHeader(join(dir, file)).entries) {
      names.add(e.name.replace(/^model\./, ''));
      dtypes[e.dtype] = (dtypes[e.dtype] ?? 0) + 1;
      parameters += elementCount(e.shape);
      bytes += e.end - e.begin;
    }
  }
  const heads = [...(names.has('head.dense.weight') && names.has('classifier.weight') ? ['classifier'] : []), ...(names.has('head.dense.weight') && (names.has('decoder.bias') || names.has('decoder.weight')) ? ['mlm'] : [])];
  return {
    folder: dir,
    architectures: Array.isArray(raw.architectures) ? raw.architectures.map(String) : [],
    shape: `${config.numHiddenLayers} layers, hidden ${config.hiddenSize}, ${config.numAttentionHeads} heads, intermediate ${config.intermediateSize}, vocab ${config.vocabSize}, up to ${config.maxPositionEmbeddings} tokens`,
    activations: { hidden: config.hiddenActivation, classifier: config.classifierActivation },
    heads,
    labels: config.id2label,
    pooling: config.classifierPooling,
    problemType: config.problemType,
    weights: { files, tensors: Object.values(dtypes).reduce((a, b) => a + b, 0), parameters, bytes, dtypes },
    tokenizer: existsSync(join(dir, 'tokenizer.json')) ? { maxLength: loadTokenizer(dir).maxLength } : null,
    sentenceTransformers: sentenceTransformers(dir),
  };
}

/** The human summary, one line per aspect. */
export function formatModelFolder(m: ModelFolderInfo): string {
  const st = m.sentenceTransformers;
  const lines = [
    `folder: ${m.folder}`,
    `architecture: ${m.architectures.join(', ') || 'not named in config.json'}`,
    `shape: ${m.shape}`,
    `activations: hidden ${m.activations.hidden}, classifier ${m.activations.classifier}`,
    `heads: ${m.heads.length ? m.heads.map((h) => (h === 'classifier' ? `classifier (${m.labels.length} labels: ${m.labels.join(', ')}; ${m.pooling} pooling${m.problemType ? `; ${m.problemType}` : ''})` : h)).join(', ') : 'none (the encoder alone: embeddings)'}`,
    `weights: ${m.weights.files.join(', ')}: ${m.weights.tensors} tensors, ${m.weights.parameters.toLocaleString('en-US')} parameters, ${Object.entries(m.weights.dtypes).map(([d, n]) => `${d} x ${n}`).join(', ')} (${(m.weights.bytes / 2 ** 20).toFixed(1)} MiB)`,
    `tokenizer: ${m.tokenizer ? `tokenizer.json, model_max_length ${m.tokenizer.maxLength}` : 'none (forward() on token ids only)'}`,
    `sentence-transformers: ${st ? `modules ${st.modules.join(', ')}; pooling ${st.pooling.join(', ') || 'not given'}; prompts ${st.prompts.join(', ') || 'none'}${st.defaultPrompt ? ` (default ${st.defaultPrompt})` : ''}; similarity ${st.similarity}` : 'no (no modules.json)'}`,
  ];
  return lines.join('\n') + '\n';
}

/** model.safetensors, or the shards model.safetensors.index.json lists. */
function weightFiles(dir: string): string[] {
  if (existsSync(join(dir, 'model.safetensors'))) return ['model.safetensors'];
  const index = join(dir, 'model.safetensors.index.json');
  if (!existsSync(index)) throw new Error(`${dir}: no model.safetensors and no model.safetensors.index.json`);
  const map = (readJson(index) as { weight_map?: Record<string, string> }).weight_map;
  if (!map || typeof map !== 'object') throw new Error(`${index}: field "weight_map" must be an object {tensor: shard file}`);
  return [...new Set(Object.values(map))].sort();
}

function sentenceTransformers(dir: string): ModelFolderInfo['sentenceTransformers'] {
  const st = readSentenceTransformers(dir);
  if (!st) return null;
  const modules = (readJson(join(dir, 'modules.json')) as { type: string }[]).map((m) => m.type.split('.').at(-1)!);
  const pooling = st.pooling.modes.map((m) => (st.pooling.includePrompt ? m : `${m} (prompt excluded)`));
  return { modules, pooling, prompts: Object.keys(st.prompts), defaultPrompt: st.defaultPromptName, similarity: st.similarity };
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}
